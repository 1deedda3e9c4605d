"""The diff's meaning rules, one by one, on small records."""

import copy

import pytest

from trialwatch.ingest.record import empty_record
from trialwatch.snapshots.changes.diff import diff_records


def record(**fields):
    base = empty_record("NCT01234567")
    base.update(title="A trial", status="RECRUITING")
    base.update(fields)
    return base


def edited(base, **fields):
    new = copy.deepcopy(base)
    new.update(fields)
    return new


def only(changes):
    assert len(changes) == 1, [c["summary"] for c in changes]
    return changes[0]


@pytest.mark.parametrize(
    "new_status, severity",
    [
        ("ACTIVE_NOT_RECRUITING", "notable"),
        ("SUSPENDED", "critical"),
        ("TERMINATED", "critical"),
        ("WITHDRAWN", "critical"),
        ("COMPLETED", "notable"),
    ],
)
def test_status_keeps_both_ends_and_its_severity(new_status, severity):
    change = only(diff_records(record(), record(status=new_status)))
    assert (change["category"], change["field"], change["old"], change["new"]) == (
        "status",
        "status",
        "RECRUITING",
        new_status,
    )
    assert change["severity"] == severity
    assert change["summary"] == f"Status RECRUITING → {new_status}"


def test_date_shift_in_days_and_severity():
    old = record(primary_completion_date={"date": "2026-06-30", "type": "ESTIMATED"})
    moved = only(diff_records(old, edited(old, primary_completion_date={"date": "2026-09-30", "type": "ESTIMATED"})))
    assert (moved["shift_days"], moved["severity"], moved["precision_changed"]) == (92, "notable", False)
    assert "moved 92 days later" in moved["summary"]
    small = only(diff_records(old, edited(old, primary_completion_date={"date": "2026-07-10", "type": "ESTIMATED"})))
    assert (small["shift_days"], small["severity"]) == (10, "minor")
    earlier = only(diff_records(old, edited(old, primary_completion_date={"date": "2026-03", "type": "ESTIMATED"})))
    assert earlier["shift_days"] == -92 and "earlier" in earlier["summary"]


def test_month_to_day_in_the_same_month_is_a_precision_change_not_a_shift():
    old = record(start_date={"date": "2025-03", "type": "ESTIMATED"})
    change = only(diff_records(old, edited(old, start_date={"date": "2025-03-15", "type": "ESTIMATED"})))
    assert change["precision_changed"] is True
    assert change["shift_days"] == 0
    assert change["severity"] == "minor"
    assert "moved" not in change["summary"] and "precision month → day" in change["summary"]


def test_date_type_flip_became_actual():
    old = record(start_date={"date": "2021-12", "type": "ESTIMATED"})
    change = only(diff_records(old, edited(old, start_date={"date": "2021-12-28", "type": "ACTUAL"})))
    assert change["became_actual"] is True
    assert (change["old_type"], change["new_type"]) == ("ESTIMATED", "ACTUAL")
    assert change["precision_changed"] is True and change["shift_days"] == 0
    assert "became actual" in change["summary"] and "moved" not in change["summary"]


def test_a_page_day_against_the_api_month_is_no_change():
    page = record(
        start_date={"date": "2025-01-31", "type": None},
        enrollment={"count": 40, "type": None},
        unknown=["start_date.type", "start_date.precision", "enrollment.type", "primary_completion_date"],
    )
    api = record(
        start_date={"date": "2025-01", "type": "ESTIMATED"},
        enrollment={"count": 40, "type": "ESTIMATED"},
        primary_completion_date={"date": "2027-12", "type": "ESTIMATED"},
    )
    assert diff_records(page, api) == []
    assert diff_records(api, page) == []
    other_month = edited(api, start_date={"date": "2025-02", "type": "ESTIMATED"})
    change = only(diff_records(page, other_month))
    assert change["shift_days"] == 31


def test_enrollment_percent_and_type_flip():
    old = record(enrollment={"count": 40, "type": "ESTIMATED"})
    small = only(diff_records(old, edited(old, enrollment={"count": 38, "type": "ESTIMATED"})))
    assert (small["old"], small["new"], small["percent_change"], small["severity"]) == (
        {"count": 40, "type": "ESTIMATED"},
        {"count": 38, "type": "ESTIMATED"},
        -5.0,
        "minor",
    )
    assert small["summary"] == "Enrollment 40 → 38 (-5.0%)"
    big = only(diff_records(old, edited(old, enrollment={"count": 60, "type": "ESTIMATED"})))
    assert (big["percent_change"], big["severity"]) == (50.0, "notable")
    flip = only(diff_records(old, edited(old, enrollment={"count": 40, "type": "ACTUAL"})))
    assert (flip["old_type"], flip["new_type"], flip["severity"]) == ("ESTIMATED", "ACTUAL", "notable")


def arm(label, description="d", interventions=("Drug A",), type_="EXPERIMENTAL"):
    return {"label": label, "type": type_, "description": description, "interventions": list(interventions)}


def test_lists_match_by_identity_not_position():
    old = record(arms=[arm("A"), arm("B", "other")], conditions=["Asthma", "COPD"])
    assert diff_records(old, edited(old, arms=[arm("B", "other"), arm("A")], conditions=["COPD", "Asthma"])) == []
    added = only(diff_records(old, edited(old, arms=[arm("A"), arm("C", "new one"), arm("B", "other")])))
    assert (added["kind"], added["item"], added["category"], added["severity"]) == ("added", "C", "arms", "notable")
    assert added["summary"] == "Arm added: 'C'"


