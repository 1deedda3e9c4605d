"""Registry dates for findings: read at their precision, compared at the coarser one.

The registry gives dates as `YYYY-MM-DD` or `YYYY-MM` (older records, estimates).  A rule that
needs a day reads a month-only date as stated by each rule: its first day (when something
began) or its last day (a deadline's clock, as FDAAA TrialsTracker reads it).  Two dates of
different precision are compared at the coarser one, as the diff measures date moves.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from trialwatch.snapshots.changes.dates import at_precision, coarser, registry_date


def parse(text) -> tuple[date, str] | None:
    """`2025-03` → (2025-03-01, "month"); unreadable or absent → None."""
    return registry_date(text) if isinstance(text, str) else None


def first_day(text) -> date | None:
    parsed = parse(text)
    return parsed[0] if parsed else None


def last_day(text) -> date | None:
    """A month-only date as its month's last day, a year-only one as 31 December."""
    parsed = parse(text)
    if not parsed:
        return None
    value, precision = parsed
    if precision == "year":
        return value.replace(month=12, day=31)
    if precision == "month":
        return value.replace(day=calendar.monthrange(value.year, value.month)[1])
    return value


def day_only(text) -> date | None:
    """A date given to the day; None for a month or year alone."""
    parsed = parse(text)
    return parsed[0] if parsed and parsed[1] == "day" else None


def add_months(value: date, months: int) -> date:
    """Calendar months later; a day the target month lacks becomes its last day (31 Jan + 1 → 28/29 Feb)."""
    month = value.month - 1 + months
    year, month = value.year + month // 12, month % 12 + 1
    return value.replace(year=year, month=month, day=min(value.day, calendar.monthrange(year, month)[1]))


def add_years(value: date, years: int) -> date:
    """Calendar years later; 29 February becomes 28 February in a common year."""
    return add_months(value, 12 * years)


def shift(old, new) -> int | None:
    """Days from date text `old` to `new`, measured at the coarser precision (`2025-03` to
    `2025-03-15` is 0: a refinement, not a move).  None if either is unreadable."""
    a, b = parse(old), parse(new)
    if not a or not b:
        return None
    precision = coarser(a[1], b[1])
    return (at_precision(b[0], precision) - at_precision(a[0], precision)).days


def compare(day: date, text) -> tuple[int, str] | None:
    """A day against a registry date at the date's precision: (days from the date's start to
    `day` at that precision, the precision).  None if the date is unreadable."""
    parsed = parse(text)
    if not parsed:
        return None
    value, precision = parsed
    return (at_precision(day, precision) - value).days, precision


def plus_days(value: date, days: int) -> date:
    return value + timedelta(days=days)


def iso(value: date | None) -> str | None:
    return value.isoformat() if value else None
