"""Property: whatever the registry's edits and however its versions were observed, the timeline
reports every real edit exactly once, at the first snapshot that shows it, and nothing else.

Hypothesis draws one of a few real studies, a sequence of edits from tests/edits.py (each
version one edit later and posted a week later), and for each version a non-empty set of its
renderings (API record, labelled, label-less and HTML pages, a page cut short, the results
page) ingested in random order at increasing `--observed-at` instants into a fresh database.
The expected changes come from the edits alone, placed with `edits.shows` (which source shows
which aspect of the record): an edit's change is due at the first snapshot, at or after its
version, whose rendering shows that aspect; where the label-less page may or may not let a
reader tell arms apart, at that page or at the next one that surely shows it.

Two choices keep the expectation exact rather than a guess:

- the timeline starts with the API record of the first version, so every field's earlier
  value (dates' type and precision included) is known before any edit;
- edits of one sequence touch different fields, and a month-only date is refined to its
  month's last day, the day the pages show it as, so that no two pages of different
  versions show one month as two different days (whether that is a change no page can tell).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, Phase, example, given, note, settings
from hypothesis import strategies as st

from edits import API, EDITS, LABELLESS, MAIN_PAGES, MAYBE, RESULTS_PAGES, bump_update, refine_date, shows
from timeline import Timeline, assert_summaries, load, matches

# Varied real studies whose renderings agree with their API record: month and day dates,
# estimated and actual ones, with and without results, interventional and observational.
STUDIES = ("NCT00763412", "NCT06008288", "NCT02210780", "NCT06171568")
# A month-only date refined to the day every page here shows it as (the month's last day).
POOL = {
    **EDITS,
    "start_date_refined": refine_date("start_date", "last"),
    "completion_date_refined": refine_date("completion_date", "last"),
}
CUTS = ("cut:Study Design", "cut:Eligibility Criteria")
MAX_EDITS = 4


def sources_for(study: dict) -> list[str]:
    pages = [name for name in MAIN_PAGES if name != "labelled_first"] + [LABELLESS, *CUTS]
    return [API, *pages, *(RESULTS_PAGES if study.get("hasResults") else ())]


@st.composite
def scenarios(draw):
    """(study id, edit names in order, per version the sources to ingest in order)."""
    nct_id = draw(st.sampled_from(STUDIES))
    study = load(nct_id)
    order = draw(st.permutations(sorted(name for name, edit in POOL.items() if edit.applies(study))))
    wanted = draw(st.integers(min_value=1, max_value=MAX_EDITS))
    chosen, touched = [], set()
    for name in order:
        if len(chosen) < wanted and not touched & set(POOL[name].fields):
            chosen.append(name)
            touched |= set(POOL[name].fields)
    sources = sources_for(study)
    plan = [
        draw(st.lists(st.sampled_from(sources), min_size=1, max_size=3, unique=True)) for _ in range(len(chosen) + 1)
    ]
    plan[0] = [API] + [source for source in plan[0] if source != API]
    return nct_id, chosen, plan


def make_versions(nct_id: str, chosen: list[str]):
    """The versions (the first prepared for every chosen edit) and each edit's expected changes."""
    study = load(nct_id)
    for name in chosen:
        study = POOL[name].prepare(study)
    versions, expected = [study], []
    for number, name in enumerate(chosen, start=1):
        edited, changes = POOL[name](versions[-1])
        versions.append(bump_update(edited, 7))
        expected += [(number, change) for change in changes]
    return versions, expected


def due(expected, entries, versions):
    """Where an expected change may be reported: the instants allowed, and the instant it surely is by."""
    number, change = expected
    allowed, sure = set(), None
    for at, version, source in entries:
        if version < number:
            continue
        seen = shows(source, change.aspect, versions[version])
        if seen is True:
            sure = at
            allowed.add(at)
            break
        if seen == MAYBE:
            allowed.add(at)
    return allowed, sure


def check(timeline: Timeline, entries, versions, expected) -> None:
    changes = timeline.changes()
    explain = timeline.explain(changes)
    assert_summaries(changes)
    source_at = {at: source for at, _, source in entries}
    fields = {change.field for _, change in expected}
    unexplained = [
        f"{c['field']} {c['kind']} ({source_at.get(c['observed_at'])})" for c in changes if c["field"] not in fields
    ]
    assert not unexplained, f"changes no edit explains: {', '.join(unexplained)}\n" + explain
    for item in expected:
        change = item[1]
        allowed, sure = due(item, entries, versions)
        found = [c for c in changes if c["field"] == change.field]
        if sure is None and not allowed:
            assert not found, f"{change.field}: no snapshot shows this edit, yet it is reported:\n" + explain
            continue
        if sure is None:
            assert len(found) <= 1, f"{change.field}: reported more than once:\n" + explain
        else:
            assert len(found) == 1, f"{change.field}: want one {change.kind} change, got {len(found)}:\n" + explain
        for got in found:
            assert got["kind"] == change.kind, f"{change.field}: want kind {change.kind}:\n" + explain
            assert got["observed_at"] in allowed, f"{change.field}: want it at one of {sorted(allowed)}:\n" + explain
            for key, want in change.attrs_from(source_at[got["observed_at"]]).items():
                assert matches(want, got.get(key)), (
                    f"{change.field}: {key} {got.get(key)!r}, want {want!r}:\n" + explain
                )


# Shrinking would replay the CLI hundreds of times; a failing scenario is printed whole instead
# (its edits, the sources of each version, and every change with the source that gave it).
@settings(
    max_examples=100,
    deadline=None,
    report_multiple_bugs=False,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios())
@example(("NCT02210780", ["arm_added"], [[API, "labelled", "cut:Study Design"], [API]]))  # item 1, behind a cut page
@example(("NCT06171568", ["stop", "keywords_reordered"], [[API], [LABELLESS, API], ["labelled"]]))  # items 1 and 3
def test_every_edit_is_reported_once_where_first_shown_and_nothing_else(scenario):
    nct_id, chosen, plan = scenario
    versions, expected = make_versions(nct_id, chosen)
    note(f"edits {chosen}; sources per version {plan}")
    with tempfile.TemporaryDirectory() as folder:
        timeline = Timeline(Path(folder), nct_id)
        entries = [
            (timeline.ingest(versions[number], source), number, source)
            for number, sources in enumerate(plan)
            for source in sources
        ]
        check(timeline, entries, versions, expected)
