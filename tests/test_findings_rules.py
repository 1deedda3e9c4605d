"""Each finding's rule on constructed timelines, edge cases included: month precision, a missing
start, a partial history, a reverted outcome, a certificate of delay, a cancelled submission.

A timeline here is built as the store builds it (`findings.timeline.build`): records in time
order, each a registry history version (`v0` is the registration version) or the tool's own
observation; the trial as known after each is the store's known state.
"""

from __future__ import annotations

import copy
from datetime import date

import pytest

from trialwatch.ingest.parse import API, HISTORY
from trialwatch.ingest.record import empty_record
from trialwatch.snapshots.findings.evaluate import evaluate
from trialwatch.snapshots.findings.fdaaa import applicability, reporting, schedule, status_on
from trialwatch.snapshots.findings.outcomes import compare_outcomes, pair, primary_outcome_changed, severity
from trialwatch.snapshots.findings.progress import enrollment_vs_first_estimate, primary_completion_slippage
from trialwatch.snapshots.findings.registration import registered_retrospectively, retroactively_prospective
from trialwatch.snapshots.findings.sponsors import site_churn, sponsor_or_party_changed
from trialwatch.snapshots.findings.status import classify_reason, stale_status, stopped_reason_class
from trialwatch.snapshots.findings.timeline import build

NCT = "NCT00000001"
OS = {"measure": "Overall survival", "time_frame": "5 years", "description": "Death from any cause"}
PFS = {"measure": "Progression-free survival", "time_frame": "3 years", "description": "RECIST 1.1"}
AE = {"measure": "Number of participants with adverse events", "time_frame": "1 year", "description": None}


def record(**fields) -> dict:
    """A registry record of an interventional drug trial at a US site, registered 2020-01-10."""
    r = empty_record(NCT)
    r.update(
        title="A trial",
        status="NOT_YET_RECRUITING",
        in_registry=True,
        study_type="INTERVENTIONAL",
        phases=["PHASE3"],
        first_submitted="2020-01-10",
        first_submitted_qc="2020-01-14",
        first_posted="2020-01-16",
        last_updated="2020-01-16",
        start_date={"date": "2020-03-01", "type": "ESTIMATED"},
        primary_completion_date={"date": "2022-03-01", "type": "ESTIMATED"},
        completion_date={"date": "2023-03-01", "type": "ESTIMATED"},
        enrollment={"count": 100, "type": "ESTIMATED"},
        fda_regulated_drug=True,
        fda_regulated_device=False,
        interventions=[{"name": "Drug A", "type": "DRUG", "description": None, "other_names": []}],
        lead_sponsor={"name": "Acme Pharma", "class": "INDUSTRY"},
        responsible_party={
            "type": "SPONSOR",
            "investigator_name": None,
            "investigator_title": None,
            "investigator_affiliation": None,
        },
        outcomes={"primary": [copy.deepcopy(OS)], "secondary": [copy.deepcopy(PFS)], "other": []},
        locations=[site("Mayo Clinic", "Rochester", "United States"), site("Charité", "Berlin", "Germany")],
        status_verified="2020-01",
        unknown=["results"],
    )
    r["design"]["primary_purpose"] = "TREATMENT"
    for key, value in fields.items():
        r[key] = value
    return r


def site(facility, city, country):
    return {"facility": facility, "city": city, "state": None, "country": country, "status": None}


def edit(base: dict, **fields) -> dict:
    changed = copy.deepcopy(base)
    changed.update(fields)
    return changed


def history(*versions, first: int = 0):
    """Registry versions: (date, record) pairs, numbered from `first`."""
    rows = [(i + 1, f"{when}T00:00:00+00:00", HISTORY, first + i, r) for i, (when, r) in enumerate(versions)]
    return build(NCT, rows)


def observed(*versions):
    """The tool's own observations: (observed date, record) pairs."""
    rows = [(i + 1, f"{when}T12:00:00+00:00", API, None, r) for i, (when, r) in enumerate(versions)]
    return build(NCT, rows)


# -- the timeline ------------------------------------------------------------------------------


def test_a_history_from_version_0_reaches_registration_and_says_its_extent():
    t = history(("2020-01-14", record()), ("2021-05-02", record(status="RECRUITING")))
    assert t.from_registration
    assert t.extent()["text"] == "history from registration (2020-01-14) to 2021-05-02"
    later = history(("2021-05-02", record(status="RECRUITING", last_updated="2021-05-04")), first=3)
    assert not later.from_registration
    assert later.extent()["text"] == "no history before 2021-05-02; to 2021-05-02"


