"""Eligibility criteria text → inclusion and exclusion lists, shared by every source."""

from __future__ import annotations

import re

_HEADING = re.compile(r"^\s*(?:key\s+)?(inclusion|exclusion)\s+criteria\s*:?\s*$", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[*\-•]|[0-9]+[.)])\s+")


def criteria_item(line: str) -> str:
    """One criterion as it stands in a list: bullet marker and outer space removed."""
    return _BULLET.sub("", line, count=1).strip()


def split_criteria(text: str | None) -> tuple[list[str], list[str], list[str]]:
    """Split criteria text into (inclusion, exclusion, other) lists, one item per non-empty line.

    Lines before any "Inclusion Criteria" / "Exclusion Criteria" heading go to `other`.
    """
    inclusion: list[str] = []
    exclusion: list[str] = []
    other: list[str] = []
    current = other
    for line in (text or "").splitlines():
        heading = _HEADING.match(line)
        if heading:
            current = inclusion if heading.group(1).lower() == "inclusion" else exclusion
            continue
        item = criteria_item(line)
        if item:
            current.append(item)
    return inclusion, exclusion, other
