"""Reports: changes, histories and records as text, JSON, CSV or Markdown.  One renderer per format."""

from __future__ import annotations

import csv
import io
import json
from itertools import groupby

from tabulate import tabulate

from trialwatch.snapshots.changes.diff import CHANGE_KEYS
from trialwatch.snapshots.changes.known import covers
from trialwatch.snapshots.reports.words import as_markdown, as_text, details, labelled, short_title, trial_name

FORMATS = ("text", "json", "csv", "markdown")


def to_json(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def table(rows: list[dict], columns: list[str], fmt: str) -> str:
    """Rows as a plain-text table, CSV, Markdown table or JSON array."""
    if fmt == "json":
        return to_json([{c: row.get(c) for c in columns} for row in rows])
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])
        return out.getvalue()
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    if fmt == "markdown":
        cells = [[cell.replace("|", "\\|").replace("\n", " ") for cell in row] for row in cells]
        return tabulate(cells, headers=columns, tablefmt="github", disable_numparse=True) + "\n"
    return tabulate(cells, headers=columns, tablefmt="plain", disable_numparse=True) + "\n"


def _groups(changes: list[dict]):
    return groupby(changes, key=lambda c: (c["nct_id"], c["observed_at"]))


def detail_lines(change: dict, markdown: bool, indent: str) -> list[str]:
    """A change of text shown old → new under its summary: `[-old-]{+new+}` in text,
    ~~old~~ **new** in Markdown."""
    shown = as_markdown if markdown else as_text
    return [f"{indent}{labelled(detail, shown(detail.segments))}" for detail in details(change)]


def change_json(change: dict, titles: dict | None) -> dict:
    """A change as JSON: the keys of diff.CHANGE_KEYS, with the trial's title after its id."""
    out = {k: change.get(k) for k in ("snapshot_id", *CHANGE_KEYS) if k in change}
    if titles is not None:
        out = {
            **{k: out[k] for k in ("snapshot_id", "nct_id") if k in out},
            "title": titles.get(change["nct_id"]),
            **out,
        }
    return out


def render_changes(changes: list[dict], fmt: str, titles: dict | None = None) -> str:
    """Changes grouped by trial and snapshot, in the order given (callers sort); each trial named
    by id and short title (`titles`: id → title), changed texts shown old → new."""
    if fmt == "json":
        return to_json([change_json(c, titles) for c in changes])
    if fmt == "csv":
        columns = list(CHANGE_KEYS)
        if titles is not None:
            columns.append("title")  # last: the columns before it keep their places
            changes = [{**c, "title": titles.get(c["nct_id"])} for c in changes]
        return table(changes, columns, "csv")
    lines = []
    for (nct_id, observed_at), group in _groups(changes):
        group = list(group)
        heading = f"{trial_name(nct_id, titles)} · {observed_at} · {len(group)} change{'s' if len(group) != 1 else ''}"
        if fmt == "markdown":
            lines.append(f"### {heading}\n")
            for c in group:
                lines.append(f"- **{c['severity']}** · {c['category']} · {c['summary']}")
                lines += detail_lines(c, True, "  - ")
        else:
            lines.append(heading)
            for c in group:
                lines.append(f"  {c['severity']:<8}  {c['category']:<13} {c['summary']}")
                lines += detail_lines(c, False, " " * 26)
        lines.append("")
    return "\n".join(lines)


HISTORY_COLUMNS = ["observed_at", "last_updated", "source", "status", "enrollment", "changes"]


def render_history(entries: list[dict], fmt: str, nct_id: str | None = None, title: str | None = None) -> str:
    """One row per snapshot; in text, under a line naming the trial by id and title."""
    if fmt == "json":
        return to_json(entries)
    rows = []
    for entry in entries:
        enrollment = entry.get("enrollment")
        source = entry["source_kind"] + (
            f" v{entry['source_version']}" if entry.get("source_version") is not None else ""
        )
        if entry.get("source_ref"):
            source += f" ({entry['source_ref']})"
        rows.append(
            {
                "observed_at": entry["observed_at"],
                "last_updated": entry.get("last_updated"),
                "source": source,
                "status": entry.get("status"),
                "enrollment": (
                    f"{enrollment.get('count')}" + (f" {enrollment['type'].lower()}" if enrollment.get("type") else "")
                )
                if enrollment
                else None,
                "changes": entry.get("change_count"),
            }
        )
    heading = ""
    if nct_id and fmt == "text":
        heading = f"{nct_id}  {' '.join((title or '').split())}".rstrip() + "\n\n"
    return heading + table(rows, HISTORY_COLUMNS, fmt)