def test_an_own_observation_is_dated_by_its_submission_and_a_never_updated_record_is_registration():
    t = observed(("2024-06-01", record(last_update_submitted="2020-01-14")))
    assert t.first.date == date(2020, 1, 14)
    assert t.from_registration  # first posted = last updated: never updated
    updated = observed(("2024-06-01", record(last_updated="2023-02-02", last_update_submitted="2023-01-30")))
    assert updated.first.date == date(2023, 1, 30) and not updated.from_registration
    page = record(last_updated="2023-02-02")
    page["unknown"] = ["results", "last_update_submitted", "first_posted"]
    assert observed(("2024-06-01", page)).first.date == date(2023, 2, 2)


# -- registered_retrospectively ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "cls", "holds", "days"),
    [
        ({"date": "2020-03-01", "type": "ESTIMATED"}, "prospective", False, -51),
        ({"date": "2020-01-10", "type": "ACTUAL"}, "prospective", False, 0),  # registered on the start day
        ({"date": "2019-12-20", "type": "ACTUAL"}, "retrospective", True, 21),
        ({"date": "2020-01", "type": "ACTUAL"}, "same_month", None, 0),  # month precision: cannot tell
        ({"date": "2019-12", "type": "ACTUAL"}, "retrospective", True, 31),
        ({"date": "2020-02", "type": "ESTIMATED"}, "prospective", False, -31),
    ],
)
def test_registration_against_the_start_shown_in_the_first_version(start, cls, holds, days):
    t = history(
        ("2020-01-14", record(start_date=start)),
        ("2020-06-01", record(start_date={"date": "2020-03-09", "type": "ACTUAL"})),
    )
    finding = registered_retrospectively(t)
    assert (finding.cls, finding.holds, finding.days) == (cls, holds, days)
    assert finding.complete and finding.value["start_shown_in"] == "v0 2020-01-14"
    assert finding.value["registration_basis"].startswith("first submitted")


def test_an_unreadable_start_date_cannot_be_judged():
    t = history(("2020-01-14", record(start_date={"date": "soon", "type": "ESTIMATED"})))
    finding = registered_retrospectively(t)
    assert finding.holds is None and finding.cls == "unreadable_start_date"
    assert retroactively_prospective(t, finding).holds is None
    assert all(f.holds in (True, False, None) for f in evaluate(t, date(2026, 1, 1)))


def test_a_missing_start_date_cannot_be_judged():
    t = history(("2020-01-14", record(start_date=None)))
    finding = registered_retrospectively(t)
    assert finding.holds is None and finding.cls == "no_start_date"
    assert retroactively_prospective(t, finding).holds is None


def test_a_start_shown_first_in_a_later_version_is_used_and_says_so():
    t = history(
        ("2020-01-14", record(start_date=None)),
        ("2020-06-01", record(start_date={"date": "2019-11", "type": "ACTUAL"})),
    )
    finding = registered_retrospectively(t)
    assert finding.holds is True and not finding.complete
    assert "v1 2020-06-01 (the first version showing one)" in finding.summary


def test_a_partial_history_answers_from_the_earliest_version_and_is_not_complete():
    t = observed(("2024-06-01", record(start_date={"date": "2019-06-01", "type": "ACTUAL"}, last_updated="2024-05-01")))
    finding = registered_retrospectively(t)
    assert finding.holds is True and finding.days == 223 and not finding.complete
    assert finding.as_of == {}  # evaluate() sets it
    (full,) = [f for f in evaluate(t, date(2024, 6, 2)) if f.finding == "registered_retrospectively"]
    assert full.as_of["text"].startswith("no history before 2024-05-01") and full.as_of["from_registration"] is False


def test_without_a_submit_date_the_registration_version_date_then_first_posted():
    page = record(start_date={"date": "2020-01-15", "type": "ACTUAL"})
    page["first_submitted"] = page["first_submitted_qc"] = None
    t = history(("2020-01-14", page))
    finding = registered_retrospectively(t)
    assert (
        finding.value["registered"] == "2020-01-14"
        and finding.value["registration_basis"] == "date of the registration version"
    )
    later = observed(("2024-06-01", edit(page, last_updated="2024-05-01")))
    found = registered_retrospectively(later)
    assert found.value["registered"] == "2020-01-16" and found.value["registration_basis"].startswith("first posted")
    assert found.holds is True  # posted the 16th, started the 15th: the later date can only overstate lateness


# -- retroactively_prospective -----------------------------------------------------------------


def test_a_start_moved_after_registration_makes_a_retrospective_trial_look_prospective():
    v0 = record(start_date={"date": "2019-11-04", "type": "ACTUAL"}, status="RECRUITING")
    t = history(("2020-01-14", v0), ("2020-05-01", edit(v0, start_date={"date": "2020-02-03", "type": "ACTUAL"})))
    base = registered_retrospectively(t)
    assert base.holds is True and base.days == 67
    finding = retroactively_prospective(t, base)
    assert finding.holds is True and finding.cls == "moved_to_prospective" and finding.complete
    assert finding.value["moved_in"] == "v1 2020-05-01" and finding.value["current_class"] == "prospective"
    assert [e["role"] for e in finding.evidence] == ["start date shown", "registration date", "start date moved"]


