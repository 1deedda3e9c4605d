"""trialwatch: watch clinical-trial registry records change.

The command line, and only that: each command resolves its inputs, calls `trialwatch.ingest`
(registry input → records) or `trialwatch.snapshots` (records → SQLite, changes, reports) and
prints the result.
"""

from __future__ import annotations

import functools
import io
import re
import sqlite3
import sys
from contextlib import contextmanager, nullcontext

import click

from trialwatch import __version__
from trialwatch.ingest.errors import InputError
from trialwatch.snapshots.changes.diff import CATEGORIES, SEVERITIES
from trialwatch.snapshots.findings.definitions import NAMES as FINDING_NAMES

FORMAT_CHOICES = ("text", "json", "csv", "markdown")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def one_line(text: str) -> str:
    """Text made one line: line breaks and other control characters escaped, so a file name or a
    server's answer can never forge a second line of what trialwatch says."""
    return "".join(f"\\x{ord(c):02x}" if c == "\x7f" else repr(c)[1:-1] if ord(c) < 32 else c for c in str(text))


class BadInput(click.ClickException):
    """Bad usage or input: one line on stderr, exit code 2."""

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(one_line(message))


class WorkFailed(click.ClickException):
    """Some of the work failed (the rest was done): exit code 1."""

    exit_code = 1

    def __init__(self, message: str):
        super().__init__(one_line(message))


def _usage_line(error: click.UsageError) -> BadInput:
    """Click's usage error (usage, hint, blank line, error) as one line on stderr."""
    where = error.ctx.command_path if error.ctx else "trialwatch"
    return BadInput(f"{' '.join(error.format_message().split()).rstrip('.')} (see '{where} --help')")


def _closed_pipe() -> click.exceptions.Exit:
    """Output into a closed pipe (`trialwatch changes | head -1`): the reader has what it
    wanted, so exit 0 quietly; what is still buffered goes nowhere."""
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass  # stdout is not a file (tests capture it)
    return click.exceptions.Exit(0)


class Group(click.Group):
    """Turns the errors a user can cause into one clean line, never a traceback."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except BrokenPipeError:
            raise _closed_pipe() from None
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as error:
            raise _usage_line(error) from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise _closed_pipe() from None
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


class FromEnv(click.Option):
    """An option whose bad value came from its environment variable is blamed on the variable."""

    def process_value(self, ctx, value):
        try:
            return super().process_value(ctx, value)
        except click.BadParameter as error:
            source = ctx.get_parameter_source(self.name) if self.name else None
            if source == click.core.ParameterSource.ENVIRONMENT and self.envvar:
                message = error.format_message().split(": ", 1)[-1].rstrip(".")
                raise BadInput(f"{self.envvar}: {message}") from None
            raise


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


def open_store(ctx, create=False, read_only=False):
    """The database; `read_only` for commands that only read (they work on read-only media)."""
    from trialwatch.snapshots.store.store import Store, StoreError

    if not ctx.obj["db"].strip():  # SQLite would open a temporary database that vanishes
        raise BadInput("--db: an empty name (an unset TRIALWATCH_DB?); name the database file")
    try:
        store = Store(ctx.obj["db"], create=create, read_only=read_only)
    except StoreError as error:
        raise (BadInput if error.bad_input else WorkFailed)(str(error)) from None
    # Closed when the command ends: the last connection to close folds the WAL into the file and
    # removes it, so the file alone holds everything (a copy of it is whole).
    ctx.call_on_close(store.close)
    return store


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


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def echo_err(message):
    click.echo(one_line(message), err=True)


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
    cls=FromEnv,
    envvar="TRIALWATCH_RATE",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Politeness: at most this many requests a second (env TRIALWATCH_RATE).",
    callback=lambda ctx, param, value: _a_number(value, ctx, param),
)
@click.option(
    "--retry-wait",
    cls=FromEnv,
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
    check. The trials' findings are refreshed, except after a bulk import (a zip): there
    `trialwatch findings --refresh` does it, about 1 ms a trial. Exit 1 when some trials
    failed (the others are stored), 2 for bad usage.

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
            findings=not work.bulk,
        )
    echo_err(summary(counts))
    if work.bulk:
        echo_err("findings not evaluated for a bulk import: `trialwatch findings --refresh` stores them")
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
    from trialwatch.snapshots.reports.render import no_changes, render_changes

    since_utc = instant(since, since=True) if since is not None else None
    store = open_store(ctx, read_only=True)
    known_trial(store, nct_id)
    changes = store.changes([nct_id], since=since_utc, categories=categories)
    titles = store.reading.titles([nct_id])
    if not changes and fmt in ("text", "markdown"):
        filtered = bool(since_utc or categories) and bool(store.changes([nct_id]))
        click.echo(no_changes(nct_id, titles.get(nct_id), store.history(nct_id), filtered), nl=False)
        return
    click.echo(render_changes(changes, fmt, titles), nl=False)


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

    store = open_store(ctx, read_only=True)
    known_trial(store, nct_id)
    title = store.reading.titles([nct_id]).get(nct_id)
    click.echo(render_history(store.history(nct_id), fmt, nct_id, title), nl=False)


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
    store = open_store(ctx, read_only=True)
    known_trial(store, nct_id)
    record = store.record_at(nct_id, at_utc)
    if record is None:
        raise BadInput(f"{nct_id}: no snapshot at or before {at_utc}")
    click.echo(render_record(record, fmt), nl=False)


def _picture_paths(output: str | None, ids: list[str]) -> list[tuple[str, str, str]]:
    """(id, path, format) for each trial: `-o` names the file (its suffix the format); with
    several trials each file gets the trial's id before the suffix; default NCT….svg here."""
    import os

    from trialwatch.snapshots.reports.picture import FORMATS

    if output == "-":
        if len(ids) > 1:
            raise BadInput("-o - writes one picture to stdout: give one NCT id")
        return [(ids[0], "-", "svg")]
    stem, suffix = os.path.splitext(output) if output else ("", ".svg")
    fmt = {".htm": "html"}.get(suffix.lower(), suffix.lower().lstrip("."))
    if fmt not in FORMATS:
        raise BadInput(f"{output}: write the picture to a .svg, .png or .html file")
    if not output:
        return [(nct_id, f"{nct_id}.svg", "svg") for nct_id in ids]
    return [(nct_id, output if len(ids) == 1 else f"{stem}-{nct_id}{suffix}", fmt) for nct_id in ids]


