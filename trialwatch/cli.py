"""trialwatch: watch clinical-trial registry records change.

The command line, and only that: each command resolves its inputs, calls `trialwatch.ingest`
(registry input → records) or `trialwatch.snapshots` (records → SQLite, changes, reports) and
prints the result.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import sys
from contextlib import contextmanager, nullcontext

import click

from trialwatch import __version__
from trialwatch.ingest.errors import InputError
from trialwatch.snapshots.changes.diff import CATEGORIES, SEVERITIES

FORMAT_CHOICES = ("text", "json", "csv", "markdown")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class BadInput(click.ClickException):
    """Bad usage or input: one line on stderr, exit code 2."""

    exit_code = 2


class WorkFailed(click.ClickException):
    """Some of the work failed (the rest was done): exit code 1."""

    exit_code = 1


def _usage_line(error: click.UsageError) -> BadInput:
    """Click's usage error (usage, hint, blank line, error) as one line on stderr."""
    where = error.ctx.command_path if error.ctx else "trialwatch"
    return BadInput(f"{' '.join(error.format_message().split()).rstrip('.')} (see '{where} --help')")


class Group(click.Group):
    """Turns the errors a user can cause into one clean line, never a traceback."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as error:
            raise _usage_line(error) from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as error:
            raise _usage_line(error) from None
        except InputError as error:
            raise BadInput(str(error)) from None
        except sqlite3.DatabaseError as error:
            raise WorkFailed(f"database {ctx.params.get('db')}: {error}") from None
        except OSError as error:
            raise WorkFailed(f"{error.filename or ''}: {error.strerror or error}".lstrip(": ")) from None


def _a_number(value, ctx, param):
    """FloatRange lets NaN through (it compares false to every bound); a NaN rate would mean no politeness."""
    if value != value:
        raise click.BadParameter(f"{value} is not a number", ctx=ctx, param=param)
    return value


def format_option(choices=FORMAT_CHOICES):
    return click.option(
        "--format", "fmt", type=click.Choice(choices), default="text", show_default=True, help="Output format."
    )


def nct_argument(func):
    @click.argument("nct_id", metavar="NCT_ID")
    @functools.wraps(func)
    def wrapper(*args, nct_id, **kwargs):
        from trialwatch.ingest.ids import normalize_nct_id

        return func(*args, nct_id=normalize_nct_id(nct_id), **kwargs)

    return wrapper


def open_store(ctx, create=False):
    from trialwatch.snapshots.store.store import Store, StoreError

    try:
        return Store(ctx.obj["db"], create=create)
    except StoreError as error:
        raise (BadInput if error.bad_input else WorkFailed)(str(error)) from None


def known_trial(store, nct_id):
    if not store.has_trial(nct_id):
        raise BadInput(f"{nct_id}: not in {store.path} (ingest it first)")


def instant(value, *, end_of_day=False, since=False, observed=False):
    from trialwatch.snapshots.changes.dates import not_in_the_future, parse_instant, parse_since

    try:
        if end_of_day and _DATE_ONLY.match(value.strip()):
            parse_instant(value)  # a day that does not exist (2025-02-30) is named as given
            value = value.strip() + "T23:59:59+00:00"
        if since:
            return parse_since(value)
        return not_in_the_future(parse_instant(value)) if observed else parse_instant(value)
    except ValueError as error:
        raise BadInput(str(error)) from None
    except OverflowError:  # 99999999d, or an offset that pushes 9999-12-31 past the calendar
        raise BadInput(f"{value!r} is outside the dates trialwatch can handle (years 1 to 9999)") from None


def progress(items, length, label):
    """A progress bar on a terminal; the plain iterable under cron."""
    if not sys.stderr.isatty():
        return nullcontext(items)
    return click.progressbar(items, length=length, label=label, file=sys.stderr)


@contextmanager
def progress_bar():
    """Bars for work told along the way, in phases: yields `update(phase, done, total)`; a new
    phase starts a new bar.  Nothing under cron."""
    if not sys.stderr.isatty():
        yield lambda phase, done, total: None
        return
    state: dict = {}

    def close():
        if "bar" in state:
            state.pop("bar").__exit__(None, None, None)

    def update(phase, done, total):
        if state.get("phase") != phase:
            close()
            state["phase"], state["bar"] = phase, click.progressbar(length=total, label=phase, file=sys.stderr)
            state["bar"].__enter__()
        state["bar"].update(done - state["bar"].pos)

    yield update
    close()


@contextmanager
def progress_counter(label):
    """A counter on a terminal for work of unknown length; a no-op under cron."""
    if not sys.stderr.isatty():
        yield lambda item=None: None
        return
    count = 0

    def tick(item=None):
        nonlocal count
        count += 1
        click.echo(f"\r{label}: {count}", err=True, nl=False)

    yield tick
    click.echo("", err=True)


def echo_err(message):
    click.echo(message, err=True)


@click.group(cls=Group)
@click.version_option(__version__, prog_name="trialwatch")
@click.option(
    "--db",
    envvar="TRIALWATCH_DB",
    default="trialwatch.db",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="SQLite database (env TRIALWATCH_DB).",
)
@click.option(
    "--ctgov-url",
    envvar="TRIALWATCH_CTGOV_URL",
    default="https://clinicaltrials.gov",
    show_default=True,
    help="ClinicalTrials.gov or a mirror (env TRIALWATCH_CTGOV_URL); API paths are appended.",
)
@click.option(
    "--rate",
    envvar="TRIALWATCH_RATE",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Politeness: at most this many requests a second (env TRIALWATCH_RATE).",
    callback=lambda ctx, param, value: _a_number(value, ctx, param),
)
@click.option(
    "--retry-wait",
    envvar="TRIALWATCH_RETRY_WAIT",
    type=click.FloatRange(min=0, max=60),
    default=1.0,
    show_default=True,
    callback=lambda ctx, param, value: _a_number(value, ctx, param),
    help="Seconds before the first retry of a failed request, doubled each try (env TRIALWATCH_RETRY_WAIT).",
)
@click.pass_context
def cli(ctx, db, ctgov_url, rate, retry_wait):
    """Watch clinical-trial registry records change.

    Stores dated snapshots of trial records in SQLite and reports what changed and when:
    status, dates and enrollment first, then every other field.
    """
    ctx.obj = {"db": db, "ctgov_url": ctgov_url, "rate": rate, "retry_wait": retry_wait}


def open_registry(ctx):
    from trialwatch.ingest.http import Registry

    return Registry(
        ctx.obj["ctgov_url"],
        rate=ctx.obj["rate"],
        backoff=ctx.obj["retry_wait"],
        progress=echo_err if sys.stderr.isatty() else None,
    )


@cli.command()
@click.argument("path", type=click.Path(dir_okay=False))
def parse(path):
    """Parse one saved page or API JSON file and print the record as JSON.

    Touches no database.

    Example:

        trialwatch parse seeds/NCT06731192.txt
    """
    from trialwatch.ingest.parse import parse_file
    from trialwatch.snapshots.reports.render import to_json

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
    from trialwatch.ingest.targets import Targets
    from trialwatch.snapshots.jobs.ingesting import ingest as ingest_items
    from trialwatch.snapshots.jobs.ingesting import summary
    from trialwatch.snapshots.store.outcomes import FAILED

    observed = instant(observed_at, observed=True) if observed_at is not None else None
    work = Targets(targets, lambda: open_registry(ctx))
    store = open_store(ctx, create=True)
    work.pack_only_new(store.trial_numbers())  # the bulk reader compresses only trials new to the database
    with progress(work, len(work), "Ingesting") as bar:
        counts = ingest_items(
            store,
            bar,
            observed_utc=observed,
            on_failed=lambda item: echo_err(f"failed: {item.error}"),
            on_warning=lambda item, warning: echo_err(f"{item.source_ref}: warning: {warning}"),
        )
    echo_err(summary(counts))
    if counts[FAILED]:
        ctx.exit(1)


@cli.command()
@nct_argument
@click.option("--since", help="Only changes observed since this date or duration (7d, 2025-01-01).")
@click.option(
    "--category", "categories", multiple=True, help="Only these categories (repeatable).", type=click.Choice(CATEGORIES)
)
@format_option()
@click.pass_context
def diff(ctx, nct_id, since, categories, fmt):
    """Every change of one trial over time, oldest first, grouped by snapshot.

    Within each snapshot: status, dates and enrollment first, then the rest.

    Example:

        trialwatch diff NCT06731192 --since 2025-01-01 --format markdown
    """
    from trialwatch.snapshots.reports.render import render_changes

    since_utc = instant(since, since=True) if since is not None else None
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
    from trialwatch.snapshots.reports.render import render_history

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
    from trialwatch.snapshots.reports.render import render_record

    at_utc = instant(at, end_of_day=True) if at is not None else None
    store = open_store(ctx)
    known_trial(store, nct_id)
    record = store.record_at(nct_id, at_utc)
    if record is None:
        raise BadInput(f"{nct_id}: no snapshot at or before {at_utc}")
    click.echo(render_record(record, fmt), nl=False)


@cli.command()
@click.argument("nct_ids", nargs=-1, required=True, metavar="NCT_ID...")
@click.option(
    "--modules",
    help="Only the first and last versions and those that changed these sections, "
    'comma-separated, any case ("Study Status,Outcome Measures").',
)
@click.pass_context
def backfill(ctx, nct_ids, modules):
    """Store a trial's earlier versions from the registry's history, each dated by the registry.

    Every version ClinicalTrials.gov lists since registration becomes an observation on its
    registry date, on the same timeline as the tool's own snapshots: a snapshot only where the
    record changed, changes as between any two snapshots. Run again, it fetches only the
    versions it lacks. Exit 1 when some trials or versions failed (the rest is stored), 2 for
    bad usage.

    Example:

        trialwatch backfill NCT05147467 --modules "Study Status,Outcome Measures"
    """
    from trialwatch.ingest.ids import normalize_nct_id
    from trialwatch.ingest.registry import HistorySource
    from trialwatch.snapshots.jobs.backfill import backfill_many, parse_modules, summary, unmatched_modules

    ids = list(dict.fromkeys(normalize_nct_id(nct_id) for nct_id in nct_ids))
    names = parse_modules(modules)
    source = HistorySource(open_registry(ctx))
    store = open_store(ctx, create=True)
    with progress_bar() as bar:
        results = backfill_many(store, source, ids, names, progress=bar)
    for warning in unmatched_modules(results, names):
        echo_err(f"warning: {warning}")
    for result in results:
        for _, message in result.failed:
            echo_err(f"failed: {message}")
    echo_err(summary(results))
    if any(result.failed for result in results):
        ctx.exit(1)


@cli.group()
def watch():
    """The watchlist: trials and saved searches that `trialwatch run` refreshes.

    Example:

        trialwatch watch add NCT06731192 --note "Alport, hUC-MSC"
    """


@watch.command("add")
@click.argument("nct_ids", nargs=-1)
@click.option("--note", help="A note kept with the trials.")
@click.option("--search", "query", help="Save a search instead, in ClinicalTrials.gov API parameters.")
@click.option("--name", help="The saved search's name (default: its query).")
@click.option(
    "--backfill",
    is_flag=True,
    help="Also store the trials' registry history (for a search: of each new match, at each run).",
)
@click.pass_context
def watch_add(ctx, nct_ids, note, query, name, backfill):
    """Watch trials, or save a search whose matches are watched.

    With --backfill, trials get their whole registry history now (a search's new matches at
    each run). Exit 1 when some backfill failed (the trials stay watched and the next run
    tries again).

    Example:

        trialwatch watch add NCT06731192 NCT04267848 --note "competitors" --backfill
        trialwatch watch add --search 'query.cond=Alport syndrome&filter.overallStatus=RECRUITING' --name alport
    """
    from trialwatch.ingest.ids import normalize_nct_id
    from trialwatch.ingest.registry import HistorySource, parse_search
    from trialwatch.snapshots.jobs.watch import watch_trials
    from trialwatch.snapshots.store.watchlist import WatchError

    if bool(nct_ids) == bool(query):
        raise BadInput("give NCT ids or --search, not both and not neither")
    ids = [normalize_nct_id(n) for n in nct_ids]
    if query:
        parse_search(query)
    history = HistorySource(open_registry(ctx)) if backfill else None  # a bad --ctgov-url is exit 2 first
    store = open_store(ctx, create=True)
    try:
        if query:
            store.watchlist.add_search(query.strip(), name, backfill=backfill)
            echo_err(f"saved search {name or query.strip()!r}: its matches join the watchlist at the next run")
            return
    except WatchError as error:
        raise BadInput(str(error)) from None
    with progress_bar() as bar:
        done = watch_trials(store, ids, note=note, backfill=backfill, history=history, progress=bar)
    echo_err(f"{len(done.added)} added, {len(done.already)} already watched")
    for message in done.failures:
        echo_err(f"failed: {message}")
    if backfill:
        fetched = sum(len(result.fetched) for result in done.backfills)
        echo_err(f"history: {fetched} versions fetched for {len(done.backfills)} trials")
    if done.failures:
        ctx.exit(1)


@watch.command("remove")
@click.argument("nct_ids", nargs=-1)
@click.option("--search", "name", help="Remove this saved search instead (its trials stay watched).")
@click.pass_context
def watch_remove(ctx, nct_ids, name):
    """Stop watching trials (their snapshots stay), or remove a saved search.

    Example:

        trialwatch watch remove NCT06731192
    """
    from trialwatch.ingest.ids import normalize_nct_id
    from trialwatch.snapshots.store.watchlist import WatchError

    if bool(nct_ids) == bool(name):
        raise BadInput("give NCT ids or --search NAME, not both and not neither")
    ids = [normalize_nct_id(n) for n in nct_ids]
    store = open_store(ctx)
    try:
        store.watchlist.remove_search(name) if name else store.watchlist.remove(ids)
    except WatchError as error:
        raise BadInput(str(error)) from None


@watch.command("list")
@format_option(("text", "json", "csv"))
@click.pass_context
def watch_list(ctx, fmt):
    """The watched trials (with current title and status) and the saved searches.

    Example:

        trialwatch watch list --format csv
    """
    from trialwatch.snapshots.reports.render import render_watchlist

    store = open_store(ctx)
    click.echo(render_watchlist(store.watchlist.trials(), store.watchlist.searches(), fmt), nl=False)


@cli.command()
@click.option("--force", is_flag=True, help="Refresh even when the registry's data have not moved.")
@format_option(("text", "markdown", "json"))
@click.option("--quiet", is_flag=True, help="Print nothing; the database still holds it all.")
@click.pass_context
def run(ctx, force, fmt, quiet):
    """Refresh every watched trial and saved search; print what changed (nothing if nothing did).

    Made for cron: silent when there is no news, exit 0 when every trial was checked, 1 when
    some failed (the rest stored), 2 for bad usage, 75 when another run holds the database.

    Example:

        trialwatch run --format markdown
    """
    from trialwatch.ingest.registry import HistorySource, RegistrySource
    from trialwatch.snapshots.jobs.run import RunLocked
    from trialwatch.snapshots.jobs.run import run as run_watchlist
    from trialwatch.snapshots.reports.render import render_run

    registry = open_registry(ctx)  # a bad --ctgov-url is exit 2 before the database is created
    store = open_store(ctx, create=True)
    try:
        with progress_counter("Refreshing") as tick:
            report = run_watchlist(
                store, RegistrySource(registry), history=HistorySource(registry), force=force, progress=tick
            )
    except RunLocked as error:
        echo_err(f"Error: {error}")
        ctx.exit(75)
    if not quiet:
        click.echo(render_run(report, fmt), nl=False)
    ctx.exit(report.exit_status)


@cli.command()
@click.option("--since", help="Only changes observed since this date or duration (7d, 2025-01-01).")
@click.option(
    "--category", "categories", multiple=True, type=click.Choice(CATEGORIES), help="Only these categories (repeatable)."
)
@click.option(
    "--severity", "severities", multiple=True, type=click.Choice(SEVERITIES), help="Only these severities (repeatable)."
)
@click.option("--nct", "nct_ids", multiple=True, help="Only these trials (repeatable).")
@format_option()
@click.pass_context
def changes(ctx, since, categories, severities, nct_ids, fmt):
    """Every change across the trials in the database, newest first.

    Example:

        trialwatch changes --since 7d --severity critical --severity notable
    """
    from trialwatch.ingest.ids import normalize_nct_id
    from trialwatch.snapshots.reports.render import render_changes

    ids = [normalize_nct_id(n) for n in nct_ids]
    since_utc = instant(since, since=True) if since is not None else None
    store = open_store(ctx)
    found = store.changes(ids or None, since=since_utc, categories=categories, severities=severities, newest_first=True)
    click.echo(render_changes(found, fmt), nl=False)


@cli.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; 0.0.0.0 serves every network the machine is on.",
)
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option(
    "--metadata-path",
    is_flag=True,
    help="Print the path of trialwatch's Datasette metadata file (for plain `datasette`) and exit.",
)
@click.pass_context
def serve(ctx, host, port, metadata_path):
    """Browse the database in Datasette, read-only: tables, views, search, canned queries.

    Needs Datasette (pip install 'trialwatch[datasette]'). Ingesting while it runs is fine.

    Example:

        trialwatch --db trialwatch.db serve --port 8001
    """
    from trialwatch.snapshots.datasette import serve as datasette

    if metadata_path:
        click.echo(datasette.metadata_path())
        return
    if not datasette.available():
        echo_err(datasette.MISSING)
        ctx.exit(2)
    open_store(ctx).close()  # brings an older database to the current schema (views, search)
    ctx.exit(datasette.serve(ctx.obj["db"], host, port))


@cli.command()
@click.argument("nct_ids", nargs=-1)
@click.pass_context
def reparse(ctx, nct_ids):
    """Rebuild stored records from their raw inputs with today's parser (all trials, or these).

    After an upgrade that taught the parser a new field, this keeps the next snapshot from
    showing it as a burst of "added" changes. Change rows are recomputed. Exit 1 when some
    stored inputs could not be parsed (their records are kept as they were).

    Example:

        trialwatch reparse
    """
    from trialwatch.ingest.ids import normalize_nct_id
    from trialwatch.ingest.parse import reparse_input
    from trialwatch.snapshots.jobs.reparse import reparse as reparse_records

    ids = [normalize_nct_id(n) for n in nct_ids] or None
    store = open_store(ctx)
    for nct_id in ids or ():
        known_trial(store, nct_id)
    with progress_counter("Reparsing") as tick:
        result = reparse_records(store, reparse_input, ids, progress=tick)
    for error in result.errors:
        echo_err(f"failed: {error}")
    echo_err(
        f"{result.trials} trials, {result.snapshots} snapshots reparsed, {result.records_changed} records changed, "
        f"{len(result.errors)} failed"
    )
    if result.errors:
        ctx.exit(1)


if __name__ == "__main__":  # pragma: no cover
    cli()