def test_a_start_moved_into_the_registration_month_counts_and_one_still_before_does_not():
    v0 = record(start_date={"date": "2019-11", "type": "ACTUAL"})
    same = history(("2020-01-14", v0), ("2020-05-01", edit(v0, start_date={"date": "2020-01", "type": "ACTUAL"})))
    assert retroactively_prospective(same, registered_retrospectively(same)).cls == "moved_to_same_month"
    still = history(("2020-01-14", v0), ("2020-05-01", edit(v0, start_date={"date": "2019-12-15", "type": "ACTUAL"})))
    finding = retroactively_prospective(still, registered_retrospectively(still))
    assert finding.holds is False and finding.cls == "still_retrospective"


def test_a_prospective_registration_is_not_retroactively_prospective():
    t = history(("2020-01-14", record()), ("2020-05-01", record(start_date={"date": "2020-03-02", "type": "ACTUAL"})))
    finding = retroactively_prospective(t, registered_retrospectively(t))
    assert finding.holds is False and finding.cls == "not_retrospective"


# -- primary_outcome_changed -------------------------------------------------------------------

STARTED = {"date": "2020-03-09", "type": "ACTUAL"}


def switched(*later, start=STARTED, first=None):
    """v0 before the start (primary OS, secondary PFS), v1 the start, then `later` outcome sets."""
    v0 = first or record()
    versions = [("2020-01-14", v0), ("2020-03-20", edit(v0, status="RECRUITING", start_date=start))]
    for n, outcomes in enumerate(later):
        versions.append((f"2021-0{n + 1}-15", edit(versions[-1][1], outcomes=outcomes)))
    return history(*versions)


def test_no_change_of_the_primary_outcomes_is_no_switch():
    finding = primary_outcome_changed(switched({"primary": [OS], "secondary": [PFS, AE], "other": []}))
    assert finding.holds is False and finding.cls == "none" and finding.complete
    assert finding.value["reference"]["version"] == "v0 2020-01-14"


@pytest.mark.parametrize(
    ("outcomes", "kinds", "cls"),
    [
        ({"primary": [OS, AE], "secondary": [PFS]}, ["added"], "major"),
        ({"primary": [], "secondary": [PFS]}, ["removed"], "major"),
        ({"primary": [PFS], "secondary": [OS]}, ["moved_to_secondary", "moved_from_secondary"], "major"),
        ({"primary": [PFS], "secondary": []}, ["removed", "moved_from_secondary"], "major"),
        ({"primary": [AE], "secondary": [PFS]}, ["removed", "added"], "major"),  # replaced: not a rewording
        ({"primary": [{**OS, "measure": "Overall survival (OS)"}], "secondary": [PFS]}, ["measure_reworded"], "minor"),
        ({"primary": [{**OS, "time_frame": "7 years"}], "secondary": [PFS]}, ["time_frame_changed"], "minor"),
        (
            {"primary": [{**OS, "description": "Death from cancer"}], "secondary": [PFS]},
            ["description_changed"],
            "minor",
        ),
        (
            {"primary": [{**OS, "measure": "Survival time", "time_frame": "5 years"}], "secondary": [PFS]},
            ["measure_reworded"],
            "minor",
        ),
        (
            {"primary": [{**OS, "measure": "  OVERALL   survival "}], "secondary": [PFS]},
            [],
            "none",
        ),  # case and spacing aside
    ],
)
def test_each_kind_of_change_has_its_class(outcomes, kinds, cls):
    finding = primary_outcome_changed(switched({**outcomes, "other": []}))
    assert finding.cls == cls and finding.holds is (cls != "none")
    if kinds:
        (change,) = finding.value["changes"]
        assert [e["kind"] for e in change["events"]] == kinds
        assert change["timing"] == "after_start" and finding.days == 312


def test_rewording_is_told_from_replacement_by_shared_words():
    pairs, gone, new = pair([OS], [{"measure": "Overall survival at 5 years"}])
    assert pairs == [(0, 0)] and not gone and not new
    pairs, gone, new = pair([OS], [{"measure": "Progression-free survival"}])  # 1 of 4 words: not the same outcome
    assert pairs == [] and gone == [0] and new == [0]
    assert severity(compare_outcomes({"primary": [OS]}, {"primary": [{"measure": "Disease-free survival"}]})) == "major"


def test_markup_only_differences_are_no_change():
    html_first = {**OS, "description": "* Death from any cause\n* at 5 years"}
    markdown_later = {**OS, "description": "- Death from any cause\n- at 5 years"}
    assert compare_outcomes({"primary": [html_first]}, {"primary": [markdown_later]}) == []


