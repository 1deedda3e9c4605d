"""The real history sample: what NCT03690141's registry history implies, against the findings
written down by hand first (tests/fixtures/findings/NCT03690141.history-findings.json).

No version body of NCT03690141 is available: the answer has the version list (date, status,
the modules each version changed), originalData (the first-registered primary outcomes and
enrollment) and the current record (HTML text).  The versions are rebuilt from exactly that,
and nothing more: a module no later version changed is as in the current record; the primary
outcomes and enrollment are as first registered until a version changes their module; the
status of each version is listed; everything else is unknown in that version's record (the
store's "not carried by this source").  Each version is stored as a registry history snapshot
dated by the registry, and the findings read from the store.
"""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from trialwatch.ingest.ctgov import map_study
from trialwatch.ingest.markup import normalize_history_study
from trialwatch.ingest.parse import HISTORY
from trialwatch.ingest.record import TOP_LEVEL
from trialwatch.snapshots.jobs.findings import compute
from trialwatch.snapshots.store.store import Store

FIXTURES = Path(__file__).resolve().parent / "fixtures"
NCT = "NCT03690141"
ANSWER = json.loads((FIXTURES / "ctgov" / "history" / "NCT03690141.details-html.json").read_text())
HANDS = json.loads((FIXTURES / "findings" / "NCT03690141.history-findings.json").read_text())
BY_HAND = {item["finding"]: item for item in HANDS["findings"]}
CAPTURE = date(2023, 7, 28)  # the answer's versionHolder: the current record's data

# Registry module label → the record fields it holds (status is known per version from the list).
MODULES = {
    "Study Status": (
        "start_date",
        "primary_completion_date",
        "completion_date",
        "status_verified",
        "why_stopped",
        "last_known_status",
        "has_results",
        "results_first_posted",
        "results_first_submitted",
        "certificate_of_delay",
        "submission_tracking",
        "last_updated",
        "last_update_submitted",
    ),
    "Contacts/Locations": ("locations", "central_contacts", "overall_officials"),
    "Study Identification": ("title", "official_title", "acronym", "other_ids"),
    "Conditions": ("conditions", "keywords"),
    "Study Design": ("design", "phases", "study_type", "enrollment"),
    "Arms and Interventions": ("arms", "interventions"),
    "Study Description": ("summary", "description"),
    "Outcome Measures": ("outcomes",),
    "Eligibility": ("eligibility",),
}


def versions() -> list[tuple[dict, dict]]:
    """(version-list entry, rebuilt record) for versions 0-9."""
    history = ANSWER["history"]
    changes = history["changes"]
    current = map_study(normalize_history_study(ANSWER["study"]))
    first = copy.deepcopy(ANSWER["study"])
    first["protocolSection"]["outcomesModule"]["primaryOutcomes"] = history["originalData"]["primaryOutcomes"]
    first["protocolSection"]["designModule"]["enrollmentInfo"] = history["originalData"]["enrollmentInfo"]
    original = map_study(normalize_history_study(first))
    out = []
    for entry in changes:
        n = entry["version"]
        later = {label for change in changes[n + 1 :] for label in change["moduleLabels"]}
        since_first = {label for change in changes[1 : n + 1] for label in change["moduleLabels"]}
        record, unknown = copy.deepcopy(current), set(current["unknown"])
        for label, fields in MODULES.items():
            if label not in later:
                continue  # no later version changed the module: as in the current record
            for key in fields:
                if key == "outcomes" and label not in since_first:
                    record["outcomes"] = {**current["outcomes"], "primary": original["outcomes"]["primary"]}
                elif key == "enrollment" and label not in since_first:
                    record["enrollment"] = original["enrollment"]
                else:
                    unknown.add(key)
        record["status"] = entry["status"]
        record["last_update_submitted"] = entry["date"]
        record["unknown"] = sorted(unknown)
        assert set(record) == set(TOP_LEVEL)
        out.append((entry, record))
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("history") / "tw.db")
    for entry, record in versions():
        observed = datetime.fromisoformat(entry["date"]).replace(tzinfo=timezone.utc).isoformat()
        store.save(
            record,
            observed_utc=observed,
            source_kind=HISTORY,
            source_version=entry["version"],
            module_labels=entry["moduleLabels"],
            checked_utc=observed,
        )
    yield store
    store.close()


@pytest.fixture(scope="module")
def found(store):
    return {f["finding"]: f for f in compute(store, NCT, CAPTURE)}


def test_the_rebuilt_versions_say_what_the_answer_says():
    rebuilt = versions()
    assert [r["status"] for _, r in rebuilt] == [e["status"] for e in ANSWER["history"]["changes"]]
    assert rebuilt[0][1]["enrollment"] == {"count": 30, "type": "ESTIMATED"}
    assert rebuilt[9][1]["enrollment"] == {"count": 16, "type": "ACTUAL"}
    assert "RECIST 1.1" in rebuilt[4][1]["outcomes"]["primary"][0]["description"]
    assert "iRECIST 1.1" in rebuilt[5][1]["outcomes"]["primary"][0]["description"]
    assert "start_date" in rebuilt[8][1]["unknown"] and "start_date" not in rebuilt[9][1]["unknown"]
    assert "lead_sponsor" not in rebuilt[0][1]["unknown"]  # Sponsor/Collaborators never changed