def test_a_renamed_arm_is_one_rename():
    old = record(arms=[arm("MSC Theatment"), arm("Placebo", "saline", ["Placebo"])])
    change = only(diff_records(old, edited(old, arms=[arm("MSC Treatment"), arm("Placebo", "saline", ["Placebo"])])))
    assert (change["kind"], change["old"]["label"], change["new"]["label"]) == (
        "renamed",
        "MSC Theatment",
        "MSC Treatment",
    )
    assert change["summary"] == "Arm renamed: 'MSC Theatment' → 'MSC Treatment'"


def test_a_changed_arm_names_what_changed():
    old = record(arms=[arm("A", type_="EXPERIMENTAL")])
    change = only(diff_records(old, edited(old, arms=[arm("A", type_="ACTIVE_COMPARATOR")])))
    assert change["kind"] == "changed" and change["item"] == "A"
    assert "type EXPERIMENTAL → ACTIVE_COMPARATOR" in change["summary"]


def test_criteria_added_and_removed_line_by_line():
    old = record()
    old["eligibility"]["exclusion"] = ["Pregnancy", "Allergy to stem cells"]
    new = copy.deepcopy(old)
    new["eligibility"]["exclusion"] = ["Allergy to stem cells", "Pregnancy", "Prior gene therapy"]
    change = only(diff_records(old, new))
    assert (change["field"], change["category"], change["severity"]) == (
        "eligibility.exclusion",
        "eligibility",
        "notable",
    )
    assert (change["lines_added"], change["lines_removed"]) == (["Prior gene therapy"], [])
    assert change["summary"] == "Exclusion criteria: 1 added: Prior gene therapy"


def test_long_text_reports_lines_added_and_removed():
    old = record(summary="First paragraph.\n\nSecond paragraph.")
    change = only(diff_records(old, edited(old, summary="First paragraph.\n\nA new second paragraph.")))
    assert change["lines_added"] == ["A new second paragraph."]
    assert change["lines_removed"] == ["Second paragraph."]
    assert change["category"] == "description"


def test_primary_outcome_change_is_critical_and_results_removed_too():
    outcome = {"measure": "eGFR at 12 months", "time_frame": "12 months", "description": None}
    old = record(outcomes={"primary": [outcome], "secondary": [], "other": []}, has_results=True)
    switched = edited(
        old, outcomes={"primary": [dict(outcome, measure="Proteinuria at 6 months")], "secondary": [], "other": []}
    )
    changes = diff_records(old, switched)
    assert {c["severity"] for c in changes} == {"critical"} and {c["category"] for c in changes} == {"outcomes"}
    removed = only(diff_records(old, edited(old, has_results=False)))
    assert (removed["severity"], removed["summary"]) == ("critical", "Results removed")


def test_locations_match_by_site_and_scale_linearly():
    sites = [
        {"facility": f"Site {i}", "city": "Lyon", "state": None, "country": "France", "status": "RECRUITING"}
        for i in range(3000)
    ]
    old = record(locations=sites)
    new_sites = copy.deepcopy(sites[::-1])
    new_sites[10]["status"] = "COMPLETED"
    change = only(diff_records(old, edited(old, locations=new_sites)))
    assert change["item"] == "Site 2989, Lyon, France"
    assert "status RECRUITING → COMPLETED" in change["summary"]


def test_unknown_fields_never_change_and_first_appearance_is_silent():
    page = record(
        unknown=["locations", "outcomes", "central_contacts[].email"],
        central_contacts=[{"name": "Xia Gao", "role": "CONTACT", "phone": "1", "email": None}],
    )
    api = record(
        locations=[{"facility": "H", "city": "C", "state": None, "country": "X", "status": None}],
        outcomes={"primary": [{"measure": "m", "time_frame": "t", "description": None}], "secondary": [], "other": []},
        central_contacts=[{"name": "Xia Gao", "role": "CONTACT", "phone": "1", "email": "x@example.org"}],
    )
    assert diff_records(page, api) == []


def test_page_keywords_joined_on_one_line_equal_the_api_list():
    # A page may run several keywords together on one line: its item boundaries are unknown.
    page = record(keywords=["Alport syndrome Human Umbilical Cord Mesenchymal Stem Cells"], unknown=["keywords.items"])
    api = record(keywords=["Alport syndrome", "Human Umbilical Cord Mesenchymal Stem Cells"])
    assert diff_records(page, api) == []
    reordered = record(
        keywords=["Human Umbilical Cord Mesenchymal Stem Cells Alport syndrome"], unknown=["keywords.items"]
    )
    assert diff_records(api, reordered) == [] and diff_records(reordered, api) == []
    change = only(diff_records(api, edited(api, keywords=["Alport syndrome", "Kidney"])))
    assert change["lines_added"] == ["Kidney"]


def test_report_order_status_dates_enrollment_first():
    old = record(title="Old", start_date={"date": "2025-01", "type": None}, enrollment={"count": 10, "type": None})
    new = edited(
        old,
        title="New",
        status="TERMINATED",
        start_date={"date": "2025-06", "type": None},
        enrollment={"count": 5, "type": None},
    )
    assert [c["category"] for c in diff_records(old, new)] == ["status", "dates", "enrollment", "description"]
