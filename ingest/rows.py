"""Reading the label/value rows of a saved page, shared by the page parsers (`ingest.page`,
`ingest.results_page`).

A page shows values in rows: in the labeled rendering a label line then its value, in the
label-less one the values alone, in a fixed order.  `read_rows` reads a section's rows either
way; the `as_…` converters check each value's shape (`Invalid` when it is not what its row
holds); `PageState` collects what a page could not tell (unknown paths) and its warnings.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from .record import PHASES, WHO_MASKED

_ENROLLMENT = re.compile(r"^([0-9]+) participants?$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_AGE = re.compile(r"^[0-9]+ (?:Year|Month|Week|Day|Hour|Minute)s?$")
_ROLE_PHRASE = re.compile(r"(Participants?|Caregivers?|Investigators?|Outcomes? Assessors?)(?:\s+|$)")
_MASKED = {
    "participant": "PARTICIPANT",
    "caregiver": "CARE_PROVIDER",
    "investigator": "INVESTIGATOR",
    "outcome assessor": "OUTCOMES_ASSESSOR",
    "outcomes assessor": "OUTCOMES_ASSESSOR",
}


def matched(pattern: re.Pattern, line: str) -> re.Match:
    """The match of a line already known to match `pattern`."""
    match = pattern.match(line)
    if match is None:  # pragma: no cover - callers only pass lines they found by this pattern
        raise ValueError(f"{line!r} does not match {pattern.pattern}")
    return match


class Invalid(ValueError):
    """A value that is not what its row holds (a code cut mid-word, a malformed date…)."""


def as_code(codes: tuple[str, ...], what: str) -> Callable[[str], str]:
    def convert(value: str) -> str:
        if value not in codes:
            raise Invalid(f"not a {what} code")
        return value

    return convert


def as_phases(value: str) -> list[str]:
    parts = value.split("/")
    if not all(part in PHASES for part in parts):
        raise Invalid("not a phase code (PHASE1, PHASE2/PHASE3, NA…)")
    return parts


def as_enrollment(value: str) -> dict:
    match = _ENROLLMENT.match(value)
    if not match:
        raise Invalid("not an enrollment ('N participants')")
    return {"count": int(match.group(1)), "type": None}


def as_day(value: str) -> str:
    if not _DATE.match(value):
        raise Invalid("not a date (YYYY-MM-DD)")
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        raise Invalid("not a calendar date") from None
    return value


def as_dated_day(value: str) -> dict:
    return {"date": as_day(value), "type": None}


def as_age(value: str) -> str:
    if not _AGE.match(value):
        raise Invalid("not an age ('N Years')")
    return value


def as_yes_no(value: str) -> bool:
    if value not in ("Yes", "No"):
        raise Invalid("not Yes or No")
    return value == "Yes"


def parse_who_masked(line: str) -> list[str] | None:
    """`Participants Outcome Assessors` → codes; None when the line is something else."""
    roles, pos = [], 0
    while pos < len(line):
        match = _ROLE_PHRASE.match(line, pos)
        if not match:
            return None
        word = match.group(1).lower().rstrip("s").replace("outcomes ", "outcome ")
        roles.append(_MASKED[word])
        pos = match.end()
    return [code for code in WHO_MASKED if code in roles] if roles else None


def join_paragraphs(lines: list[str]) -> str | None:
    return "\n\n".join(lines) or None


@dataclass
class PageState:
    labeled: bool
    sections: dict[str, list[str]]
    complete: set[str]  # sections present and not possibly cut
    record: dict
    unknown: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)

    def not_known(self, path: str, why: str | None = None) -> None:
        self.unknown.add(path)
        if why:
            self.warnings.append(why)

    def invalid(self, path: str, value: str, error: Invalid) -> None:
        self.not_known(path, f"{path}: {value!r} is {error}; left unknown")


INVALID = object()  # a value shown but not valid: unknown, already warned about


@dataclass(frozen=True)
class Row:
    label: str  # the label line in the labeled rendering
    key: str  # the key it fills (in the record, or in a nested object)
    convert: Callable[[str], object]


def read_rows(
    page: PageState, section: str, lines: list[str], rows: tuple[Row, ...], prefix: str = ""
) -> tuple[dict, list[str]]:
    """Read a section's rows → ({key: value}, lines left over).

    Labeled: a label line, then its value.  Label-less: each line goes to the first row, in
    order, whose shape it has (a missing row shifts the others, so order alone cannot be used).
    A value of the wrong shape is warned about and left out (its row then counts as absent).
    """
    values, leftover = {}, []
    by_label = {row.label: row for row in rows}
    if page.labeled:
        i = 0
        while i < len(lines):
            row = by_label.get(lines[i])
            if row is None:
                leftover.append(lines[i])
                i += 1
                continue
            value = lines[i + 1] if i + 1 < len(lines) and lines[i + 1] not in by_label else None
            i += 1 if value is None else 2
            if value is None:
                page.warnings.append(f"{section}: {row.label} has no value")
                continue
            try:
                values[row.key] = row.convert(value)
            except Invalid as error:
                page.invalid(prefix + row.key, value, error)
                values[row.key] = INVALID
        return values, leftover
    start = 0
    for line in lines:
        for j in range(start, len(rows)):
            try:
                values[rows[j].key] = rows[j].convert(line)
            except Invalid:
                continue
            start = j + 1
            break
        else:
            leftover.append(line)
    return values, leftover


def settle_rows(page: PageState, values: dict, keys, target: dict, prefix: str, applies) -> None:
    """Store the rows read; a row absent is unknown if it applies, else None."""
    for key in keys:
        value = values.get(key)
        if key in values and value is not INVALID:
            target[key] = value
        elif key in values:
            page.unknown.add(prefix + key)
        elif applies(key):
            page.unknown.add(prefix + key)


def pair_rows(page: PageState, section: str, values: dict, first: str, second: str, prefix: str = "") -> None:
    """Label-less: one value of two same-shaped rows (start/completion, min/max age) is ambiguous."""
    if not page.labeled and (first in values) != (second in values):
        values.pop(first, None)
        values.pop(second, None)
        page.not_known(prefix + first)
        page.not_known(prefix + second, f"{section}: one of {first} and {second} is shown, cannot tell which")


def warn_leftover(page: PageState, section: str, lines: list[str]) -> None:
    for line in lines:
        page.warnings.append(f"{section}: line not understood: {line[:80]!r}")
