"""Findings as text, JSON, CSV or Markdown: one row per trial and finding."""

from __future__ import annotations

from itertools import groupby

from trialwatch.snapshots.reports.render import table, to_json

CSV_COLUMNS = [
    "nct_id",
    "finding",
    "holds",
    "class",
    "days",
    "percent",
    "complete",
    "summary",
    "snapshot_ids",
    "history_from",
    "history_to",
    "from_registration",
    "evaluated_on",
    "value",
    "evidence",
]
SHOWN = ["finding", "holds", "class", "figure", "basis", "summary"]


def _holds(value) -> str:
    return {True: "yes", False: "no"}.get(value, "unknown")


def _figure(finding: dict) -> str:
    parts = []
    if finding.get("days") is not None:
        parts.append(f"{finding['days']} d")
    if finding.get("percent") is not None:
        parts.append(f"{finding['percent']:g}%")
    return ", ".join(parts)


def _flat(finding: dict) -> dict:
    as_of = finding.get("as_of") or {}
    return {
        **finding,
        "holds": _holds(finding.get("holds")),
        "figure": _figure(finding),
        "basis": "complete" if finding.get("complete") else "partial",
        "snapshot_ids": " ".join(str(e["snapshot_id"]) for e in finding.get("evidence") or []),
        **{key: as_of.get(key) for key in ("history_from", "history_to", "from_registration", "evaluated_on")},
    }


def _heading(group: list[dict]) -> str:
    as_of = group[0].get("as_of") or {}
    return f"{group[0]['nct_id']} · {as_of.get('text')} · evaluated {as_of.get('evaluated_on')}"


def render_findings(findings: list[dict], fmt: str) -> str:
    """Findings grouped by trial (text and Markdown: a heading saying how far its history goes)."""
    if fmt == "json":
        return to_json(findings)
    if fmt == "csv":
        return table([_flat(f) for f in findings], CSV_COLUMNS, "csv")
    if not findings:
        return ""
    out = []
    for _, group in groupby(findings, key=lambda f: f["nct_id"]):
        rows = [_flat(f) for f in group]
        if fmt == "markdown":
            out.append(f"### {_heading(rows)}\n\n{table(rows, SHOWN, 'markdown')}")
        else:
            body = table(rows, SHOWN, "text").splitlines()[1:]  # no header line: the columns speak
            out.append("\n".join([_heading(rows), *("  " + line for line in body)]) + "\n")
    return "\n".join(out)


def render_findings_news(items: list[dict], markdown: bool) -> list[str]:
    """The run report's lines for findings that newly hold, critical first."""
    if not items:
        return []
    gravest = {i["nct_id"] for i in items if i["severity"] == "critical"}
    order = sorted(items, key=lambda i: (i["nct_id"] not in gravest, i["nct_id"], i["severity"] != "critical"))
    lines = ["## Findings" if markdown else "Findings"]
    for nct_id, group in groupby(order, key=lambda i: i["nct_id"]):
        lines.append(f"### {nct_id}" if markdown else f"  {nct_id}")
        for item in group:
            text = f"{item['headline']}: {item['summary']}"
            lines.append(f"- **{item['severity']}** · {text}" if markdown else f"    {item['severity']:<8}  {text}")
    return [*lines, ""]
