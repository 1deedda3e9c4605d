"""A trial's results page (meddatax.com's `…/clinical-trials/{NCT_ID}/results`) → a trial record.

A page kind of its own (`tests/fixtures/pages/FORMAT.md`, "The results page"; two real ones
are `NCT01838876.results.txt`, bare values, and `NCT03077919.results.txt`, labelled):

    Trial Outcomes & Findings for {brief title} (NCT {NCT_ID})
    NCT ID: …            Last Updated: …
    Results Overview     the primary outcome's description
    Recruitment status, Study phase, Target enrollment, Primary outcome timeframe,
    Results posted on    labelled, or bare values in that order
    Participant Flow, Baseline Characteristics, …   the results sections

What it shows is read: the trial's title (inside line 1), status, phases, enrollment, the
first primary outcome's time frame and description, the results-posted date, `has_results`
true, and the results sections as text (`results`).  Everything else is unknown in its record:
the main page's fields, the primary outcome's measure and any outcome after the first
(`outcomes.primary.rest`), and any results section it does not show whole (`results.rest`:
saved results pages are often cut, and no page says it is complete).

Pure: lines in, (record, warnings) out.
"""

from __future__ import annotations

import re

from .errors import InputError
from .record import STATUSES, TOP_LEVEL, empty_record, finish
from .rows import INVALID, Invalid, PageState, Row, as_code, as_day, as_enrollment, as_phases, read_rows

TITLE = re.compile(r"^Trial Outcomes & Findings for (.+) \(NCT (NCT[0-9]{8})\)$")
OVERVIEW = "Results Overview"
# Results sections, in the order a page shows them; their text is kept as results data.
RESULTS_HEADINGS = (
    "Participant Flow",
    "Baseline Characteristics",
    "Outcome Measures",
    "Primary Outcome",
    "Secondary Outcome",
    "Adverse Events",
    "Serious Adverse Events",
    "Other Adverse Events",
    "Limitations and Caveats",
    "More Information",
)
# What a results page shows; every other path of the record is unknown.
SHOWN = ("nct_id", "title", "status", "phases", "has_results", "last_updated", "results_first_posted", "enrollment")
NOT_SHOWN = (
    "enrollment.type",
    "outcomes.primary[].measure",
    "outcomes.primary.rest",
    "outcomes.secondary",
    "outcomes.other",
    "results.rest",
)


def _time_frame(value: str) -> str:
    if as_day_or_none(value) is not None:
        raise Invalid("a date, not a time frame")
    return value


def as_day_or_none(value: str) -> str | None:
    try:
        return as_day(value)
    except Invalid:
        return None


ROWS = (
    Row("Recruitment status", "status", as_code(STATUSES, "recruitment status")),
    Row("Study phase", "phases", as_phases),
    Row("Target enrollment", "enrollment", as_enrollment),
    Row("Primary outcome timeframe", "time_frame", _time_frame),
    Row("Results posted on", "results_first_posted", as_day),
)


def is_results_record(record: dict) -> bool:
    """Whether a page's record came from a results page (only such a page shows some sections of
    the results, `results.rest` unknown)."""
    return "results.rest" in (record.get("unknown") or ())


def is_results_title(line: str) -> bool:
    return bool(TITLE.match(line))


def parse_results_page(
    title_line: str, nct_line_id: str, updated: str, after_header: list[str], name: str
) -> tuple[dict, list[str]]:
    """A results page: its title line, the id of its `NCT ID` line, the value of its `Last
    Updated` line, and the lines after them → (record, warnings)."""
    match = TITLE.match(title_line)
    if not match:
        raise InputError(f"{name}: not a results page (line 1 is not 'Trial Outcomes & Findings for …')")
    if match.group(2).upper() != nct_line_id:
        raise InputError(
            f"{name}: not a results page (its title names {match.group(2)}, its NCT ID line {nct_line_id})"
        )
    record = empty_record(nct_line_id)
    record["title"], record["has_results"] = match.group(1), True
    unknown = {path for path in TOP_LEVEL if path not in (*SHOWN, "outcomes", "results", "unknown")}
    page = PageState(labeled=_is_labelled(after_header), sections={}, complete=set(), record=record, unknown=unknown)
    page.unknown.update(NOT_SHOWN)
    try:
        record["last_updated"] = as_day(updated)
    except Invalid as error:
        page.not_known("last_updated", f"last_updated: {updated!r} is {error}; left unknown")
    overview, rows, sections = _split(after_header)
    time_frame = _read_rows(page, rows)
    _read_outcome(page, overview, rows, time_frame)
    _read_sections(page, sections)
    return finish(record, page.unknown), page.warnings


def _is_labelled(lines: list[str]) -> bool:
    labels = {row.label for row in ROWS}
    return any(line in labels for line in lines)


def _split(lines: list[str]) -> tuple[list[str] | None, list[str], list[tuple[str, list[str]]]]:
    """(overview lines, or None when the page has none; the rows' lines; results sections)."""
    first_section = next((k for k, line in enumerate(lines) if line in RESULTS_HEADINGS), len(lines))
    head, rest = lines[:first_section], lines[first_section:]
    sections: list[tuple[str, list[str]]] = []
    for line in rest:
        if line in RESULTS_HEADINGS:
            sections.append((line, []))
        else:
            sections[-1][1].append(line)
    if not head or head[0] != OVERVIEW:
        return None, head, sections
    labels = {row.label for row in ROWS}
    statuses = set(STATUSES)
    end = next((k for k, line in enumerate(head) if k and (line in labels or line in statuses)), len(head))
    return head[1:end], head[end:], sections


def _read_rows(page: PageState, lines: list[str]) -> str | None:
    """Status, phases, enrollment and results-posted date into the record; returns the time frame."""
    values, leftover = read_rows(page, "Results page", lines, ROWS)
    record = page.record
    for key in ("status", "phases", "enrollment", "results_first_posted"):
        value = values.get(key)
        if value is None or value is INVALID:
            page.not_known(key, f"Results page: no {key.replace('_', ' ')} shown; left unknown")
        else:
            record[key] = value
    for line in leftover:
        page.warnings.append(f"Results page: line not understood: {line[:80]!r}")
    time_frame = values.get("time_frame")
    return None if time_frame is INVALID else time_frame


def _read_outcome(page: PageState, overview: list[str] | None, rows: list[str], time_frame: str | None) -> None:
    """The first primary outcome: its description (the overview) and time frame, as far as shown."""
    description = "\n\n".join(overview) if overview else None
    if overview is None or not rows:  # no overview, or the page was cut inside it
        page.not_known("outcomes.primary[].description")
    if time_frame is None:
        page.not_known("outcomes.primary[].time_frame")
    if description is None and time_frame is None:
        page.not_known("outcomes.primary")
        return
    page.record["outcomes"]["primary"] = [{"measure": None, "time_frame": time_frame, "description": description}]


def _read_sections(page: PageState, sections: list[tuple[str, list[str]]]) -> None:
    """Every results section but the last as text; the last may be cut short, so it is left out."""
    whole = sections[:-1]
    page.record["results"] = {heading: "\n".join(body) for heading, body in whole}
    if sections:
        page.warnings.append(f"results section {sections[-1][0]} may be incomplete; not kept")
