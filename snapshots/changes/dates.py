"""Instants (UTC, ISO 8601 with offset) and registry dates (kept at the registry's precision)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

_REGISTRY_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_DURATION = re.compile(r"^(\d+)\s*([hdw])$")
PRECISIONS = ("year", "month", "day")


def now_utc() -> str:
    """The current instant as ISO 8601 UTC with offset, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def parse_instant(text: str) -> str:
    """ISO 8601 date or date-time → UTC instant text.  A naive value is taken as UTC.

    Raises ValueError with a readable message for anything else.
    """
    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO 8601 date or date-time (e.g. 2025-03-01 or 2025-03-01T12:00:00+00:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def not_in_the_future(instant: str, now: str | None = None) -> str:
    """An observation instant, checked: one later than a day past now is a ValueError (a typo
    would otherwise sort after every real observation to come)."""
    limit = datetime.fromisoformat(now or now_utc()) + timedelta(days=1)
    if datetime.fromisoformat(instant) > limit:
        raise ValueError(f"--observed-at {instant} is in the future: an observation can be at most a day past now")
    return instant


def parse_since(text: str, now: str | None = None) -> str:
    """`7d`, `24h`, `2w` (before now) or an ISO 8601 date/date-time → UTC instant text."""
    match = _DURATION.match(text.strip().lower())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        delta = {"h": timedelta(hours=amount), "d": timedelta(days=amount), "w": timedelta(weeks=amount)}[unit]
        base = datetime.fromisoformat(now or now_utc())
        return (base - delta).isoformat(timespec="seconds")
    try:
        return parse_instant(text)
    except ValueError:
        raise ValueError(f"{text!r} is neither a duration (7d, 24h, 2w) nor an ISO 8601 date") from None


def registry_date(text: str | None) -> tuple[date, str] | None:
    """`2025-03` → (date(2025, 3, 1), "month"); `2025-03-15` → (…, "day"); unreadable → None."""
    if not isinstance(text, str):
        return None
    match = _REGISTRY_DATE.match(text.strip())
    if not match:
        return None
    year, month, day = match.groups()
    try:
        value = date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        return None
    return value, ("day" if day else "month" if month else "year")


def at_precision(value: date, precision: str) -> date:
    """Truncate a date to the start of its month or year."""
    if precision == "year":
        return value.replace(month=1, day=1)
    if precision == "month":
        return value.replace(day=1)
    return value


def coarser(a: str, b: str) -> str:
    return a if PRECISIONS.index(a) < PRECISIONS.index(b) else b