@cli.command()
@click.argument("nct_ids", nargs=-1, required=True, metavar="NCT_ID...")
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    help="Where to write: FILE.svg, FILE.png or FILE.html (the picture and a link to the registry); "
    "- for SVG on stdout. Default NCT….svg here; several trials get their id before the suffix.",
)
@click.pass_context
def timeline(ctx, nct_ids, output):
    """A picture of each trial's history: status periods, planned dates, enrollment, changes.

    Time runs left to right. Status shows as coloured periods; each planned date (start,
    primary completion, completion) as it was believed at each snapshot, estimated dashed and
    actual solid, so a slipping date climbs like a staircase; enrollment below; then a marker
    at each snapshot with changes, coloured by the gravest (critical red, notable orange,
    minor grey). Drawn offline with matplotlib.

    Example:

        trialwatch timeline NCT06731192 -o NCT06731192.svg
    """
    from trialwatch.ingest.ids import normalize_nct_id
    from trialwatch.snapshots.reports.picture import render_timeline

    ids = list(dict.fromkeys(normalize_nct_id(n) for n in nct_ids))
    targets = _picture_paths(output, ids)
    store = open_store(ctx, read_only=True)
    for nct_id in ids:
        known_trial(store, nct_id)
    for nct_id, path, fmt in targets:
        data = render_timeline(store.reading, nct_id, fmt)
        if path == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
            continue
        with open(path, "wb") as out:
            out.write(data)
        echo_err(f"{nct_id}: timeline written to {path}")


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

    \b
        trialwatch watch add NCT06731192 NCT04267848 --note "competitors" --backfill
        trialwatch watch add --search 'query.cond=Alport syndrome&filter.overallStatus=RECRUITING' --name alport
    """
    from trialwatch.ingest.ids import normalize_nct_id
    from trialwatch.ingest.registry import HistorySource, parse_search
    from trialwatch.snapshots.jobs.watch import watch_trials
    from trialwatch.snapshots.store.watchlist import WatchError

    if nct_ids and query is not None:
        raise BadInput("give NCT ids or --search, not both")
    if not nct_ids and query is None:
        raise BadInput("give NCT ids to watch, or --search with a ClinicalTrials.gov search")
    ids = [normalize_nct_id(n) for n in nct_ids]
    if query is not None:
        parse_search(query)
    history = HistorySource(open_registry(ctx)) if backfill else None  # a bad --ctgov-url is exit 2 first
    store = open_store(ctx, create=True)
    try:
        if query is not None:
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
        echo_err(f"history: {_count(fetched, 'version')} fetched for {_count(len(done.backfills), 'trial')}")
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

    if nct_ids and name is not None:
        raise BadInput("give NCT ids or --search NAME, not both")
    if not nct_ids and name is None:
        raise BadInput("give the NCT ids to stop watching, or --search NAME")
    ids = list(dict.fromkeys(normalize_nct_id(n) for n in nct_ids))
    store = open_store(ctx)
    try:
        store.watchlist.remove_search(name) if name is not None else store.watchlist.remove(ids)
    except WatchError as error:
        raise BadInput(str(error)) from None
    if name is not None:
        echo_err(f"saved search {name!r} removed; the trials it brought stay watched")
    else:
        echo_err(f"{_count(len(ids), 'trial')} no longer watched ({', '.join(ids)}); their snapshots stay")


@watch.command("list")
@format_option(("text", "json", "csv"))
@click.pass_context
def watch_list(ctx, fmt):
    """The watched trials (with current title and status) and the saved searches.

    Example:

        trialwatch watch list --format csv
    """
    from trialwatch.snapshots.reports.render import render_watchlist

    store = open_store(ctx, read_only=True)
    click.echo(render_watchlist(store.watchlist.trials(), store.watchlist.searches(), fmt), nl=False)


@cli.command()
@click.option("--force", is_flag=True, help="Refresh even when the registry's data have not moved.")
@format_option(("text", "markdown", "json"))
@click.option("--quiet", is_flag=True, help="Print nothing; the database still holds it all.")
@click.pass_context
def run(ctx, force, fmt, quiet):
    """Refresh every watched trial and saved search; print what changed (nothing if nothing did).

    Made for cron: silent when there is no news, exit 0 when every trial was checked, 1 when
    some failed (the rest stored) or the database file is damaged (checked before anything is
    written: every run up to 1 GiB, larger files weekly), 2 for bad usage, 75 when another run
    holds the database.

    Example:

        trialwatch run --format markdown
    """
    from trialwatch.ingest.registry import HistorySource, RegistrySource
    from trialwatch.snapshots.jobs.run import DatabaseDamaged, RunLocked
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
    except DatabaseDamaged as error:
        echo_err(f"Error: {error}")
        ctx.exit(1)
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
    store = open_store(ctx, read_only=True)
    found = store.changes(ids or None, since=since_utc, categories=categories, severities=severities, newest_first=True)
    titles = store.reading.titles({change["nct_id"] for change in found})
    click.echo(render_changes(found, fmt, titles), nl=False)


@cli.command()
@click.option(
    "--severity", "severities", multiple=True, type=click.Choice(SEVERITIES), help="Only these severities (repeatable)."
)
@click.option("--search", "search", metavar="NAME", help="The trials this saved search brought, not the watchlist.")
@click.option("--nct", "nct_ids", multiple=True, metavar="NCT_ID", help="These trials, not the watchlist (repeatable).")
@click.option("--all", "every_trial", is_flag=True, help="Every trial in the database, not the watchlist.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1), help="The newest changes at most.")
@click.option("-o", "--output", metavar="FILE", help="Write the feed here (default: stdout).")
@click.pass_context
def feed(ctx, severities, search, nct_ids, every_trial, limit, output):
    """An Atom feed of changes, newest first: of the watched trials, or of a saved search's or these.

    One entry per change, its id the change's identity, so a feed reader shows a change once
    however often the feed is rewritten. Serve the file, or subscribe to the feed Datasette
    serves (`trialwatch serve`: each trial's page links to its own).

    Example:

        trialwatch feed --severity critical -o critical.atom
    """
    from trialwatch.ingest.ids import normalize_nct_id
    from trialwatch.snapshots.reports.feed import Selection, render_feed
    from trialwatch.snapshots.store.reading import UnknownSelection

    if sum(map(bool, (search is not None, nct_ids, every_trial))) > 1:
        raise BadInput("give one of --search, --nct and --all (or none: the watchlist)")
    ids = list(dict.fromkeys(normalize_nct_id(n) for n in nct_ids))
    store = open_store(ctx, read_only=True)
    for nct_id in ids:
        known_trial(store, nct_id)
    selection = Selection(list(severities), search, ids, every_trial)
    try:
        data = render_feed(store.reading, selection, limit=limit)
    except UnknownSelection as error:
        raise BadInput(str(error)) from None
    if not output:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    with open(output, "wb") as out:
        out.write(data)
    echo_err(f"{data.count(b'<entry>')} changes written to {output}")


def _findings_help() -> str:
    """`findings --help`: what it does, then each finding's one-line definition and its source."""
    from trialwatch.snapshots.findings.definitions import DEFINITIONS

    intro = (
        "The standard findings of the meta-research literature, from each trial's whole timeline "
        "(its snapshots and backfilled registry versions).\n\n"
        "By default the findings that hold, for these trials or every trial in the database; --all "
        "shows every rule with its value (holds: yes, no or unknown). Each row says the snapshots it "
        "rests on and how far the history goes: a finding from a partial history (one that does not "
        "reach registration) is marked partial. --as-of evaluates a past (or future) day from the "
        "snapshots observed up to it. Reading writes nothing; --refresh stores today's findings in the "
        "findings table first (jobs that change timelines, and each run, keep it current; after an "
        "upgrade, run it once). Exit 2 for an unknown trial or bad usage.\n\n"
    )
    definitions = "\n\n".join(f"{d.name}: {d.definition} Source: {d.source}" for d in DEFINITIONS)
    example = "\n\nExample:\n\n    trialwatch findings NCT03690141 --all --format markdown"
    return intro + definitions + example


@cli.command(help=_findings_help())
@click.argument("nct_ids", nargs=-1, metavar="[NCT_ID]...")
@click.option(
    "--finding",
    "names",
    multiple=True,
    type=click.Choice(FINDING_NAMES),
    help="Only these findings (repeatable).",
)
@click.option("--all", "show_all", is_flag=True, help="Every rule with its value, not only the findings that hold.")
@click.option(
    "--refresh",
    is_flag=True,
    help="First store today's findings of these trials (or all) in the findings table, for Datasette.",
)
@click.option(
    "--as-of", help="Evaluate as of this day (YYYY-MM-DD), from the snapshots observed up to it; default today."
)
@click.option(
    "--shortfall-below",
    type=click.FloatRange(min=0, min_open=True, max=1000),
    default=80.0,
    show_default=True,
    help="enrollment_vs_first_estimate holds below this percent of the first estimate.",
    callback=lambda ctx, param, value: _a_number(value, ctx, param),
)
@format_option()
@click.pass_context
def findings(ctx, nct_ids, names, show_all, refresh, as_of, shortfall_below, fmt):
    from datetime import date

    from trialwatch.ingest.ids import normalize_nct_id
    from trialwatch.snapshots.jobs.findings import refresh as refresh_findings
    from trialwatch.snapshots.jobs.findings import trial_findings
    from trialwatch.snapshots.reports.findings import render_findings

    ids = list(dict.fromkeys(normalize_nct_id(n) for n in nct_ids))
    day, until = None, None
    if as_of is not None:
        if not _DATE_ONLY.match(as_of.strip()):
            raise BadInput(f"--as-of {as_of!r}: give a day, YYYY-MM-DD")
        until = instant(as_of, end_of_day=True)
        day = date.fromisoformat(as_of.strip())
    store = open_store(ctx, read_only=not refresh)
    for nct_id in ids:
        known_trial(store, nct_id)
    if refresh:
        echo_err(f"{refresh_findings(store, ids or None)} trials' findings stored")
    with progress_counter("Evaluating") as tick:
        found = trial_findings(
            store, ids or store.trial_ids(), on=day, until=until, shortfall_below=shortfall_below, progress=tick
        )
    shown = [f for f in found if (show_all or f["holds"]) and (not names or f["finding"] in names)]
    click.echo(render_findings(shown, fmt), nl=False)


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

    Needs Datasette (from the checkout: pip install '.[datasette]'). Ingesting while it runs
    is fine. Each trial's page shows its timeline picture and links to its feed.

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
    store = open_store(ctx, read_only=True)  # brings an older database to the current schema (views, search)
    immutable = store.read_only  # read-only media: Datasette opens it immutable
    store.close()
    try:
        datasette.check_port(host, port)
    except datasette.PortBusy as error:
        raise BadInput(str(error)) from None
    ctx.exit(datasette.serve(ctx.obj["db"], host, port, immutable=immutable))


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
        f"{_count(result.trials, 'trial')}, {_count(result.snapshots, 'snapshot')} reparsed, {_count(result.records_changed, 'record')} changed, "
        f"{len(result.errors)} failed"
    )
    if result.errors:
        ctx.exit(1)


if __name__ == "__main__":  # pragma: no cover
    cli()