def test_the_history_reaches_registration(found):
    for finding in found.values():
        assert finding["as_of"]["from_registration"] is True
        assert finding["as_of"]["history_from"] == "2018-09-27"


def test_registered_prospectively_on_the_evidence_there_is(found):
    retro, hand = found["registered_retrospectively"], BY_HAND["registered_retrospectively"]
    assert retro["holds"] is hand["holds"] is False
    assert retro["class"] == "prospective"
    assert retro["value"]["registered"] == "2018-09-10"
    assert retro["value"]["start_date"] == {"date": "2018-10-12", "type": "ACTUAL"}
    assert retro["days"] == -32
    assert retro["complete"] is hand["determinable"] is False  # version 0's start date is not known
    assert found["retroactively_prospective"]["holds"] is BY_HAND["retroactively_prospective"]["holds"] is False
    assert found["retroactively_prospective"]["complete"] is False


def test_the_primary_outcome_changed_after_start_minor_not_hidden(found):
    changed, hand = found["primary_outcome_changed"], BY_HAND["primary_outcome_changed"]["value"]
    assert changed["holds"] is True and changed["class"] == "minor"
    assert changed["value"]["reference"]["version"] == f"v{hand['reference_version']} {hand['reference_date']}"
    (change,) = changed["value"]["changes"]
    expected = hand["changes"][0]
    assert change["version"] == f"v{expected['version']} {expected['date']}"
    assert change["timing"] == expected["timing"] == "after_start"
    assert [e["kind"] for e in change["events"]] == ["description_changed"]
    assert "iRECIST" in change["events"][0]["new"] and "iRECIST" not in change["events"][0]["old"]
    assert changed["days"] == expected["days_after_start"] == 98
    assert changed["value"]["hidden"] is hand["hidden"] is False
    assert changed["complete"] is True


def test_primary_completion_slippage_cannot_be_told(found):
    slip, hand = found["primary_completion_slippage"], BY_HAND["primary_completion_slippage"]
    assert slip["holds"] is hand["holds"] is None
    assert slip["value"]["current"] == hand["value"]["current_primary_completion"]
    actual = slip["value"]["became_actual"]
    seen = hand["value"]["current_actual_value_first_seen"]
    assert actual["version"] == f"v{seen['version']} {seen['date']}" and actual["lag_days"] == seen["lag_days"] == 0


def test_enrollment_fell_to_53_percent_of_the_first_estimate(found):
    enrolled, hand = found["enrollment_vs_first_estimate"], BY_HAND["enrollment_vs_first_estimate"]["value"]
    assert enrolled["holds"] is True and enrolled["class"] == "shortfall"
    assert enrolled["percent"] == hand["percent_of_first_estimate"] == 53.3
    assert enrolled["value"]["first"] == hand["first_registered"]
    assert enrolled["value"]["current"] == hand["current"]
    last = hand["last_changed"]
    assert enrolled["value"]["last_changed"] == f"v{last['version']} {last['date']}"
    assert enrolled["complete"] is True


def test_completed_shown_the_day_it_completed(found):
    stale, hand = found["stale_status"], BY_HAND["stale_status"]
    assert stale["holds"] is hand["holds"] is False
    completion = stale["value"]["completion"]
    assert completion["lag_days"] == hand["value"]["completion_lag_days"] == 0
    assert completion["first_completed_version"] == "v9 2020-04-27" and completion["exact"] is True


def test_sponsor_unchanged_and_site_churn_unknown(found):
    assert found["sponsor_or_party_changed"]["holds"] is BY_HAND["sponsor_or_party_changed"]["holds"] is False
    assert found["sponsor_or_party_changed"]["complete"] is True
    churn = found["site_churn"]
    assert churn["holds"] is BY_HAND["site_churn"]["holds"] is None
    assert churn["value"]["current_sites"] == BY_HAND["site_churn"]["value"]["current_sites"] == 10
    assert churn["value"]["current_countries"] == ["United States"]


@pytest.mark.parametrize(
    ("on", "label"),
    [(date(2020, 4, 27), "status_as_of_last_version"), (CAPTURE, "status_as_of_capture")],
)
def test_fdaaa_status_by_hand(store, on, label):
    found = {f["finding"]: f for f in compute(store, NCT, on)}
    hand = BY_HAND["fdaaa_status"]["value"]
    rule = found["results_due"]["value"]
    assert rule["applicable"] is hand["applicable"] is True
    assert rule["due_date"] == hand["due_date"] and rule["overdue_after"] == hand["overdue_after"]
    assert rule["reported"] is hand["reported"] is False
    assert rule["status"] == hand[label]["status"]
    assert rule["trialstracker_cohort"] == {"in_cohort": True, "kind": hand["trialstracker_cohort"]["kind"]}
    assert found["results_overdue"]["holds"] is (hand[label]["status"] == "overdue")
    plain = hand["plain_rule"]
    assert found["no_results_12m"]["value"]["point"] == plain["month_12"]
    assert found["no_results_24m"]["value"]["point"] == plain["month_24"]
    expected = plain["as_of_last_version" if on < CAPTURE else "as_of_capture_2023-07-28"]
    for months in (12, 24):
        assert found[f"no_results_{months}m"]["value"]["value"] == expected[f"no_results_at_{months}_months"]