def test_changes_are_timed_against_the_actual_dates():
    done = edit(
        record(),
        primary_completion_date={"date": "2021-02-01", "type": "ACTUAL"},
        completion_date={"date": "2021-04-01", "type": "ACTUAL"},
    )
    t = switched(
        {"primary": [OS, AE], "secondary": [PFS]},
        {"primary": [AE], "secondary": [PFS]},
        {"primary": [AE, PFS], "secondary": []},
        {"primary": [PFS], "secondary": [AE]},
        first=done,
    )
    # v2 2021-01-15 after start; v3 2021-02-15 after primary completion; v4 2021-03-15 likewise; v5 2021-04-15 after completion
    assert [c["timing"] for c in primary_outcome_changed(t).value["changes"]] == [
        "after_start",
        "after_primary_completion",
        "after_primary_completion",
        "after_completion",
    ]


def test_a_switch_reverted_later_is_hidden():
    finding = primary_outcome_changed(
        switched({"primary": [PFS], "secondary": []}, {"primary": [OS], "secondary": [PFS]})
    )
    assert finding.holds is True and finding.cls == "major"
    assert finding.value["hidden"] is True and finding.value["current_against_reference"] == "none"
    assert [c["against_reference"] for c in finding.value["changes"]] == ["major", "none"]
    assert "hidden" in finding.summary
    partly = primary_outcome_changed(
        switched(
            {"primary": [PFS], "secondary": []}, {"primary": [{**OS, "time_frame": "6 years"}], "secondary": [PFS]}
        )
    )
    assert (
        partly.cls == "major"
        and partly.value["hidden"] is True
        and partly.value["current_against_reference"] == "minor"
    )


def test_changes_before_the_start_are_listed_but_are_no_switch():
    v0 = record()
    t = history(
        ("2020-01-14", v0),
        ("2020-02-01", edit(v0, outcomes={"primary": [PFS], "secondary": [], "other": []})),
        (
            "2020-03-20",
            edit(
                v0, status="RECRUITING", start_date=STARTED, outcomes={"primary": [PFS], "secondary": [], "other": []}
            ),
        ),
    )
    finding = primary_outcome_changed(t)
    assert finding.value["reference"]["version"] == "v1 2020-02-01"
    assert finding.holds is False
    assert [(c["timing"], c["class"], c["against_reference"]) for c in finding.value["changes"]] == [
        ("before_start", "major", None)
    ]


def test_month_precision_start_counts_its_month_as_before():
    v0 = record(start_date={"date": "2020-03", "type": "ESTIMATED"})
    t = history(
        ("2020-01-14", v0),
        ("2020-03-28", edit(v0, outcomes={"primary": [AE], "secondary": [PFS], "other": []})),
        (
            "2020-04-02",
            edit(
                v0,
                status="RECRUITING",
                start_date={"date": "2020-03", "type": "ACTUAL"},
                outcomes={"primary": [AE], "secondary": [PFS], "other": []},
            ),
        ),
    )
    finding = primary_outcome_changed(t)
    assert finding.value["reference"]["version"] == "v1 2020-03-28" and finding.holds is False


def test_a_trial_not_started_has_no_switch_and_one_without_a_start_is_timed_unknown():
    v0 = record()
    t = history(("2020-01-14", v0), ("2020-02-01", edit(v0, outcomes={"primary": [PFS], "secondary": [], "other": []})))
    assert primary_outcome_changed(t).holds is False and primary_outcome_changed(t).complete
    v0 = record(start_date=None)
    t = history(("2020-01-14", v0), ("2020-02-01", edit(v0, outcomes={"primary": [PFS], "secondary": [], "other": []})))
    finding = primary_outcome_changed(t)
    assert finding.holds is True and finding.value["timing"] == "start_unknown" and not finding.complete


def test_without_a_version_before_the_start_the_reference_is_the_first_seen():
    started = record(status="RECRUITING", start_date=STARTED, last_updated="2020-06-01")
    t = observed(
        ("2020-06-02", started),
        (
            "2021-01-02",
            edit(started, last_updated="2021-01-01", outcomes={"primary": [AE], "secondary": [PFS], "other": []}),
        ),
    )
    finding = primary_outcome_changed(t)
    assert finding.holds is True and finding.cls == "major" and not finding.complete
    assert "already after the start" in finding.value["reference"]["why"]
    once = observed(("2020-06-02", started))
    assert primary_outcome_changed(once).holds is None and primary_outcome_changed(once).cls == "seen_once"


# -- primary_completion_slippage ---------------------------------------------------------------


