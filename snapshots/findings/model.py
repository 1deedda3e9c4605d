"""What a finding is: one row per trial and rule, with its value and the snapshots it rests on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Columns of a finding, in the order reports show them.
KEYS = (
    "nct_id",
    "finding",
    "holds",
    "class",
    "days",
    "percent",
    "complete",
    "summary",
    "value",
    "evidence",
    "as_of",
)


@dataclass
class Finding:
    """One rule's answer for one trial.

    `holds`: True when the finding holds, False when it does not, None when the timeline cannot
    tell (no data, or a class that is its own answer, such as registration in the start's month).
    `cls`: the class (`major`, `overdue`, `same_month`…); `days` and `percent` the figure the
    finding is about; `complete`: False when the rule needed a version the timeline lacks (the
    registration version, a version before the start) and answered from the earliest it has;
    `value`: everything else the rule worked out; `evidence`: the snapshots it rests on
    (`{snapshot_id, date, source, role}`: the registry date of the version); `as_of`: the timeline's extent and the
    day the finding was evaluated (set by `evaluate`).
    """

    nct_id: str
    finding: str
    holds: bool | None
    cls: str | None = None
    days: int | None = None
    percent: float | None = None
    complete: bool = True
    summary: str = ""
    value: dict = field(default_factory=dict)
    evidence: list[dict] = field(default_factory=list)
    as_of: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """The finding as JSON-able data, keyed as the findings table's columns (`class`); its
        values are shared, not copied (a finding is made afresh by each evaluation)."""
        data = {name: getattr(self, name) for name in KEYS if name != "class"}
        return {key: (self.cls if key == "class" else data[key]) for key in KEYS}

    @classmethod
    def from_dict(cls, data: dict) -> Finding:
        values: dict[str, Any] = {key: data.get(key) for key in KEYS if key != "class"}
        values["value"] = values["value"] or {}
        values["evidence"] = values["evidence"] or []
        values["as_of"] = values["as_of"] or {}
        values["complete"] = bool(values["complete"]) if values["complete"] is not None else True
        return cls(cls=data.get("class"), **values)
