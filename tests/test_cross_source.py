"""The timeline tells the truth across every source: the cross-source corpus, through the CLI.

For each of the 25 real API v2 records in tests/fixtures/ctgov/studies/, its renderings
(tests/renderings.py: the API JSON, the labelled page with month dates as last or first days,
the label-less page whole and cut like the real copy, two HTML markups, a page cut mid-section,
and for studies with results the results page labelled, bare and cut) are ingested with
`trialwatch ingest FILE --observed-at T` into a fresh database, and `trialwatch diff NCT --format
json` must say exactly what changed in the registry:

- renderings of one version, in any order and interleaving: nothing;
- edited versions (tests/edits.py): exactly the edit's changes, once, dated at the first
  snapshot that shows them, also with a poorer source between the two API records;
- dates from pages have unknown precision; lists are multisets; conditions and keywords run
  together on a page compare by words; the results page is a page kind of its own; the
  label-less page does not carry the detailed description; an update-date-only bump or a pure
  reorder writes no snapshot.

"Every order" of up to nine renderings is too many orders to ingest one by one; each study's
renderings are ingested instead along a walk in which every ordered pair of different
renderings is consecutive once (so each is compared right after each other), plus
API → page → API for each page, the copies cut at 2,000 characters included.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

import renderings
from edits import API, EDITS, LABELLESS, MAYBE, NOT_ACTUAL, Expected, bump_update, shows
from timeline import (
    NCT_IDS,
    Timeline,
    assert_exactly,
    assert_no_changes,
    assert_summaries,
    has_results,
    load,
    study_info,
)

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("labelled", "labelled_first", "labelless", "html_semantic", "html_table", "cut:Study Groups")
RESULTS = ("results", "results_bare")
CUT_COPIES = ("labelless_cut", "results_cut")  # cut at 2,000 characters, like the real copies


def sources_of(study: dict, cut_copies: bool = False) -> tuple[str, ...]:
    sources = (API, *PAGES, *(RESULTS if study.get("hasResults") else ()))
    return sources + tuple(
        name for name in CUT_COPIES if cut_copies and (name != "results_cut" or study.get("hasResults"))
    )


def every_ordered_pair(names: tuple[str, ...]) -> list[str]:
    """A walk through `names` in which every ordered pair of different names is consecutive once
    (an Eulerian circuit of the complete directed graph, Hierholzer's algorithm)."""
    unused = {name: [other for other in reversed(names) if other != name] for name in names}
    stack, walk = [names[0]], []
    while stack:
        if unused[stack[-1]]:
            stack.append(unused[stack[-1]].pop())
        else:
            walk.append(stack.pop())
    return walk[::-1]


def test_the_walk_covers_every_ordered_pair():
    names = ("a", "b", "c", "d", "e")
    walk = every_ordered_pair(names)
    pairs = list(zip(walk, walk[1:], strict=False))
    assert sorted(pairs) == sorted((x, y) for x in names for y in names if x != y)


# ------------------------------------------------------------------ one version, every source


@pytest.mark.parametrize("nct_id", NCT_IDS)
def test_renderings_of_one_version_in_every_order_give_no_change(tmp_path, nct_id):
    study = load(nct_id)
    timeline = Timeline(tmp_path, nct_id)
    for source in every_ordered_pair(sources_of(study)):
        timeline.ingest(study, source)
    assert_no_changes(timeline)


@pytest.mark.parametrize("nct_id", NCT_IDS)
def test_api_page_api_interleaving_gives_no_change(tmp_path, nct_id):
    study = load(nct_id)
    timeline = Timeline(tmp_path, nct_id)
    timeline.ingest(study, API)
    for source in sources_of(study, cut_copies=True)[1:]:
        timeline.ingest(study, source)
        timeline.ingest(study, API)
    assert_no_changes(timeline)


@pytest.mark.parametrize("nct_id", [n for n in NCT_IDS if has_results(n)])
@pytest.mark.parametrize("results", ["results", "results_bare"])
@pytest.mark.parametrize("main_first", [True, False], ids=["main-then-results", "results-then-main"])
def test_main_page_and_its_results_page_give_no_change(tmp_path, nct_id, results, main_first):
    """Issue item 5: the results page is a page kind of its own; neither kind's missing fields are changes."""
    study = load(nct_id)
    timeline = Timeline(tmp_path, nct_id)
    for source in ("labelled", results) if main_first else (results, "labelled"):
        timeline.ingest(study, source)
    assert_no_changes(timeline)


@pytest.mark.parametrize("nct_id", [n for n in NCT_IDS if has_results(n)])
def test_results_page_alone_after_the_api_record_gives_no_change(tmp_path, nct_id):
    """The results page's title is the trial's, its values are read, has_results is true."""
    study = load(nct_id)
    timeline = Timeline(tmp_path, nct_id)
    for source in (API, "results", API, "results_bare", "results_cut"):
        timeline.ingest(study, source)
    assert_no_changes(timeline)


@pytest.mark.parametrize(
    "nct_id",
    [
        n
        for n in NCT_IDS
        if (study_info(n)["protocolSection"].get("descriptionModule") or {}).get("detailedDescription")
    ],
)
def test_labelless_page_after_the_labelled_one_keeps_the_detailed_description(tmp_path, nct_id):
    """Issue item 6: the label-less rendering drops the detailed description: unknown, not removed."""
    study = load(nct_id)
    timeline = Timeline(tmp_path, nct_id)
    timeline.ingest(study, "labelled")
    timeline.ingest(study, LABELLESS)
    changes = timeline.changes()
    assert not [c for c in changes if c["field"] == "description"], timeline.explain(changes)
    assert not [c for c in changes if "Detailed description removed" in c["summary"]], timeline.explain(changes)


# ------------------------------------------------------------------ the renderings themselves

SEED = ROOT / "seeds" / "NCT06731192.txt"
CONSTRUCTED = ROOT / "tests" / "fixtures" / "ctgov" / "constructed" / "NCT06731192.json"
REAL_LABELLESS = Path("/work/shared/pages/NCT06731192.label-less.txt")
SEED_DATES = {"start_date": "first", "completion_date": "last"}  # the seed shows 2025-01 as 01-01, 2028-12 as 12-31


def test_the_labelled_rendering_of_the_seed_trial_is_the_seed():
    """The renderer, given the record written from the seed, gives the seed back.  The one
    difference is the constructed record's own: its criteria headings end in a colon."""
    study = json.loads(CONSTRUCTED.read_text(encoding="utf-8"))
    text = renderings.labelled_text(study, month_day=SEED_DATES)
    expected = SEED.read_text(encoding="utf-8")
    for heading in ("Inclusion Criteria", "Exclusion Criteria"):
        expected = expected.replace(f"\n{heading}\n", f"\n{heading}:\n")
    assert text.rstrip("\n") == expected.rstrip("\n")


@pytest.mark.skipif(not REAL_LABELLESS.exists(), reason="the shared real label-less copy is not here")
def test_the_labelless_rendering_of_the_seed_trial_is_the_real_copy():
    study = json.loads(CONSTRUCTED.read_text(encoding="utf-8"))
    text = renderings.labelless_text(study, month_day=SEED_DATES)
    real = REAL_LABELLESS.read_text(encoding="utf-8")
    assert text.startswith(real.rstrip("\n"))


# ------------------------------------------------------------------ edited versions


def versions(edit_name: str, nct_id: str) -> tuple[dict, dict, list[Expected]]:
    """The edit's first version of the real study, the edited version (posted a week later), its changes."""
    edit = EDITS[edit_name]
    first = edit.prepare(load(nct_id))
    second, expected = edit(first)
    return first, bump_update(second), expected


def applicable(edit_name: str) -> list[str]:
    return [nct_id for nct_id in NCT_IDS if EDITS[edit_name].applies(study_info(nct_id))]


# Varied studies (month and day dates, with and without results, interventional, observational,
# withdrawn) first, so that the matrix below uses them where the edit applies.
PREFERRED = (
    "NCT00763412",
    "NCT06008288",
    "NCT02210780",
    "NCT06171568",
    "NCT00973089",
    "NCT03418623",
    "NCT03275402",
    "NCT05147467",
)


def a_few(edit_name: str) -> list[str]:
    """Two studies an edit applies to, preferred ones first: one with results, one without."""
    studies = sorted(applicable(edit_name), key=lambda n: (PREFERRED + (n,)).index(n))
    return [n for n in studies if has_results(n)][:1] + [n for n in studies if not has_results(n)][:1]


EDIT_CASES = [(name, nct_id) for name in EDITS for nct_id in applicable(name)]
POORER = ("labelled", "labelled_first", "labelless", "html_table", "cut:Study Design", "results", "results_bare")
BEHIND_CASES = [
    (name, nct_id, page, which)
    for name in EDITS
    for nct_id in a_few(name)
    for page in POORER
    for which in ("v1", "v2")
    if not page.startswith("results") or has_results(nct_id)
]


@pytest.mark.parametrize("edit_name, nct_id", EDIT_CASES, ids=[f"{e}-{n}" for e, n in EDIT_CASES])
def test_an_edit_between_two_api_records_gives_exactly_its_changes(tmp_path, edit_name, nct_id):
    first, second, expected = versions(edit_name, nct_id)
    timeline = Timeline(tmp_path, nct_id)
    timeline.ingest(first, API)
    at = timeline.ingest(second, API)
    assert_exactly(timeline, [(change, {at}, API) for change in expected])


@pytest.mark.parametrize(
    "edit_name, nct_id, page, which", BEHIND_CASES, ids=[f"{e}-{n}-{p}-{w}" for e, n, p, w in BEHIND_CASES]
)
def test_an_edit_behind_a_poorer_source_is_reported_once_where_first_shown(tmp_path, edit_name, nct_id, page, which):
    """Issue item 1: API v1 → page (of v1 or v2) → API v2.  Each change is compared with the field's
    last known value and dated at the first snapshot that shows it: the page if it shows the new
    value, else the second API record; never hidden, never doubled, nothing invented."""
    first, second, expected = versions(edit_name, nct_id)
    shown = second if which == "v2" else first
    timeline = Timeline(tmp_path, nct_id)
    timeline.ingest(first, API)
    page_at = timeline.ingest(shown, page)
    api_at = timeline.ingest(second, API)
    wanted = []
    for change in expected:
        on_page = shows(page, change.aspect, shown) if which == "v2" else False
        if on_page is True:
            wanted.append((change, {page_at}, page))
        elif on_page == MAYBE:
            wanted.append((change, {page_at, api_at}, page))
        else:
            wanted.append((change, {api_at}, API))
    assert_exactly(timeline, wanted)


def test_the_issues_example_behind_a_saved_page(tmp_path):
    """Issue item 1, as reported: between two API records with a saved page between them, the primary
    completion date moved 183 days, the start date became actual and the enrollment type became ACTUAL."""
    nct_id = "NCT06171568"  # start, primary completion and enrollment all estimated; its page and record agree
    first = load(nct_id)
    second = first
    expected: list[Expected] = []
    for name in ("primary_completion_date_moved_183", "start_date_actual", "enrollment_type"):
        second, changes = EDITS[name](second)
        expected += changes
    second = bump_update(second)
    assert [c.attrs.get("new_type") for c in expected if c.field == "enrollment"] == ["ACTUAL"]
    timeline = Timeline(tmp_path, nct_id)
    timeline.ingest(first, API)
    timeline.ingest(second, "labelled")
    at = timeline.ingest(second, API)
    assert_exactly(timeline, [(change, {at}, API) for change in expected])


# ------------------------------------------------------------------ dates of unknown precision (issue item 2)

DATE_STUDY = "NCT03418623"  # a study whose labelled page and API record agree on everything


def with_date(study: dict, name: str, date: str, kind: str = "ESTIMATED") -> dict:
    study = json.loads(json.dumps(study))
    key = {"start_date": "startDateStruct", "completion_date": "completionDateStruct"}[name]
    study["protocolSection"]["statusModule"][key] = {"date": date, "type": kind}
    return study


def one_date_change(tmp_path, name, page_version, page, api_version) -> tuple[dict, Timeline]:
    timeline = Timeline(tmp_path, DATE_STUDY)
    timeline.ingest(page_version, page)
    timeline.ingest(api_version, API)
    changes = timeline.changes()
    assert [c["field"] for c in changes] == [name], timeline.explain(changes)
    assert_summaries(changes)
    return changes[0], timeline


def test_a_page_day_then_a_later_day_of_that_month_from_the_api_is_a_refinement(tmp_path):
    """Page 2025-01-01 (the month 2025-01 shown as its first day) then API 2025-01-20 ACTUAL: not "moved 19 days"."""
    study = load(DATE_STUDY)
    page_version = with_date(study, "start_date", "2025-01")
    assert "\n2025-01-01\n" in renderings.render(page_version, "labelled_first")[1]
    change, timeline = one_date_change(
        tmp_path,
        "start_date",
        page_version,
        "labelled_first",
        bump_update(with_date(study, "start_date", "2025-01-20", "ACTUAL")),
    )
    explain = timeline.explain([change])
    assert change["shift_days"] in (0, None), explain
    assert "moved" not in change["summary"] and "same month" in change["summary"], explain


def test_a_page_last_day_then_an_earlier_day_of_that_month_from_the_api_is_a_refinement(tmp_path):
    """Page 2028-12-31 (the month 2028-12 shown as its last day) then API 2028-12-15: not "moved 16 days earlier"."""
    study = load(DATE_STUDY)
    page_version = with_date(study, "completion_date", "2028-12")
    assert "\n2028-12-31\n" in renderings.render(page_version, "labelled")[1]
    change, timeline = one_date_change(
        tmp_path,
        "completion_date",
        page_version,
        "labelled",
        bump_update(with_date(study, "completion_date", "2028-12-15")),
    )
    explain = timeline.explain([change])
    assert change["shift_days"] in (0, None), explain
    assert "moved" not in change["summary"] and "same month" in change["summary"], explain


def test_a_page_date_then_another_month_from_the_api_is_a_shift_between_month_starts(tmp_path):
    """Page 2028-12-31 then API 2029-03-15: the page may show a month, so the shift is 2028-12-01 → 2029-03-01."""
    study = load(DATE_STUDY)
    change, timeline = one_date_change(
        tmp_path,
        "completion_date",
        with_date(study, "completion_date", "2028-12"),
        "labelled",
        bump_update(with_date(study, "completion_date", "2029-03-15")),
    )
    assert change["shift_days"] == (datetime.date(2029, 3, 1) - datetime.date(2028, 12, 1)).days, timeline.explain(
        [change]
    )
    assert change["became_actual"] in NOT_ACTUAL


# ------------------------------------------------------------------ joined lists (issue item 3)

REORDER_CASES = [
    (name, nct_id) for name in ("keywords_reordered", "conditions_reordered") for nct_id in applicable(name)
]


@pytest.mark.parametrize("edit_name, nct_id", REORDER_CASES, ids=[f"{e}-{n}" for e, n in REORDER_CASES])
@pytest.mark.parametrize("api_first", [True, False], ids=["api-then-page", "page-then-api"])
def test_values_a_page_runs_together_compare_by_words_in_any_order(tmp_path, edit_name, nct_id, api_first):
    first, second, _ = versions(edit_name, nct_id)
    timeline = Timeline(tmp_path, nct_id)
    if api_first:
        timeline.ingest(first, API)
        timeline.ingest(second, "labelled")
    else:
        timeline.ingest(first, "labelled")
        timeline.ingest(second, API)
    assert_no_changes(timeline)


# ------------------------------------------------------------------ identity collisions (issue item 4)

COLLISION_STUDY = "NCT06008288"  # 31 sites, one arm, its API record and pages agree


def collision(tmp_path, edit_name: str, nct_id: str = COLLISION_STUDY) -> dict:
    first, second, expected = versions(edit_name, nct_id)
    timeline = Timeline(tmp_path, nct_id)
    timeline.ingest(first, API)
    at = timeline.ingest(second, API)
    changes = timeline.changes()
    assert_summaries(changes)
    assert len(changes) == 1, timeline.explain(changes)
    assert_exactly(timeline, [(change, {at}, API) for change in expected])
    return changes[0]


def test_a_second_research_site_in_the_same_city_is_one_added_site(tmp_path):
    change = collision(tmp_path, "twin_site_added")
    assert (change["field"], change["kind"]) == ("locations", "added")
    assert "status" not in change["summary"].lower()


def test_removing_one_of_two_identical_sites_is_one_removed_site(tmp_path):
    change = collision(tmp_path, "twin_site_removed")
    assert (change["field"], change["kind"]) == ("locations", "removed")


def test_arm_interventions_x_x_y_to_x_y_y_is_one_change_that_says_what(tmp_path):
    nct_id = "NCT06388018"
    first, _, _ = versions("arm_interventions_multiset", nct_id)
    names = first["protocolSection"]["armsInterventionsModule"]["armGroups"][0]["interventionNames"]
    assert names[0] == names[1] != names[2]
    change = collision(tmp_path, "arm_interventions_multiset", nct_id)
    assert (change["field"], change["kind"]) == ("arms", "changed")


def test_removing_one_of_an_identifiers_repeats_is_one_removed_identifier(tmp_path):
    """Real records list one identifier several times (NCT00567567: ANBL0532 three times)."""
    change = collision(tmp_path, "twin_identifier_removed", "NCT00567567")
    assert (change["field"], change["kind"]) == ("other_ids", "removed")


# ------------------------------------------------------------------ no snapshot for nothing (issue item 9)


@pytest.mark.parametrize("nct_id", NCT_IDS)
def test_an_update_date_only_bump_writes_no_snapshot(tmp_path, nct_id):
    study = load(nct_id)
    timeline = Timeline(tmp_path, nct_id)
    timeline.ingest(study, API)
    timeline.ingest(bump_update(study), API)
    assert timeline.changes() == []
    assert len(timeline.history()) == 1, timeline.history()


@pytest.mark.parametrize("edit_name, nct_id", REORDER_CASES, ids=[f"{e}-{n}" for e, n in REORDER_CASES])
def test_a_pure_reorder_writes_no_snapshot(tmp_path, edit_name, nct_id):
    study = load(nct_id)
    reordered, expected = EDITS[edit_name](study)
    assert expected == [] and reordered != study
    timeline = Timeline(tmp_path, nct_id)
    timeline.ingest(study, API)
    timeline.ingest(reordered, API)
    assert timeline.changes() == []
    assert len(timeline.history()) == 1, timeline.history()
