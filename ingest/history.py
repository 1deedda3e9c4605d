"""The registry's history index → plain data (pure: no I/O).

`GET /api/int/studies/{id}?history=true` answers `{study, topics, history}` (see
`tests/fixtures/ctgov/SOURCES.md`, "What the history answers look like"):

- `history.changes[]`: one entry per version, `{version, date, status, moduleLabels}` and, in the
  schema, `reviewNotPassed` and `unpostedEvents`.  `date` is the version's *submission* (QC)
  date, a few days before the version was public (version 0's date is `studyFirstSubmitQcDate`);
- `history.originalData`: the first-registered primary, secondary and other outcomes and
  enrollment, each given only where it differs from the current record; where it does not, a
  flag `primaryOutcomesSame` (…) says so;
- `history.lastUpdateVersions`: the version where outcomes and enrollment last changed;
- `history.outcomesUpdateCount`: how many versions changed the outcomes;
- `study`: the *current* record, its text HTML-encoded like every history answer's
  (`ingest.markup.normalize_history_study` makes it the API v2 form before it is mapped).

`parse_index` reads all of that into a `HistoryIndex`, so first-registered values and "which
versions touched Outcome Measures" are known after one request, before any version is fetched.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

from .ctgov import map_enrollment, map_outcomes, map_study
from .errors import FetchError, InputError
from .markup import normalize_history_study

_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_ENTRY_KEYS = ("version", "date", "status", "moduleLabels", "reviewNotPassed", "unpostedEvents")
# originalData's outcome lists: (its key, the record's outcomes key)
OUTCOME_LISTS = (("primaryOutcomes", "primary"), ("secondaryOutcomes", "secondary"), ("otherOutcomes", "other"))


@dataclass
class HistoryIndex:
    """One trial's history index, as trialwatch keeps it.

    `versions`: the version list sorted by version, each `{"version": int, "date": "YYYY-MM-DD",
    "status": str | None, "moduleLabels": [str, ...], "reviewNotPassed": bool | None,
    "unpostedEvents": list | None, "other": {keys trialwatch does not know}}`.
    `first_registered`: see `first_registered`.  `last_update_versions`: `lastUpdateVersions`
    (`{"outcomes": 5, "primaryOutcomes": 5, "enrollmentInfo": 7, …}`).  `original_data` and
    `outcomes_update_count` as answered.  `current`: the record of the answer's study
    (normalised), None when the answer has none or it cannot be mapped.
    """

    nct_id: str
    versions: list[dict]
    first_registered: dict = field(default_factory=dict)
    last_update_versions: dict[str, int] = field(default_factory=dict)
    outcomes_update_count: int | None = None
    original_data: dict | None = None
    current: dict | None = None


def parse_index(nct_id: str, data: dict) -> HistoryIndex:
    """`?history=true`'s answer (a dict with a `history` object) → HistoryIndex.  FetchError
    (one line naming the trial) when it lists no usable versions or is about another trial."""
    history = data["history"]
    current = _current_record(nct_id, data.get("study"))
    original = history.get("originalData")
    original = original if isinstance(original, dict) else None
    updated = history.get("lastUpdateVersions")
    count = history.get("outcomesUpdateCount")
    return HistoryIndex(
        nct_id=nct_id,
        versions=version_entries(nct_id, history.get("changes")),
        first_registered=first_registered(original, current),
        last_update_versions={
            key: value
            for key, value in (updated.items() if isinstance(updated, dict) else ())
            if isinstance(value, int) and not isinstance(value, bool)
        },
        outcomes_update_count=count if isinstance(count, int) and not isinstance(count, bool) else None,
        original_data=original,
        current=current,
    )


def version_entries(nct_id: str, changes) -> list[dict]:
    """`history.changes` → entries sorted by version, each checked (a number, a real day)."""
    if not isinstance(changes, list):
        raise FetchError(f"{nct_id} history: answer has no list of versions (history.changes)", nct_id)
    if not changes:
        raise FetchError(f"{nct_id}: ClinicalTrials.gov lists no versions of this trial", nct_id)
    entries: dict[int, dict] = {}
    for index, change in enumerate(changes):
        change = change if isinstance(change, dict) else {}
        number, date = change.get("version"), change.get("date")
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise FetchError(f"{nct_id} history: entry {index} has no version number", nct_id)
        if not _is_day(date):
            raise FetchError(f"{nct_id} history: version {number} has no date (YYYY-MM-DD), got {date!r}", nct_id)
        labels, status = change.get("moduleLabels"), change.get("status")
        review, events = change.get("reviewNotPassed"), change.get("unpostedEvents")
        entries[number] = {
            "version": number,
            "date": date,
            "status": status if isinstance(status, str) else None,
            "moduleLabels": [label for label in labels if isinstance(label, str)] if isinstance(labels, list) else [],
            "reviewNotPassed": review if isinstance(review, bool) else None,
            "unpostedEvents": events if isinstance(events, list) else None,
            "other": {key: value for key, value in change.items() if key not in _ENTRY_KEYS},
        }
    return [entries[number] for number in sorted(entries)]


def first_registered(original: dict | None, current: dict | None) -> dict:
    """What the trial registered first, in the record's shapes, from `originalData`.

    `{"primary_outcomes": [{measure, time_frame, description}] | None, "primary_outcomes_same":
    bool | None, … secondary, other …, "enrollment": {count, type} | None,
    "enrollment_count_same": bool | None}`.  Where the registry gives a first-registered value,
    it is that value (text normalised to the v2 form) and `…_same` is False (it gives one where
    it differs); where it says `…Same: true`, the value is the current record's (for
    enrollment, its count: the type is not said); otherwise both are None (not known).
    """
    original = original or {}
    out: dict = {}
    for key, name in OUTCOME_LISTS:
        same = original.get(f"{key}Same")
        given = original.get(key)
        if isinstance(given, dict):  # the schema says one Outcome; the registry sends a list
            given = [given]
        value = None
        if isinstance(given, list):
            value, same = _outcomes(key, given), False
        elif same is True and current is not None:
            value = current["outcomes"][name]
        out[f"{name}_outcomes"] = value
        out[f"{name}_outcomes_same"] = same if isinstance(same, bool) else None
    same = original.get("enrollmentCountSame")
    info = original.get("enrollmentInfo")
    enrollment = None
    if isinstance(info, dict):
        enrollment, same = map_enrollment(info), False
    elif same is True and current is not None and current.get("enrollment"):
        enrollment = {"count": current["enrollment"].get("count"), "type": None}
    out["enrollment"] = enrollment
    out["enrollment_count_same"] = same if isinstance(same, bool) else None
    return out


def _outcomes(key: str, items: list) -> list[dict]:
    """originalData's outcomes (HTML text, like every history answer's) → the record's items."""
    wrapped = normalize_history_study({"protocolSection": {"outcomesModule": {key: items}}})
    return map_outcomes(wrapped["protocolSection"]["outcomesModule"][key])


def _current_record(nct_id: str, study) -> dict | None:
    """The index's study (the current record), normalised and mapped; None when there is none
    or it cannot be mapped.  An answer about another trial is a FetchError."""
    if not isinstance(study, dict):
        return None
    try:
        record = map_study(normalize_history_study(study))
    except InputError:
        return None
    if record["nct_id"] != nct_id:
        raise FetchError(
            f"{nct_id} history: ClinicalTrials.gov answered with another trial ({record['nct_id']})", nct_id
        )
    return record


def _is_day(text) -> bool:
    """`text` is a real calendar day written YYYY-MM-DD."""
    if not isinstance(text, str) or not _DAY.match(text):
        return False
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True
