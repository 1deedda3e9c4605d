"""The timeline's truth where the cross-source corpus does not reach (tests/test_cross_source.py
and tests/test_timeline_property.py cover sources meeting, dates, lists and page kinds):

- pages that are not a known rendering are refused, never stored with another site's chrome as title;
- an older saved input without --observed-at goes to its registry date, not to now; a future
  --observed-at is bad input;
- the severities a trial watcher expects; `show` never prints an unknown field as "none".
"""

from __future__ import annotations

import copy
import json
import sqlite3
from pathlib import Path

import pytest

from clirun import tw
from trialwatch.ingest.ctgov import map_study
from trialwatch.snapshots.changes.diff import diff_records

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "NCT06731192.txt"
EDITED = ROOT / "tests" / "fixtures" / "edits" / "NCT06731192.edited.txt"
STUDIES = ROOT / "tests" / "fixtures" / "ctgov" / "studies"


def rows(db, sql):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


# -- pages that are not a known rendering ------------------------------------------------------------

OTHER_SITES = {
    # A site's chrome above an `NCT ID:` line, then its own label: value layout (FORMAT.md, "Other sites").
    "chrome-title.txt": (
        "Ignite Modification Date: 2025-12-24 @ 3:51 PM\nNCT ID: NCT06731192\n"
        "Title: Human Umbilical Cord Mesenchymal Stem Cells for Alport Syndrome\n"
        "Status: Not yet enrolling\nEnrollment: 40 estimated patients\n"
    ),
    # The right header, but none of the rendering's sections: a pipe table of humanized values.
    "pipe-table.txt": (
        "Human Umbilical Cord Mesenchymal Stem Cells for Alport Syndrome\nNCT ID: NCT06731192\n"
        "Last Updated: 2024-12-31\n| Field | Value |\n|---|---|\n| Status | Not yet recruiting |\n"
    ),
}


@pytest.mark.parametrize("name", sorted(OTHER_SITES))
def test_a_page_of_another_site_is_refused_with_one_line(tmp_path, name):
    page = tmp_path / name
    page.write_text(OTHER_SITES[name], encoding="utf-8")
    db = tmp_path / "tw.db"
    result = tw(db, "ingest", page)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and name in result.stderr and "not a page trialwatch knows" in result.stderr
    assert not db.exists()


# -- stale inputs and observations in the future ----------------------------------------------------


def test_an_older_saved_page_goes_to_its_registry_date_not_to_now(tmp_path):
    db = tmp_path / "tw.db"
    assert tw(db, "ingest", EDITED).exit_code == 0  # last updated 2025-03-14, RECRUITING
    late = tw(db, "ingest", SEED)  # last updated 2024-12-31, NOT_YET_RECRUITING: older, saved earlier
    assert late.exit_code == 0
    assert "registry date 2024-12-31 is older than this trial's newest (2025-03-14)" in late.stderr
    history = json.loads(tw(db, "history", "NCT06731192", "--format", "json").stdout)
    assert [(h["observed_at"], h["status"]) for h in history][0] == ("2024-12-31T00:00:00+00:00", "NOT_YET_RECRUITING")
    changes = json.loads(tw(db, "diff", "NCT06731192", "--format", "json").stdout)
    status = [(c["old"], c["new"]) for c in changes if c["field"] == "status"]
    assert status == [("NOT_YET_RECRUITING", "RECRUITING")]  # not reversed "now"
    assert rows(db, "select status from trials") == [("RECRUITING",)]


def test_an_observation_in_the_future_is_bad_input(tmp_path):
    db = tmp_path / "tw.db"
    result = tw(db, "ingest", SEED, "--observed-at", "9999-06-01")
    assert result.exit_code == 2 and "is in the future" in result.stderr and result.stderr.count("\n") == 1
    assert not db.exists()
    assert tw(db, "ingest", SEED, "--observed-at", "2025-01-02").exit_code == 0


# -- severities and what show prints ----------------------------------------------------------------


def study(nct_id: str) -> dict:
    return json.loads((STUDIES / f"{nct_id}.json").read_text(encoding="utf-8"))


def severity_of(changes, field):
    (change,) = [c for c in changes if c["field"] == field]
    return change["severity"], change["summary"]


def test_a_reason_for_stopping_appearing_is_critical():
    before = study("NCT04267848")
    after = copy.deepcopy(before)
    after["protocolSection"]["statusModule"]["whyStopped"] = "Sponsor decision"
    severity, summary = severity_of(diff_records(map_study(before), map_study(after)), "why_stopped")
    assert severity == "critical" and summary == "Why stopped: Sponsor decision"


def test_results_posted_is_notable():
    before = study("NCT04267848")
    after = copy.deepcopy(before)
    after["hasResults"] = True
    assert severity_of(diff_records(map_study(before), map_study(after)), "has_results") == (
        "notable",
        "Results posted",
    )


def test_the_primary_completion_date_becoming_actual_is_notable_other_dates_minor():
    before = study("NCT06388018")  # both dates estimated
    after = copy.deepcopy(before)
    status = after["protocolSection"]["statusModule"]
    for key in ("primaryCompletionDateStruct", "startDateStruct"):
        status[key] = {"date": status[key]["date"], "type": "ACTUAL"}
    changes = diff_records(map_study(before), map_study(after))
    assert severity_of(changes, "primary_completion_date")[0] == "notable"
    assert [c["became_actual"] for c in changes if c["field"] == "primary_completion_date"] == [True]
    assert severity_of(changes, "start_date")[0] == "minor"


def test_show_never_prints_an_unknown_field_as_none(tmp_path):
    lines = SEED.read_text(encoding="utf-8").split("\n")
    start, end = lines.index("Study Results"), lines.index("Basic Information")
    page = tmp_path / "no-results-section.txt"  # a page without its Study Results section
    page.write_text("\n".join(lines[:start] + lines[end:]), encoding="utf-8")
    db = tmp_path / "tw.db"
    assert tw(db, "ingest", page).exit_code == 0
    shown = tw(db, "show", "NCT06731192").stdout
    assert "Results:                 (not carried by any source so far)" in shown
    assert "Results:                 none" not in shown