def test_slippage_counts_postponements_at_the_coarser_precision_and_when_it_became_actual():
    v0 = record()
    t = history(
        ("2020-01-14", v0),
        ("2021-01-10", edit(v0, primary_completion_date={"date": "2022-09", "type": "ESTIMATED"})),
        ("2021-06-10", edit(v0, primary_completion_date={"date": "2022-09-20", "type": "ESTIMATED"})),  # refinement
        ("2022-06-10", edit(v0, primary_completion_date={"date": "2023-05-31", "type": "ESTIMATED"})),
        ("2023-07-20", edit(v0, primary_completion_date={"date": "2023-06-30", "type": "ACTUAL"})),
    )
    finding = primary_completion_slippage(t)
    assert finding.holds is True and finding.cls == "slipped" and finding.complete
    assert finding.days == 486  # 2022-03-01 → 2023-06-30
    assert finding.value["postponements"] == 3 and finding.value["advances"] == 0
    assert finding.value["became_actual"] == {
        "version": "v4 2023-07-20",
        "snapshot_id": 5,
        "date": "2023-07-20",
        "lag_days": 20,
        "exact": True,
    }


def test_a_date_brought_forward_or_refined_is_no_slippage():
    v0 = record()
    earlier = history(
        ("2020-01-14", v0), ("2021-01-10", edit(v0, primary_completion_date={"date": "2021-12-01", "type": "ACTUAL"}))
    )
    assert (
        primary_completion_slippage(earlier).cls == "advanced" and primary_completion_slippage(earlier).holds is False
    )
    v0 = record(primary_completion_date={"date": "2022-03", "type": "ESTIMATED"})
    refined = history(
        ("2020-01-14", v0),
        ("2021-01-10", edit(v0, primary_completion_date={"date": "2022-03-31", "type": "ESTIMATED"})),
    )
    assert primary_completion_slippage(refined).days == 0 and primary_completion_slippage(refined).holds is False


def test_one_observation_measures_no_slippage():
    finding = primary_completion_slippage(observed(("2024-06-01", record(last_updated="2024-05-01"))))
    assert finding.holds is None and finding.cls == "seen_once"
    registered = primary_completion_slippage(history(("2020-01-14", record())))
    assert registered.holds is False and registered.days == 0 and registered.complete  # the registration version alone


# -- enrollment_vs_first_estimate --------------------------------------------------------------


def test_enrollment_as_a_percent_of_the_first_estimate():
    v0 = record()
    t = history(
        ("2020-01-14", v0),
        ("2020-06-01", edit(v0, enrollment={"count": 120, "type": "ESTIMATED"})),
        ("2022-06-01", edit(v0, enrollment={"count": 53, "type": "ACTUAL"})),
    )
    finding = enrollment_vs_first_estimate(t)
    assert finding.holds is True and finding.percent == 53.0 and finding.cls == "shortfall"
    assert (
        finding.value["first"] == {"count": 100, "type": "ESTIMATED"}
        and finding.value["last_changed"] == "v2 2022-06-01"
    )
    enough = history(("2020-01-14", v0), ("2022-06-01", edit(v0, enrollment={"count": 85, "type": "ACTUAL"})))
    assert enrollment_vs_first_estimate(enough).holds is False
    assert enrollment_vs_first_estimate(enough, below=90).holds is True  # the threshold is a parameter


def test_a_first_enrollment_already_actual_is_no_estimate():
    t = history(("2020-01-14", record(enrollment={"count": 40, "type": "ACTUAL"})))
    finding = enrollment_vs_first_estimate(t)
    assert finding.holds is None and finding.cls == "no_first_estimate"


def test_a_first_enrollment_without_a_type_counts_as_an_estimate_while_recruiting():
    page = record(enrollment={"count": 200, "type": None}, status="RECRUITING")
    t = history(("2020-01-14", page), ("2022-01-01", edit(page, enrollment={"count": 150, "type": "ACTUAL"})))
    assert enrollment_vs_first_estimate(t).percent == 75.0


# -- FDAAA 801 ---------------------------------------------------------------------------------


def rule(on="2026-11-29", **fields):
    return schedule(record(**fields), date.fromisoformat(on))


def test_due_a_year_after_primary_completion_a_month_read_as_its_last_day():
    done = rule(primary_completion_date={"date": "2022-03", "type": "ACTUAL"})
    assert done["due_date"] == "2023-03-31" and done["overdue_after"] == "2023-04-30"
    assert done["status"] == "overdue"
    assert (
        rule(on="2023-03-31", primary_completion_date={"date": "2022-03", "type": "ACTUAL"})["status"] == "not_yet_due"
    )
    assert (
        rule(on="2023-04-30", primary_completion_date={"date": "2022-03", "type": "ACTUAL"})["status"] == "due_in_grace"
    )
    assert rule(on="2023-05-01", primary_completion_date={"date": "2022-03", "type": "ACTUAL"})["status"] == "overdue"
    leap = rule(primary_completion_date={"date": "2020-02-29", "type": "ACTUAL"})
    assert leap["due_date"] == "2021-02-28"
    no_pcd = rule(primary_completion_date=None, completion_date={"date": "2022-07-15", "type": "ACTUAL"})
    assert no_pcd["clock"] == "completion_date" and no_pcd["due_date"] == "2023-07-15"


