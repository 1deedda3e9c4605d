"""trialwatch: watch clinical-trial registry records change.

The command line, and only that: each command resolves its inputs, calls `ingest` (registry
input → records) or `snapshots` (records → SQLite, changes, reports) and prints the result.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import sys

import click

from ingest.errors import InputError

try:
    from importlib.metadata import version as _version

    __version__ = _version("trialwatch")
except Exception:  # noqa: BLE001 - running from a checkout that was never installed
    __version__ = "0+unknown"

FORMAT_CHOICES = ("text", "json", "csv", "markdown")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class BadInput(click.ClickException):
    """Bad usage or input: one line on stderr, exit code 2."""

    exit_code = 2


class WorkFailed(click.ClickException):
    """Some of the work failed (the rest was done): exit code 1."""

    exit_code = 1


class Group(click.Group):
    """Turns the errors a user can cause into one clean line, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except InputError as error:
            raise BadInput(str(error)) from None
        except sqlite3.DatabaseError as error:
            raise WorkFailed(f"database {ctx.params.get('db')}: {error}") from None
        except OSError as error:
            raise WorkFailed(f"{error.filename or ''}: {error.strerror or error}".lstrip(": ")) from None


def format_option(choices=FORMAT_CHOICES):
    return click.option("--format", "fmt", type=click.Choice(choices), default="text", show_default=True,
                        help="Output format.")


def nct_argument(func):
    @click.argument("nct_id", metavar="NCT_ID")
    @functools.wraps(func)
    def wrapper(*args, nct_id, **kwargs):
        from ingest.ids import normalize_nct_id

        return func(*args, nct_id=normalize_nct_id(nct_id), **kwargs)

    return wrapper


def open_store(ctx, create=False):
    from snapshots.store import Store, StoreError

    try:
        return Store(ctx.obj["db"], create=create)
    except StoreError as error:
        raise BadInput(str(error)) from None


def known_trial(store, nct_id):
    if not store.has_trial(nct_id):
        raise BadInput(f"{nct_id}: not in {store.path} (ingest it first)")


def instant(value, *, end_of_day=False, since=False):
    from snapshots.dates import parse_instant, parse_since

    try:
        if end_of_day and _DATE_ONLY.match(value.strip()):
            value = value.strip() + "T23:59:59+00:00"
        return parse_since(value) if since else parse_instant(value)
    except ValueError as error:
        raise BadInput(str(error)) from None


def progress(items, length, label):
    """A progress bar on a terminal; the plain iterable under cron."""
    if not sys.stderr.isatty():
        return _nullcontext(items)
    return click.progressbar(items, length=length, label=label, file=sys.stderr)


class _nullcontext:
    def __init__(self, items):
        self.items = items

    def __enter__(self):
        return self.items

    def __exit__(self, *exc):
        return False


def echo_err(message):
    click.echo(message, err=True)


@click.group(cls=Group)
@click.version_option(__version__, prog_name="trialwatch")
@click.option("--db", envvar="TRIALWATCH_DB", default="trialwatch.db", show_default=True,
              type=click.Path(dir_okay=False), help="SQLite database (env TRIALWATCH_DB).")
@click.option("--ctgov-url", envvar="TRIALWATCH_CTGOV_URL", default="https://clinicaltrials.gov", show_default=True,
              help="ClinicalTrials.gov or a mirror (env TRIALWATCH_CTGOV_URL); API paths are appended.")
@click.option("--rate", envvar="TRIALWATCH_RATE", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True, help="Politeness: at most this many requests a second (env TRIALWATCH_RATE).")
@click.pass_context
def cli(ctx, db, ctgov_url, rate):
    """Watch clinical-trial registry records change.

    Stores dated snapshots of trial records in SQLite and reports what changed and when:
    status, dates and enrollment first, then every other field.
    """
    ctx.obj = {"db": db, "ctgov_url": ctgov_url, "rate": rate}


def open_registry(ctx):
    from ingest.http import Registry

    return Registry(ctx.obj["ctgov_url"], rate=ctx.obj["rate"], progress=echo_err if sys.stderr.isatty() else None)


@cli.command()
@click.argument("path", type=click.Path(dir_okay=False))
def parse(path):
    """Parse one saved page or API JSON file and print the record as JSON.

    Touches no database.

    Example:

        trialwatch parse seeds/NCT06731192.txt
    """
    from ingest.sources import parse_file
    from snapshots.report import to_json

    parsed = parse_file(path)
    for item in parsed:
        for warning in item.warnings:
            echo_err(f"{path}: warning: {warning}")
    records = [item.record for item in parsed]
    click.echo(to_json(records[0] if len(records) == 1 else records), nl=False)