def no_changes(nct_id: str, title: str | None, entries: list[dict], filtered: bool) -> str:
    """What `diff` says when it has no change to show: how many snapshots since when, so a trial
    seen once reads as such rather than as an empty answer."""
    count = len(entries)
    since = entries[0]["observed_at"][:10] if entries else "?"
    seen = f"{count} snapshot{'s' if count != 1 else ''} since {since}"
    news = "no changes match" if filtered else "no changes yet"
    return f"{trial_name(nct_id, {nct_id: title} if title else None)}: {seen}; {news}\n"


def _dated(value) -> str | None:
    if not value:
        return None
    return value["date"] + (f" ({value['type'].lower()})" if value.get("type") else "")


def _key_orders() -> dict[str, list[str]]:
    """Each object's keys in the record model's order (ingest.record.FIELDS), by its path."""
    from trialwatch.ingest.record import FIELDS

    # Objects the model describes in words rather than by path: their keys as the parsers write them.
    orders: dict[str, list[str]] = {
        "lead_sponsor": ["name", "class"],
        "collaborators[]": ["name", "class"],
        "responsible_party": ["type", "investigator_name", "investigator_title", "investigator_affiliation"],
        "central_contacts[]": ["name", "role", "phone", "email"],
        "overall_officials[]": ["name", "affiliation", "role"],
        "other_ids[]": ["id", "type", "source", "domain"],
        "locations[]": ["facility", "city", "state", "country", "status"],
        "references[]": ["pmid", "type", "citation"],
        "enrollment": ["count", "type"],
        "outcomes": ["primary", "secondary", "other"],
        **{
            f"outcomes.{kind}[]": ["measure", "time_frame", "description"] for kind in ("primary", "secondary", "other")
        },
        **{path: ["date", "type"] for path in ("start_date", "primary_completion_date", "completion_date")},
    }
    for path, _, _ in FIELDS:
        parent, _, key = path.rpartition(".")
        orders.setdefault(parent, []).append(key)
    return orders


def in_model_order(value, path: str = "", orders: dict | None = None):
    """A record with its keys in the model's order, as `parse` prints it (stored records are
    canonical JSON, keys sorted); keys the model does not list keep their place after the others."""
    orders = _key_orders() if orders is None else orders
    if isinstance(value, list):
        return [in_model_order(item, f"{path}[]", orders) for item in value]
    if not isinstance(value, dict):
        return value
    known = [key for key in orders.get(path, []) if key in value]
    keys = known + [key for key in value if key not in known]
    return {key: in_model_order(value[key], f"{path}.{key}".lstrip("."), orders) for key in keys}