def test_a_certificate_of_delay_gives_three_years():
    certified = rule(
        primary_completion_date={"date": "2022-03-01", "type": "ACTUAL"}, certificate_of_delay="2022-12-01"
    )
    assert certified["due_date"] == "2025-03-01" and certified["due_date_without_certificate"] == "2023-03-01"
    reported = rule(
        primary_completion_date={"date": "2022-03-01", "type": "ACTUAL"},
        certificate_of_delay="2022-12-01",
        has_results=True,
        results_first_submitted="2024-10-01",
        results_first_posted="2024-12-01",
    )
    assert reported["status"] == "reported_on_time" and reported["late"] is False and reported["days_late"] == 0


def test_a_cancelled_submission_is_not_reported_and_a_pending_one_is():
    tracking = {
        "estimated_results_first_submitted": None,
        "first_mcp_posted": None,
        "submissions": [
            {
                "release": "2023-02-01",
                "unrelease": "2023-02-20",
                "unrelease_unknown": None,
                "reset": None,
                "mcp_release_n": 1,
            }
        ],
    }
    cancelled = rule(primary_completion_date={"date": "2022-03-01", "type": "ACTUAL"}, submission_tracking=tracking)
    assert (
        cancelled["reported"] is False
        and cancelled["submission_cancelled"] is True
        and cancelled["status"] == "overdue"
    )
    pending = copy.deepcopy(tracking)
    pending["submissions"].append(
        {
            "release": "2023-05-10",
            "unrelease": None,
            "unrelease_unknown": None,
            "reset": "2023-06-10",
            "mcp_release_n": 2,
        }
    )
    returned = rule(primary_completion_date={"date": "2022-03-01", "type": "ACTUAL"}, submission_tracking=pending)
    assert returned["reported"] is True and returned["reported_date"] == "2023-05-10"
    assert returned["status"] == "reported_late" and returned["days_late"] == 70
    assert reporting(record(results_first_submitted="2023-01-01"))["reported"] is True


@pytest.mark.parametrize(
    ("fields", "applicable"),
    [
        ({}, True),
        (
            {"fda_regulated_drug": False, "fda_regulated_device": False},
            False,
        ),  # flags decide: a drug at a US site is not enough
        ({"fda_regulated_drug": None, "fda_regulated_device": True}, True),
        ({"fda_regulated_drug": None, "fda_regulated_device": None}, True),  # fallback: drug and a US site
        (
            {
                "fda_regulated_drug": None,
                "fda_regulated_device": None,
                "locations": [site("Charité", "Berlin", "Germany")],
            },
            False,
        ),
        (
            {
                "fda_regulated_drug": None,
                "fda_regulated_device": None,
                "interventions": [{"name": "CBT", "type": "BEHAVIORAL", "description": None, "other_names": []}],
            },
            False,
        ),
        ({"phases": ["PHASE1"]}, False),
        ({"phases": ["EARLY_PHASE1"]}, False),
        ({"phases": ["PHASE1", "PHASE2"]}, True),
        ({"phases": ["NA"]}, True),
        ({"phases": []}, False),
        ({"study_type": "OBSERVATIONAL"}, False),
        ({"status": "WITHDRAWN"}, False),
    ],
)
def test_applicable_clinical_trials(fields, applicable):
    assert applicability(record(**fields))[0] is applicable


def test_device_feasibility_is_not_applicable_and_a_page_without_flags_is_unknown():
    feasibility = record()
    feasibility["design"]["primary_purpose"] = "DEVICE_FEASIBILITY"
    assert applicability(feasibility)[0] is False
    page = record()
    page["unknown"] = ["results", "fda_regulated_drug", "fda_regulated_device"]
    assert applicability(page)[0] is None
    assert status_on(date(2026, 1, 1), None, None, reporting(page)) == "unknown"
    found = {f.finding: f for f in evaluate(history(("2020-01-14", page)), date(2026, 1, 1))}
    assert found["results_overdue"].holds is None and found["results_due"].holds is None


def test_the_plain_rule_counts_posted_results_for_completed_trials():
    done = {"status": "COMPLETED", "primary_completion_date": {"date": "2022-03-01", "type": "ACTUAL"}}
    found = {f.finding: f for f in evaluate(history(("2020-01-14", record(**done))), date(2023, 6, 1))}
    assert found["no_results_12m"].holds is True and found["no_results_12m"].value["point"] == "2023-03-01"
    assert found["no_results_24m"].holds is None and found["no_results_24m"].cls == "not_yet_elapsed"
    posted = {
        f.finding: f
        for f in evaluate(
            history(("2020-01-14", record(**done, has_results=True, results_first_posted="2024-01-05"))),
            date(2026, 1, 1),
        )
    }
    assert posted["no_results_12m"].holds is True and posted["no_results_24m"].holds is False
    recruiting = {f.finding: f for f in evaluate(history(("2020-01-14", record())), date(2026, 1, 1))}
    assert recruiting["no_results_12m"].holds is False and recruiting["no_results_12m"].cls == "not_applicable"