@cli.command()
@click.argument("targets", nargs=-1, required=True)
@click.option("--observed-at", help="When saved inputs were observed (ISO 8601, UTC if no offset); default now.")
@click.pass_context
def ingest(ctx, targets, observed_at):
    """Store dated snapshots of trials: files, folders, NCT ids or page URLs.

    Files and folders (recursively) of saved pages and API JSON are read; NCT ids are fetched
    from ClinicalTrials.gov in batches; http(s) page URLs are fetched and parsed like saved
    pages. A snapshot is written only when a trial's record changed; every trial read is a
    check. Exit 1 when some trials failed (the others are stored), 2 for bad usage.

    Example:

        trialwatch ingest seeds/ NCT04267848 --observed-at 2025-01-15
    """
    from itertools import chain

    from ingest.sources import Failed, Inputs, fetch_pages, fetch_trials, split_targets

    observed = instant(observed_at) if observed_at else None
    nct_ids, urls, paths = split_targets(targets)
    inputs = Inputs(paths)
    registry = open_registry(ctx) if nct_ids or urls else None
    store = open_store(ctx, create=True)
    counts = {"new": 0, "changed": 0, "unchanged": 0, "failed": 0}
    work = chain(inputs, fetch_trials(registry, nct_ids) if nct_ids else (), fetch_pages(registry, urls) if urls else ())
    with progress(work, len(inputs) + len(nct_ids) + len(urls), "Ingesting") as bar:
        for item in bar:
            if isinstance(item, Failed):
                store.record_failure(item.nct_id, source_kind=item.source_kind, source_ref=item.source_ref,
                                     error=item.error)
                counts["failed"] += 1
                echo_err(f"failed: {item.error}")
                continue
            for warning in item.warnings:
                echo_err(f"{item.source_ref}: warning: {warning}")
            saved = store.save(item.record, observed_utc=None if item.fetched else observed, source_kind=item.source_kind,
                               source_ref=item.source_ref, raw=item.raw)
            counts[saved.outcome] += 1
    checked = sum(counts.values())
    echo_err(f"{checked} checked: {counts['new']} new, {counts['changed']} changed, "
             f"{counts['unchanged']} unchanged, {counts['failed']} failed")
    if counts["failed"]:
        ctx.exit(1)


@cli.command()
@nct_argument
@click.option("--since", help="Only changes observed since this date or duration (7d, 2025-01-01).")
@click.option("--category", "categories", multiple=True, help="Only these categories (repeatable).",
              type=click.Choice(["status", "dates", "enrollment", "design", "arms", "interventions", "eligibility",
                                 "outcomes", "sponsors", "contacts", "locations", "identifiers", "description",
                                 "results", "other"]))
@format_option()
@click.pass_context
def diff(ctx, nct_id, since, categories, fmt):
    """Every change of one trial over time, oldest first, grouped by snapshot.

    Within each snapshot: status, dates and enrollment first, then the rest.

    Example:

        trialwatch diff NCT06731192 --since 2025-01-01 --format markdown
    """
    from snapshots.report import render_changes

    since_utc = instant(since, since=True) if since else None
    store = open_store(ctx)
    known_trial(store, nct_id)
    changes = store.changes([nct_id], since=since_utc, categories=categories)
    click.echo(render_changes(changes, fmt), nl=False)


@cli.command()
@nct_argument
@format_option(("text", "json"))
@click.pass_context
def history(ctx, nct_id, fmt):
    """One entry per snapshot of a trial: when, registry date, source, status, enrollment, changes.

    Example:

        trialwatch history NCT06731192
    """
    from snapshots.report import render_history

    store = open_store(ctx)
    known_trial(store, nct_id)
    click.echo(render_history(store.history(nct_id), fmt), nl=False)


@cli.command()
@nct_argument
@click.option("--at", help="The record as it stood at this date or instant (a date means its end); default latest.")
@format_option(("text", "json"))
@click.pass_context
def show(ctx, nct_id, at, fmt):
    """A trial's record as it stood (`--format json` is the record as `parse` prints it).

    Example:

        trialwatch show NCT06731192 --at 2025-02-01 --format json
    """
    from snapshots.report import render_record

    at_utc = instant(at, end_of_day=True) if at else None
    store = open_store(ctx)
    known_trial(store, nct_id)
    record = store.record_at(nct_id, at_utc)
    if record is None:
        raise BadInput(f"{nct_id}: no snapshot at or before {at_utc}")
    click.echo(render_record(record, fmt), nl=False)


if __name__ == "__main__":  # pragma: no cover
    cli()
