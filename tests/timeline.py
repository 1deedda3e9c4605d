"""A trial's timeline in a fresh database, fed renderings through the CLI, and what its diff must say.

Shared by the cross-source corpus (test_cross_source.py) and the timeline property test
(test_timeline_property.py): the 25 real API records, `Timeline` (ingest a rendering of a
study version with `trialwatch ingest FILE --observed-at T`, an hour after the one before; read
`trialwatch diff` and `history` as JSON), and the checks on the changes.
"""

from __future__ import annotations

import datetime
import functools
import json
from pathlib import Path

import renderings
from clirun import tw
from edits import Expected, matches

STUDIES = Path(__file__).resolve().parent / "fixtures" / "ctgov" / "studies"
NCT_IDS = sorted(path.stem for path in STUDIES.glob("*.json"))
T0 = datetime.datetime(2025, 6, 1, tzinfo=datetime.timezone.utc)


@functools.cache
def _read(nct_id: str) -> str:
    return (STUDIES / f"{nct_id}.json").read_text(encoding="utf-8")


def load(nct_id: str) -> dict:
    return json.loads(_read(nct_id))


@functools.cache
def study_info(nct_id: str) -> dict:
    """The study, shared and read only: for the checks made while collecting tests."""
    return json.loads(_read(nct_id))


def has_results(nct_id: str) -> bool:
    return bool(study_info(nct_id).get("hasResults"))


class Timeline:
    """One trial's timeline in a fresh database: ingest renderings one after the other, an hour apart."""

    def __init__(self, folder: Path, nct_id: str):
        self.folder, self.nct_id, self.db = folder, nct_id, folder / "tw.db"
        self.log: list[tuple[str, str]] = []  # (observed_at, source) of every ingest

    def ingest(self, study: dict, source: str) -> str:
        suffix, text = renderings.render(study, source)
        path = self.folder / f"{len(self.log):03d}-{source.replace(':', '-').replace(' ', '_')}{suffix}"
        path.write_text(text, encoding="utf-8")
        at = (T0 + datetime.timedelta(hours=len(self.log) + 1)).isoformat()
        result = tw(self.db, "ingest", path, "--observed-at", at)
        assert result.exit_code == 0, f"ingest {source}: {result.stderr}"
        self.log.append((at, source))
        return at

    def changes(self) -> list[dict]:
        result = tw(self.db, "diff", self.nct_id, "--format", "json")
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    def history(self) -> list[dict]:
        result = tw(self.db, "history", self.nct_id, "--format", "json")
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    def explain(self, changes: list[dict]) -> str:
        where = dict(self.log)
        steps = " → ".join(source for _, source in self.log)
        lines = [
            f"  at {c['observed_at']} ({where.get(c['observed_at'], '?')}): {c['field']} {c['kind']}: {c['summary']!r}"
            for c in changes
        ]
        return f"ingested {steps}\n" + "\n".join(lines)


def assert_summaries(changes: list[dict]) -> None:
    """Every change says something: a non-empty summary that does not stop at a colon."""
    for change in changes:
        summary = (change.get("summary") or "").strip()
        assert summary and not summary.endswith(":"), f"empty summary: {change['field']} {change['summary']!r}"


def assert_no_changes(timeline: Timeline) -> None:
    changes = timeline.changes()
    assert changes == [], "renderings of one version gave changes:\n" + timeline.explain(changes)


def assert_exactly(timeline: Timeline, wanted: list[tuple[Expected, set[str], str]]) -> None:
    """Exactly the wanted changes: per expected change (one per field), one change of its field and
    kind, observed at one of the allowed instants, with the key attributes of where it was first seen
    (`source`); no other change."""
    changes = timeline.changes()
    explain = timeline.explain(changes)
    assert_summaries(changes)
    fields = {expected.field for expected, _, _ in wanted}
    unexpected = [c for c in changes if c["field"] not in fields]
    assert not unexpected, "changes nothing explains:\n" + explain
    for expected, allowed, source in wanted:
        found = [c for c in changes if c["field"] == expected.field]
        assert len(found) == 1, f"{expected.field}: want one {expected.kind} change, got {len(found)}:\n" + explain
        change = found[0]
        assert change["kind"] == expected.kind, f"{expected.field}: want kind {expected.kind}:\n" + explain
        assert change["observed_at"] in allowed, (
            f"{expected.field}: dated {change['observed_at']}, want one of {sorted(allowed)}:\n" + explain
        )
        for key, want in expected.attrs_from(source).items():
            assert matches(want, change.get(key)), (
                f"{expected.field}: {key} {change.get(key)!r}, want {want!r}:\n" + explain
            )