# -- stale_status ------------------------------------------------------------------------------


def test_an_ongoing_status_not_verified_for_two_years_is_stale():
    t = history(("2020-01-14", record(status="RECRUITING", status_verified="2021-03")))
    assert stale_status(t, date(2023, 3, 31)).holds is False  # verified in March 2021: stale after 2023-03-31
    stale = stale_status(t, date(2023, 4, 1))
    assert stale.holds is True and stale.cls == "not_verified_2y" and stale.days == 731
    done = history(("2020-01-14", record(status="COMPLETED", status_verified="2021-03")))
    assert stale_status(done, date(2026, 1, 1)).holds is False


def test_the_registry_marking_a_status_unknown_holds():
    t = history(("2020-01-14", record(status="UNKNOWN", last_known_status="RECRUITING", status_verified="2021-03")))
    finding = stale_status(t, date(2026, 1, 1))
    assert (
        finding.holds is True
        and finding.cls == "registry_unknown"
        and finding.value["last_known_status"] == "RECRUITING"
    )


def test_a_verification_newer_than_the_last_snapshot_may_exist():
    t = history(("2020-01-14", record(status="RECRUITING", status_verified="2021-03", last_updated="2021-03-05")))
    t.newest_update = "2024-02-01"  # a check saw a newer registry update that changed nothing kept
    finding = stale_status(t, date(2024, 6, 1))
    assert finding.holds is True and finding.complete is False


def test_the_completion_update_lag_between_registry_versions():
    v0 = record(status="ACTIVE_NOT_RECRUITING")
    done = edit(v0, status="COMPLETED", completion_date={"date": "2022-02-10", "type": "ACTUAL"})
    late = history(("2020-01-14", v0), ("2022-07-01", done))
    finding = stale_status(late, date(2026, 1, 1))
    assert finding.holds is True and finding.cls == "completion_reported_late" and finding.days == 141
    assert finding.complete and finding.value["completion"]["exact"] is True
    prompt = history(("2020-01-14", v0), ("2022-03-01", done))
    assert stale_status(prompt, date(2026, 1, 1)).holds is False and stale_status(prompt, date(2026, 1, 1)).days == 19
    first_seen = history(("2022-07-01", done), first=4)
    unseen = stale_status(first_seen, date(2026, 1, 1))
    assert unseen.holds is None and unseen.cls == "completed_before_history"
    own = observed(
        ("2020-01-20", edit(v0, last_updated="2020-01-16")), ("2022-07-03", edit(done, last_updated="2022-07-01"))
    )
    assert (
        stale_status(own, date(2026, 1, 1)).days == 141 and stale_status(own, date(2026, 1, 1)).complete is False
    )  # at most


# -- stopped_reason_class ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cls", "classes"),
    [
        ("Slow accrual", "accrual", ["accrual"]),
        ("Low enrollment", "accrual", ["accrual"]),
        ("Difficulty recruiting eligible patients", "accrual", ["accrual"]),
        ("Lack of funding", "business_funding", ["business_funding"]),
        ("Sponsor decision", "business_funding", ["business_funding"]),
        (
            "Corporate business decision. Not due to safety or efficacy concerns.",
            "business_funding",
            ["business_funding"],
        ),
        ("The study was stopped for strategic reasons, not for safety", "business_funding", ["business_funding"]),
        ("Safety concerns", "safety", ["safety"]),
        ("Unexpected toxicity in the first cohort", "safety", ["safety"]),
        ("Futility at the interim analysis", "efficacy_futility", ["efficacy_futility"]),
        ("DSMB recommended stopping for lack of efficacy", "efficacy_futility", ["efficacy_futility"]),
        ("Poor accrual and loss of funding", "accrual", ["accrual", "business_funding"]),
        ("Serious adverse events and slow enrollment", "safety", ["safety", "accrual"]),
        ("Primary PI left institution", "other", []),
        ("recruiting or enrolling participants has halted prematurely and will not resume", "not_given", []),
        ("", "not_given", []),
        (None, "not_given", []),
    ],
)
def test_why_stopped_is_classed_by_the_shipped_keyword_rules(text, cls, classes):
    result = classify_reason(text)
    assert result["class"] == cls and result["classes"] == classes


def test_only_stopped_trials_have_a_stopped_reason():
    t = history(("2020-01-14", record(status="TERMINATED", why_stopped="Lack of funding")))
    finding = stopped_reason_class(t)
    assert (
        finding.holds is True
        and finding.cls == "business_funding"
        and finding.value["why_stopped"] == "Lack of funding"
    )
    assert stopped_reason_class(history(("2020-01-14", record()))).holds is False


