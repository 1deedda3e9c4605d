"""Reports: changes, histories and records as text, JSON, CSV or Markdown.  One renderer per format."""

from __future__ import annotations

import csv
import io
import json
from itertools import groupby

from tabulate import tabulate

from trialwatch.snapshots.changes.diff import CHANGE_KEYS
from trialwatch.snapshots.changes.known import covers

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


def render_changes(changes: list[dict], fmt: str) -> str:
    """Changes grouped by trial and snapshot, in the order given (callers sort)."""
    if fmt == "json":
        return to_json([{k: c.get(k) for k in ("snapshot_id", *CHANGE_KEYS) if k in c} for c in changes])
    if fmt == "csv":
        return table(changes, list(CHANGE_KEYS), "csv")
    lines = []
    for (nct_id, observed_at), group in _groups(changes):
        group = list(group)
        heading = f"{nct_id} · {observed_at} · {len(group)} change{'s' if len(group) != 1 else ''}"
        if fmt == "markdown":
            lines.append(f"### {heading}\n")
            lines += [f"- **{c['severity']}** · {c['category']} · {c['summary']}" for c in group]
        else:
            lines.append(heading)
            lines += [f"  {c['severity']:<8}  {c['category']:<13} {c['summary']}" for c in group]
        lines.append("")
    return "\n".join(lines)


HISTORY_COLUMNS = ["observed_at", "last_updated", "source", "status", "enrollment", "changes"]


def render_history(entries: list[dict], fmt: str) -> str:
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
    return table(rows, HISTORY_COLUMNS, fmt)


def _dated(value) -> str | None:
    if not value:
        return None
    return value["date"] + (f" ({value['type'].lower()})" if value.get("type") else "")


def render_record(record: dict, fmt: str) -> str:
    """`json` is the record exactly as `parse` prints it; `text` a readable summary."""
    if fmt == "json":
        return to_json(record)
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
        f"Results:                 {shown('has_results', 'posted' if record.get('has_results') else 'none')}",
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
    if fmt == "csv":
        return table(trials, ["nct_id", "title", "status", "note", "search", "added_utc", "last_checked_utc"], "csv")
    text = table(trials, ["nct_id", "status", "note", "search", "title"], "text")
    if searches:
        text += "\nSaved searches\n" + table(searches, ["name", "query", "last_run_utc", "last_match_count"], "text")
    return text


def render_run(report, fmt: str) -> str:
    """What a run found: new trials, then changes by trial (gravest first), then failures.

    Empty when there is no news, so cron mails only news.
    """
    from trialwatch.snapshots.jobs.run import news_order

    if not report.has_news:
        return ""
    changes = news_order(report.changes)
    if fmt == "json":
        run = {
            k: getattr(report, k)
            for k in (
                "run_id",
                "started_utc",
                "finished_utc",
                "data_timestamp",
                "requests",
                "trials_checked",
                "snapshots_written",
                "warnings",
            )
        }
        return to_json(
            {
                "run": run,
                "new_trials": report.new_trials,
                "changes": changes,
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
    for section in (_run_new_trials, _run_changes, _run_findings, _run_failures, _run_warnings):
        lines += section(report, changes, markdown)
    return "\n".join(lines)


def _heading(title: str, markdown: bool) -> str:
    return f"## {title}" if markdown else title


def _run_new_trials(report, changes, markdown) -> list[str]:
    if not report.new_trials:
        return []
    bullet = "- " if markdown else "  "
    return [
        _heading("New trials", markdown),
        *(f"{bullet}{t['nct_id']}  {t['title']} ({t['status']}; matches {t['search']!r})" for t in report.new_trials),
        "",
    ]


def _run_changes(report, changes, markdown) -> list[str]:
    if not changes:
        return []
    lines = [_heading("Changes", markdown)]
    for nct_id, group in groupby(changes, key=lambda c: c["nct_id"]):
        lines.append(f"### {nct_id}" if markdown else f"  {nct_id}")
        for change in group:
            if markdown:
                lines.append(f"- **{change['severity']}** · {change['summary']}")
            else:
                lines.append(f"    {change['severity']:<8}  {change['summary']}")
    return [*lines, ""]


def _run_findings(report, changes, markdown) -> list[str]:
    from trialwatch.snapshots.reports.findings import render_findings_news

    return render_findings_news(report.findings, markdown)


def _run_failures(report, changes, markdown) -> list[str]:
    if not report.failures:
        return []
    bullet = "- " if markdown else "  "
    return [_heading("Failed", markdown), *(f"{bullet}{failure['error']}" for failure in report.failures), ""]


def _run_warnings(report, changes, markdown) -> list[str]:
    if not report.warnings:
        return []
    bullet = "- " if markdown else "  "
    return [
        _heading("Warnings", markdown),
        f"{bullet}{report.warnings} parser warnings in what was read (a source's layout may have drifted): "
        f"see checks.warnings of run {report.run_id}",
        "",
    ]