def render_record(record: dict, fmt: str) -> str:
    """`json` is the record exactly as `parse` prints it (same keys, same order); `text` a readable summary."""
    if fmt == "json":
        return to_json(in_model_order(record))
    unknown = set(record.get("unknown") or ())

    def shown(path, value):
        if covers(unknown, path):
            return "(not carried by any source so far)"
        return "" if value in (None, [], {}) else value

    enrollment = record.get("enrollment")
    lines = [
        f"{record['nct_id']}  {record.get('title') or ''}",
        "",
        f"Status:                  {shown('status', record.get('status'))}",
        f"Phases:                  {shown('phases', '/'.join(record.get('phases') or []))}",
        f"Study type:              {shown('study_type', record.get('study_type'))}",
        "Enrollment:              "
        + str(
            shown(
                "enrollment",
                enrollment
                and (
                    f"{enrollment.get('count')}"
                    + (f" ({enrollment['type'].lower()})" if enrollment.get("type") else "")
                ),
            )
        ),
        f"Start date:              {shown('start_date', _dated(record.get('start_date')))}",
        f"Primary completion date: {shown('primary_completion_date', _dated(record.get('primary_completion_date')))}",
        f"Completion date:         {shown('completion_date', _dated(record.get('completion_date')))}",
        f"Last updated:            {shown('last_updated', record.get('last_updated'))}",
        f"Results:                 {shown('has_results', 'posted' if record.get('has_results') else 'not posted')}",
        f"Conditions:              {shown('conditions', '; '.join(record.get('conditions') or []))}",
        f"Lead sponsor:            {shown('lead_sponsor', (record.get('lead_sponsor') or {}).get('name'))}",
        f"Arms:                    {shown('arms', '; '.join(a.get('label') or '' for a in record.get('arms') or []))}",
        f"Interventions:           {shown('interventions', '; '.join(i.get('name') or '' for i in record.get('interventions') or []))}",
        f"Locations:               {shown('locations', len(record.get('locations') or []))}",
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def render_watchlist(trials: list[dict], searches: list[dict], fmt: str) -> str:
    """The watched trials and the saved searches."""
    if fmt == "json":
        return to_json({"trials": trials, "searches": searches})
    if fmt == "csv":  # one table: a row per watched trial, then one per saved search (kind says which)
        rows = [{"kind": "trial", **trial} for trial in trials]
        rows += [{"kind": "search", "search": s["name"], "added_utc": s["added_utc"], **s} for s in searches]
        columns = ["kind", "nct_id", "title", "status", "note", "search", "query", "added_utc", "last_checked_utc"]
        return table(rows, [*columns, "last_run_utc", "last_match_count"], "csv")
    text = table(trials, ["nct_id", "status", "note", "search", "title"], "text")
    if searches:
        text += "\nSaved searches\n" + table(searches, ["name", "query", "last_run_utc", "last_match_count"], "text")
    return text


RUN_FIGURES = (
    "run_id",
    "started_utc",
    "finished_utc",
    "data_timestamp",
    "requests",
    "trials_checked",
    "snapshots_written",
    "warnings",
    "versions_backfilled",
)


def render_run(report, fmt: str) -> str:
    """What a run found: new trials, then changes by trial (gravest first), the registry
    histories it backfilled, then failures.

    Empty when there is no news, so cron mails only news.
    """
    from trialwatch.snapshots.jobs.run import news_order

    if not report.has_news:
        return ""
    changes = news_order(report.changes)
    if fmt == "json":
        titles = getattr(report, "titles", None) or {}
        return to_json(
            {
                "run": {name: getattr(report, name) for name in RUN_FIGURES},
                "new_trials": report.new_trials,
                "changes": [change_json(change, titles) for change in changes],
                "backfilled": [{"nct_id": n, "versions": count} for n, count in sorted(report.backfilled.items())],
                "findings": report.findings,
                "failures": report.failures,
            }
        )
    markdown = fmt == "markdown"
    lines = [
        ("# " if markdown else "") + f"trialwatch run {report.started_utc}: {report.trials_checked} checked, "
        f"{len(report.new_trials)} new, {len(changes)} changes, {len(report.findings)} findings, "
        f"{len(report.failures)} failed",
        "",
    ]
    for section in (_run_new_trials, _run_changes, _run_findings, _run_backfilled, _run_failures, _run_warnings):
        lines += section(report, changes, markdown)
    return "\n".join(lines)


def _heading(title: str, markdown: bool) -> str:
    return f"## {title}" if markdown else title


def _section(title: str, items: list[str], markdown: bool) -> list[str]:
    """A run report's section: its heading and one bullet per item; nothing without items."""
    if not items:
        return []
    bullet = "- " if markdown else "  "
    return [_heading(title, markdown), *(f"{bullet}{item}" for item in items), ""]


def _run_new_trials(report, changes, markdown) -> list[str]:
    new = [
        f"{t['nct_id']} {short_title(t['title'])} ({t['status']}; matches {t['search']!r})" for t in report.new_trials
    ]
    return _section("New trials", new, markdown)


def _run_changes(report, changes, markdown) -> list[str]:
    if not changes:
        return []
    lines = [_heading("Changes", markdown)]
    titles = getattr(report, "titles", None) or {}
    for nct_id, group in groupby(changes, key=lambda c: c["nct_id"]):
        name = trial_name(nct_id, titles)
        lines.append(f"### {name}" if markdown else f"  {name}")
        for change in group:
            if markdown:
                lines.append(f"- **{change['severity']}** · {change['summary']}")
                lines += detail_lines(change, True, "  - ")
            else:
                lines.append(f"    {change['severity']:<8}  {change['summary']}")
                lines += detail_lines(change, False, " " * 14)
    return [*lines, ""]


def _run_backfilled(report, changes, markdown) -> list[str]:
    done = [
        f"backfilled {count} version{'s' if count != 1 else ''} of {nct_id} from the registry's history"
        for nct_id, count in sorted(report.backfilled.items())
    ]
    return _section("Backfilled", done, markdown)


def _run_findings(report, changes, markdown) -> list[str]:
    from trialwatch.snapshots.reports.findings import render_findings_news

    return render_findings_news(report.findings, markdown)


def _run_failures(report, changes, markdown) -> list[str]:
    return _section("Failed", [failure["error"] for failure in report.failures], markdown)


def _run_warnings(report, changes, markdown) -> list[str]:
    warned = [
        f"{report.warnings} parser warnings in what was read (a source's layout may have drifted): "
        f"see checks.warnings of run {report.run_id}"
    ]
    return _section("Warnings", warned if report.warnings else [], markdown)