# -- sponsor_or_party_changed and site_churn ---------------------------------------------------


def test_a_sponsor_change_and_its_reversal_are_seen():
    v0 = record()
    t = history(
        ("2020-01-14", v0),
        ("2021-01-01", edit(v0, lead_sponsor={"name": "BigCo", "class": "INDUSTRY"})),
        ("2022-01-01", edit(v0, lead_sponsor={"name": "acme  pharma", "class": "INDUSTRY"})),
    )
    finding = sponsor_or_party_changed(t)
    assert finding.holds is True and finding.cls == "lead_sponsor" and finding.value["reverted"] == ["lead_sponsor"]
    assert [c["version"] for c in finding.value["changes"]] == ["v1 2021-01-01", "v2 2022-01-01"]
    party = history(
        ("2020-01-14", v0),
        (
            "2021-01-01",
            edit(
                v0,
                responsible_party={
                    "type": "PRINCIPAL_INVESTIGATOR",
                    "investigator_name": "Jane Roe",
                    "investigator_title": None,
                    "investigator_affiliation": None,
                },
            ),
        ),
    )
    assert sponsor_or_party_changed(party).cls == "responsible_party"
    assert sponsor_or_party_changed(observed(("2024-06-01", edit(v0, last_updated="2024-05-01")))).holds is None


def test_site_churn_holds_for_sites_removed_or_countries_changed():
    v0 = record()
    grown = edit(v0, locations=v0["locations"] + [site("MGH", "Boston", "United States")])
    t = history(("2020-01-14", v0), ("2021-01-01", grown))
    added = site_churn(t)
    assert added.holds is False and added.cls == "sites_added" and added.value["sites_added"] == 1
    dropped = history(
        ("2020-01-14", v0),
        ("2021-01-01", grown),
        ("2022-01-01", edit(v0, locations=[site("MGH", "Boston", "United States")])),
    )
    churn = site_churn(dropped)
    assert churn.holds is True and churn.cls == "countries"
    assert churn.value["countries_removed"] == ["Germany"] and churn.value["sites_removed"] == 2
    assert churn.value["first_sites"] == 2 and churn.value["current_sites"] == 1


# -- all together ------------------------------------------------------------------------------


def test_every_finding_is_evaluated_in_the_order_of_the_definitions():
    from trialwatch.snapshots.findings.definitions import NAMES

    found = evaluate(history(("2020-01-14", record())), date(2026, 1, 1))
    assert tuple(f.finding for f in found) == NAMES
    assert all(f.as_of["evaluated_on"] == "2026-01-01" for f in found)


# -- what poorer sources do not show -----------------------------------------------------------


def test_a_page_day_that_may_stand_for_a_month_is_read_as_the_month():
    page = record(start_date={"date": "2020-01-01", "type": None}, last_updated="2020-06-01")
    page["unknown"] = ["results", "start_date.precision", "start_date.type", "last_update_submitted"]
    finding = registered_retrospectively(observed(("2020-06-02", page)))
    assert finding.cls == "same_month" and finding.holds is None  # not "9 days after 2020-01-01"
    assert finding.value["start_date"]["date"] == "2020-01"


def test_outcomes_a_results_page_shows_in_part_are_not_compared():
    api = record(
        status="RECRUITING",
        start_date=STARTED,
        last_updated="2020-06-01",
        outcomes={"primary": [OS, AE], "secondary": [PFS], "other": []},
    )
    results_page = edit(
        api,
        last_updated="2021-06-01",
        outcomes={
            "primary": [{"time_frame": "5 years", "description": "Death from any cause"}],
            "secondary": [],
            "other": [],
        },
    )
    results_page["unknown"] = [
        "outcomes.primary.rest",
        "outcomes.primary[].measure",
        "outcomes.secondary",
        "outcomes.other",
    ]
    first_page = observed(("2021-06-02", results_page), ("2021-07-02", edit(api, last_updated="2021-07-01")))
    finding = primary_outcome_changed(first_page)
    assert finding.holds is None and finding.cls == "seen_once"  # the page's outcome is not a reference
    between = observed(
        ("2020-06-02", api), ("2021-06-02", results_page), ("2021-07-02", edit(api, last_updated="2021-07-01"))
    )
    assert primary_outcome_changed(between).holds is False  # the page's partial list is read with what was known


def test_the_status_at_registration_is_kept_beside_the_start():
    t = history(
        ("2020-01-14", record(start_date=None)),
        ("2020-06-01", record(start_date={"date": "2020-03-09", "type": "ACTUAL"})),
    )
    finding = registered_retrospectively(t)
    assert finding.value["status_at_registration"] == "NOT_YET_RECRUITING" and not finding.complete
