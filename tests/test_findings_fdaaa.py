"""FDAAA 801 on the 25 real records, against the classification checked by hand
(tests/fixtures/findings/fdaaa.json: its README gives the rule as applied and every reading
chosen).  Each record is a one-snapshot timeline, evaluated on its own last-update date and on
the fixture's "today", 2026-11-29."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from trialwatch.ingest.ctgov import map_study
from trialwatch.ingest.parse import API
from trialwatch.snapshots.findings.evaluate import evaluate
from trialwatch.snapshots.findings.fdaaa import plain_rule, schedule
from trialwatch.snapshots.findings.timeline import build

FIXTURES = Path(__file__).resolve().parent / "fixtures"
HAND = json.loads((FIXTURES / "findings" / "fdaaa.json").read_text(encoding="utf-8"))
TODAY = date.fromisoformat(HAND["today"])
TRIALS = {trial["nct_id"]: trial for trial in HAND["trials"]}


def record(nct_id: str) -> dict:
    return map_study(json.loads((FIXTURES / "ctgov" / "studies" / f"{nct_id}.json").read_text(encoding="utf-8")))


def days(trial: dict) -> list[tuple[str, date, dict]]:
    last = trial["status_as_of_last_update"]
    return [
        ("as_of_last_update", date.fromisoformat(last["as_of"]), last),
        ("as_of_2026_11_29", TODAY, trial["status_as_of_2026_11_29"]),
    ]


def test_the_fixture_covers_the_25_recorded_studies():
    recorded = sorted(path.stem for path in (FIXTURES / "ctgov" / "studies").glob("*.json"))
    assert sorted(TRIALS) == recorded and len(recorded) == 25
    assert sum(t["applicable"] for t in HAND["trials"]) == 16


@pytest.mark.parametrize("nct_id", sorted(TRIALS))
def test_applicability_deadlines_and_reporting_agree_with_the_hand_check(nct_id):
    hand, rule = TRIALS[nct_id], schedule(record(nct_id), TODAY)
    assert rule["applicable"] is hand["applicable"], rule["reasons"]
    for key in (
        "due_date",
        "overdue_after",
        "reported",
        "reported_date",
        "late",
        "days_late",
        "days_late_by_post_date",
        "late_beyond_grace",
    ):
        assert rule[key] == hand[key], key
    assert bool(rule["certificate_of_delay"]) is hand["certificate_of_delay"]
    assert rule["posted_date"] == hand["results_first_post_date"]
    if "due_date_without_certificate" in hand:
        assert rule["due_date_without_certificate"] == hand["due_date_without_certificate"]
    cohort = hand["trialstracker_cohort"]
    assert rule["trialstracker_cohort"] == {"in_cohort": cohort["in_cohort"], "kind": cohort["kind"]}


@pytest.mark.parametrize("nct_id", sorted(TRIALS))
def test_the_status_on_each_day_agrees_with_the_hand_check(nct_id):
    for _, on, expected in days(TRIALS[nct_id]):
        assert schedule(record(nct_id), on)["status"] == expected["status"], on


@pytest.mark.parametrize("nct_id", sorted(TRIALS))
def test_the_plain_12_and_24_month_rule_agrees_with_the_hand_check(nct_id):
    hand = TRIALS[nct_id]
    broad = hand.get("plain_rule_broad_reading")
    for label, on, _ in days(hand):
        for months in (12, 24):
            rule = plain_rule(record(nct_id), on, months)
            assert rule["applies"] is hand["plain_rule"]["applies"]
            assert rule["value"] == hand["plain_rule"][label][f"no_results_at_{months}_months"], (label, months)
            assert rule["broad"] == (broad[label][f"no_results_at_{months}_months"] if broad else None), (label, months)
            if hand["plain_rule"]["applies"] or broad:
                assert (
                    rule["point"] == (hand["plain_rule"] if hand["plain_rule"]["applies"] else broad)[f"month_{months}"]
                )


@pytest.mark.parametrize("nct_id", sorted(TRIALS))
def test_the_findings_rows_say_the_same(nct_id):
    hand = TRIALS[nct_id]
    timeline = build(nct_id, [(1, "2026-11-29T12:00:00+00:00", API, None, record(nct_id))])
    found = {f.finding: f for f in evaluate(timeline, TODAY)}
    status = hand["status_as_of_2026_11_29"]["status"]
    assert found["results_due"].cls == status
    assert found["results_overdue"].holds is (status == "overdue")
    assert found["days_late"].holds is (status == "reported_late")
    assert found["days_late"].days == hand["days_late"]
    due = hand["due_date"]
    assert found["results_due"].holds is bool(due and date.fromisoformat(due) < TODAY)
    for months in (12, 24):
        value = hand["plain_rule"]["as_of_2026_11_29"][f"no_results_at_{months}_months"]
        expected = value if isinstance(value, bool) else (False if value == "not_applicable" else None)
        assert found[f"no_results_{months}m"].holds is expected


@pytest.mark.parametrize("nct_id", sorted(TRIALS))
def test_the_record_carries_the_inputs_as_read_by_hand(nct_id):
    """The fields the rule reads (FDA flags, certificate of delay, submission tracking, results
    dates…) are mapped into the record as the hand check read them from the API JSON."""
    inputs, r = TRIALS[nct_id]["inputs"], record(nct_id)
    assert r["study_type"] == inputs["study_type"] and r["phases"] == (inputs["phases"] or [])  # None there: none
    assert r["fda_regulated_drug"] is inputs["is_fda_regulated_drug"]
    assert r["fda_regulated_device"] is inputs["is_fda_regulated_device"]
    assert sorted({i["type"] for i in r["interventions"]}) == sorted(set(inputs["intervention_types"] or ()))
    assert ("United States" in {s["country"] for s in r["locations"]}) is inputs["us_site"]
    assert r["design"]["primary_purpose"] == inputs["primary_purpose"] and r["status"] == inputs["overall_status"]
    assert r["start_date"]["date"] == inputs["start_date"]
    assert {k: r["primary_completion_date"][k] for k in ("date", "type")} == {
        k: inputs["primary_completion_date"][k] for k in ("date", "type")
    }
    assert r["completion_date"] == inputs["completion_date"]
    assert r["has_results"] is inputs["has_results"]
    assert r["results_first_submitted"] == inputs["results_first_submit_date"]
    assert r["results_first_posted"] == inputs["results_first_post_date"]
    assert r["certificate_of_delay"] == inputs["certificate_of_delay_date"]
    if "last_known_status" in inputs:
        assert r["last_known_status"] == inputs["last_known_status"]
    tracking = inputs["submission_tracking"]
    if tracking:
        assert r["submission_tracking"]["first_mcp_posted"] == tracking["firstMcpInfo"]["postDateStruct"]["date"]
    else:
        assert r["submission_tracking"] is None
