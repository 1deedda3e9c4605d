"""The saved-page parser (text, label-less text, HTML) on real files: the seed and its variants.

The variants live in tests/fixtures/pages/ (README.md there says how each was made).
"""

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trialwatch.ingest.errors import InputError
from trialwatch.ingest.html import html_to_text, parse_html
from trialwatch.ingest.page import ALWAYS_UNKNOWN, LABEL_LESS_UNKNOWN, SECTIONS, looks_like_html, parse_page
from trialwatch.ingest.record import TOP_LEVEL

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "tests" / "fixtures" / "pages"
SEED_PATH = ROOT / "seeds" / "NCT06731192.txt"
SEED_TEXT = SEED_PATH.read_text(encoding="utf-8")
LABEL_LESS_TEXT = (PAGES / "NCT06731192.label-less.full.txt").read_text(encoding="utf-8")
HTML_VARIANTS = ["NCT06731192.semantic.html", "NCT06731192.div-soup.html", "NCT06731192.table.html"]

HUC_MSC = (
    "This group of patients received a total of 2 peripheral intravenous Human umbilical cord mesenchymal stem "
    "cells (hUC-MSC) infusions during the treatment period on the basis of conventional symptomatic and "
    "supportive treatment. The interval between the two infusions was 14 days, and the single infusion dose was "
    "approximately 2×1000,000 cells/Kg.\n\n"
    "Conventional clinical treatment refers to symptomatic treatment with ACEI and ARB drugs."
)
PLACEBO = (
    "This group of patients received a total of 2 intravenous infusions of normal saline (the same volume, "
    "specifications and batches used in the experimental group) as a placebo control during the treatment "
    "period on the basis of conventional symptomatic and supportive treatment. The interval between the two "
    "infusions was 14 days.\n\n"
    "Conventional clinical treatment refers to symptomatic treatment with ACEI and ARB drugs."
)
SEED = {
    "nct_id": "NCT06731192",
    "title": "Human Umbilical Cord Mesenchymal Stem Cells for Alport Syndrome",
    "official_title": None,
    "acronym": None,
    "status": "NOT_YET_RECRUITING",
    "why_stopped": None,
    "last_known_status": None,
    "in_registry": None,
    "phases": ["PHASE2", "PHASE3"],
    "study_type": "INTERVENTIONAL",
    "has_results": False,
    "last_updated": "2024-12-31",
    "first_posted": None,
    "results_first_posted": None,
    "first_submitted": None,
    "first_submitted_qc": None,
    "last_update_submitted": None,
    "results_first_submitted": None,
    "certificate_of_delay": None,
    "status_verified": None,
    "submission_tracking": None,
    "start_date": {"date": "2025-01-01", "type": None},
    "primary_completion_date": None,
    "completion_date": {"date": "2028-12-31", "type": None},
    "enrollment": {"count": 40, "type": None},
    "conditions": ["Alport Syndrome"],
    "keywords": ["Alport syndrome Human Umbilical Cord Mesenchymal Stem Cells Randomized Clinical Trial"],
    "summary": (
        "The goal of this clinical trial is to evaluate the safety and efficacy of human umbilical cord "
        "mesenchymal stem cells (hUC-MSC) in the treatment of Alport syndrome (AS) in a randomized, single-blind, "
        "placebo-controlled trial, to provide a clinical basis for the development of stem cell products for the "
        "treatment of AS, and to further clarify the therapeutic effect of hUC-MSC in the treatment of AS."
    ),
    "description": None,
    "fda_regulated_drug": None,
    "fda_regulated_device": None,
    "design": {
        "allocation": "RANDOMIZED",
        "intervention_model": "PARALLEL",
        "primary_purpose": "TREATMENT",
        "masking": "SINGLE",
        "who_masked": ["PARTICIPANT"],
        "observational_model": None,
        "time_perspective": None,
    },
    "arms": [
        {
            "label": "MSC Theatment",
            "type": "EXPERIMENTAL",
            "description": "Conventional symptomatic supportive treatment and human umbilical cord mesenchymal "
            "stem cells treatment",
            "interventions": ["hUC-MSC"],
        },
        {
            "label": "Placebo Control",
            "type": "PLACEBO_COMPARATOR",
            "description": "Conventional symptomatic supportive treatment and normal saline as a placebo control",
            "interventions": ["Placebo control drug"],
        },
    ],
    "interventions": [
        {"name": "hUC-MSC", "type": "BIOLOGICAL", "description": HUC_MSC, "other_names": []},
        {"name": "Placebo control drug", "type": "DRUG", "description": PLACEBO, "other_names": []},
    ],
    "eligibility": {
        "inclusion": [
            "3 years old ≤Age ≤ 12 years old;",
            "Meet the diagnostic criteria of Alport syndrome;",
            "Positive proteinuria or combined hematuria;",
            "Chronic kidney disease (CKD) stage: I-III stage children, that is, glomerular filtration rate greater "
            "than 60 ml/min.1.73m2;",
            "No history of infectious diseases within 1 week before treatment;",
            "Negative infectious disease screening;",
            "No allergic state and related clinical manifestations;",
            "Signed informed consent (children or their families).",
        ],
        "exclusion": [
            "Age \\<3 years or \\>12 years old;",
            "Alport syndrome patients with only microscopic hematuria and normal glomerular filtration rate;",
            "Patients with significantly reduced renal function, chronic kidney disease stage IV or V, Alport "
            "syndrome;",
            "Patients with other renal diseases;",
            "Have a history of severe allergic reactions or be allergic to 2 or more foods or drugs;",
            "Known allergy to stem cells or stem cell-derived products or ingredients in stem cell preparations;",
            "Have severe heart, liver, lung and other organ dysfunction or have tumors;",
            "Those with developmental malformations of the urinary system;",
            "Those with autoimmune diseases and regular use of immunosuppressants;",
            "Those with serious infectious diseases that are not under control;",
            "Those with a history of infectious diseases such as HBV, HCV, HIV, syphilis;",
            "History of surgery or acute trauma or blood loss exceeding 200ml within 3 months;",
            "Participated in other clinical studies within 3 months;",
            "Have received any cell product or derivative product treatment within 12 months;",
            "Other circumstances that the researcher deems inappropriate for inclusion.",
        ],
        "other": [],
        "minimum_age": "3 Years",
        "maximum_age": "12 Years",
        "sex": "ALL",
        "healthy_volunteers": False,
    },
    "lead_sponsor": {"name": "Guangzhou Women and Children's Medical Center", "class": "OTHER"},
    "collaborators": [],
    "responsible_party": {
        "type": "SPONSOR",
        "investigator_name": None,
        "investigator_title": None,
        "investigator_affiliation": None,
    },
    "central_contacts": [{"name": "Xia Gao", "role": "CONTACT", "phone": "86-020-81330569", "email": None}],
    "overall_officials": [],
    "other_ids": [
        {"id": "MR-44-24-042448", "type": "OTHER_GRANT", "source": "secondary_id", "domain": None},
        {"id": "[2022]00100-3", "type": None, "source": "org_study_id", "domain": None},
    ],
    "outcomes": {"primary": [], "secondary": [], "other": []},
    "locations": [],
    "references": [],
    "results": {},
    "extra_sections": {},
    "unknown": sorted(
        [
            # registry bookkeeping no page shows
            "last_known_status",
            "in_registry",
            "first_submitted",
            "first_submitted_qc",
            "last_update_submitted",
            "results_first_submitted",
            "certificate_of_delay",
            "status_verified",
            "submission_tracking",
            "fda_regulated_drug",
            "fda_regulated_device",
            "results",
            # a page may run several conditions or keywords together on one line
            "conditions.items",
            "keywords.items",
            "acronym",
            "central_contacts[].email",
            "completion_date.precision",
            "completion_date.type",
            "enrollment.type",
            "first_posted",
            "interventions[].other_names",
            "locations",
            "official_title",
            "other_ids[].domain",
            "outcomes",
            "overall_officials",
            "primary_completion_date",
            "references",
            "responsible_party.investigator_title",
            "results_first_posted",
            "start_date.precision",
            "start_date.type",
            "why_stopped",
        ]
    ),
}


def known_equal(a: dict, b: dict) -> list[tuple[str, object, object]]:
    """The paths where a and b differ, skipping every path unknown in either (unknown paths use
    `[]` for "every item": `arms[].type`).  Empty when they agree on all they both know."""
    unknown = set(a["unknown"]) | set(b["unknown"])
    diffs = []

    def walk(x, y, path: str, pattern: str) -> None:
        if pattern in unknown:
            return
        if isinstance(x, dict) and isinstance(y, dict):
            for key in sorted(x.keys() | y.keys()):
                walk(
                    x.get(key, "<missing>"),
                    y.get(key, "<missing>"),
                    f"{path}.{key}" if path else key,
                    f"{pattern}.{key}" if pattern else key,
                )
        elif (
            isinstance(x, list)
            and isinstance(y, list)
            and len(x) == len(y)
            and any(isinstance(item, dict) for item in x + y)
        ):
            for i, (p, q) in enumerate(zip(x, y, strict=True)):
                walk(p, q, f"{path}[{i}]", f"{pattern}[]")
        elif x != y:
            diffs.append((path, x, y))

    walk({k: v for k, v in a.items() if k != "unknown"}, {k: v for k, v in b.items() if k != "unknown"}, "", "")
    return diffs


def page(name: str) -> tuple[dict, list[str]]:
    path = PAGES / name
    text = path.read_text(encoding="utf-8")
    return (parse_html if name.endswith(".html") else parse_page)(text, str(path))


def seed_with(**changes) -> dict:
    record = copy.deepcopy(SEED)
    for path, value in changes.items():
        target = record
        *parents, last = path.split("__")
        for key in parents:
            target = target[key]
        target[last] = value
    return record


# ------------------------------------------------------------------ the seed


def test_the_seed_gives_every_field():
    record, warnings = parse_page(SEED_TEXT, str(SEED_PATH))
    assert record == SEED
    assert warnings == []


def test_every_page_carries_the_always_unknown_fields():
    record, _ = parse_page(SEED_TEXT, "seed")
    assert set(ALWAYS_UNKNOWN) <= set(record["unknown"])
    assert set(record) == set(TOP_LEVEL)


def test_section_table_names_record_fields():
    for heading, section in SECTIONS.items():
        for path in section.fields:
            assert path.split(".")[0] in TOP_LEVEL, (heading, path)


def test_known_equal_compares_what_both_know():
    other = seed_with(status="RECRUITING")
    assert known_equal(SEED, other) == [("status", "NOT_YET_RECRUITING", "RECRUITING")]
    other["unknown"] = sorted(set(other["unknown"]) | {"status"})
    assert known_equal(SEED, other) == []
    other = seed_with()
    other["arms"][1]["type"] = None
    assert [d[0] for d in known_equal(SEED, other)] == ["arms[1].type"]
    other["unknown"].append("arms[].type")
    assert known_equal(SEED, other) == []


# ------------------------------------------------------------------ HTML


@pytest.mark.parametrize("name", HTML_VARIANTS)
def test_each_html_markup_gives_the_seed_record(name):
    record, warnings = page(name)
    assert record == SEED
    assert known_equal(SEED, record) == []
    assert warnings == []


@pytest.mark.parametrize("name", HTML_VARIANTS)
def test_html_chrome_is_dropped(name):
    text = html_to_text((PAGES / name).read_text(encoding="utf-8"))
    for chrome_id in (
        "NCT09999999",
        "NCT08888888",
        "NCT07777777",
        "NCT01111111",
        "NCT02222222",
        "NCT03333333",
        "NCT04444444",
        "NCT05555555",
        "NCT06666666",
    ):
        assert chrome_id not in text
    assert text.splitlines()[0] == SEED["title"]


def test_html_to_text_makes_one_line_per_block():
    html = (
        "<html><head><title>x</title></head><body><div>a <b>bold</b>\n  word</div><p>one<br>two</p>"
        "<ul><li>first</li><li>second  <i>item</i></li></ul><table><tr><th>Label</th><td>value</td></tr>"
        "</table><span>in</span><span>line</span><!-- comment --><script>var x = 1;</script>"
        "<p hidden>hidden</p></body></html>"
    )
    assert html_to_text(html).splitlines() == [
        "a bold word",
        "one",
        "two",
        "first",
        "second item",
        "Label",
        "value",
        "inline",
    ]


def test_looks_like_html():
    for name in HTML_VARIANTS:
        assert looks_like_html((PAGES / name).read_text(encoding="utf-8"))
    assert not looks_like_html(SEED_TEXT)
    assert not looks_like_html(LABEL_LESS_TEXT)
    assert not looks_like_html("<3 is a heart")
    assert looks_like_html("\ufeff  <div><p>x</p></div>")


# ------------------------------------------------------------------ the label-less rendering


def test_the_shared_cut_label_less_page_is_the_start_of_the_full_one():
    cut = (PAGES / "NCT06731192.label-less.cut.txt").read_text(encoding="utf-8").splitlines()
    full = LABEL_LESS_TEXT.splitlines()
    assert cut[:-1] == full[: len(cut) - 1]
    assert full[len(cut) - 1].startswith(cut[-1])


def test_label_less_page_agrees_with_the_seed():
    record, warnings = page("NCT06731192.label-less.full.txt")
    assert known_equal(SEED, record) == []
    # Without type lines nothing tells an intervention's name from its description where an arm
    # receives several: arms and interventions are unknown, never guessed.
    expected = set(LABEL_LESS_UNKNOWN) | {"responsible_party", "arms", "interventions"}
    assert set(record["unknown"]) - set(SEED["unknown"]) == expected
    # What it does know, it knows in full.
    assert record["eligibility"] == SEED["eligibility"]
    assert record["other_ids"] == SEED["other_ids"]
    assert any(w.startswith("label-less rendering") for w in warnings)


def test_the_shared_cut_label_less_page():
    record, warnings = page("NCT06731192.label-less.cut.txt")
    assert known_equal(SEED, record) == []
    assert record["status"] == "NOT_YET_RECRUITING" and record["phases"] == ["PHASE2", "PHASE3"]
    assert record["start_date"] == SEED["start_date"] and record["completion_date"] == SEED["completion_date"]
    assert record["design"]["masking"] == "SINGLE"
    for path in ("arms", "interventions", "eligibility", "lead_sponsor", "other_ids", "central_contacts"):
        assert path in record["unknown"]
    cut = [w for w in warnings if w.startswith("page cut short")]
    assert cut == [
        "page cut short: missing sections Interventions, Eligibility Criteria, Sponsors, Responsible "
        "Party, Central Contacts, Other Identifiers; Study Groups may be incomplete"
    ]


def test_label_less_values_are_found_by_shape_when_a_row_is_missing():
    text = LABEL_LESS_TEXT.replace("PHASE2/PHASE3\n40 participants\n", "")
    record, warnings = parse_page(text, "shifted.txt")
    assert record["phases"] == [] and {"phases", "enrollment"} <= set(record["unknown"])
    assert record["study_type"] == "INTERVENTIONAL" and record["start_date"] == SEED["start_date"]
    assert known_equal(SEED, record) == []
    assert "Basic Information: no enrollment shown; left unknown" in warnings


def test_label_less_single_date_is_not_guessed():
    record, warnings = parse_page(LABEL_LESS_TEXT.replace("2025-01-01\n", ""), "one-date.txt")
    assert {"start_date", "completion_date"} <= set(record["unknown"])
    assert record["start_date"] is None and record["completion_date"] is None
    assert any("cannot tell which" in w for w in warnings)


# ------------------------------------------------------------------ the other variants


def test_observational_variant():
    record, warnings = page("NCT06731192.observational.txt")
    expected = seed_with(
        phases=[],
        study_type="OBSERVATIONAL",
        design={
            "allocation": None,
            "intervention_model": None,
            "primary_purpose": None,
            "masking": None,
            "who_masked": [],
            "observational_model": "COHORT",
            "time_perspective": "PROSPECTIVE",
        },
    )
    assert record == expected  # no Clinical Phase row: phases [] and known
    assert warnings == []


def test_withdrawn_variant_has_no_enrollment_and_no_contacts():
    record, warnings = page("NCT06731192.withdrawn.txt")
    assert record["status"] == "WITHDRAWN"
    assert record["enrollment"] is None and "enrollment" in record["unknown"]  # absent is not zero
    assert record["central_contacts"] == [] and "central_contacts" in record["unknown"]
    assert set(record["unknown"]) - set(SEED["unknown"]) == {"enrollment", "central_contacts"}
    assert known_equal(seed_with(status="WITHDRAWN"), record) == []
    assert "missing sections: Central Contacts" in warnings
    assert not any(w.startswith("page cut short") for w in warnings)


def test_results_variant():
    record, warnings = page("NCT06731192.results.txt")
    expected = seed_with(
        status="COMPLETED",
        has_results=True,
        collaborators=[{"name": "Sun Yat-sen University", "class": "OTHER"}],
        responsible_party={
            "type": "PRINCIPAL_INVESTIGATOR",
            "investigator_name": "Xia Gao",
            "investigator_title": None,
            "investigator_affiliation": "Guangzhou Women and Children's Medical Center",
        },
        extra_sections={
            "Locations": "Find the hospitals and clinics where this study enrolls participants and "
            "their recruitment status.\nGuangzhou Women and Children's Medical Center\n"
            "Guangzhou, Guangdong, China\nRECRUITING"
        },
    )
    assert record == expected
    assert warnings == ["sections not understood: Locations"]


def test_related_clinical_trials_never_leak():
    record, _ = page("NCT06731192.results.txt")
    dumped = json.dumps(record, ensure_ascii=False)
    for other in ("NCT05012345", "NCT04999999", "Mesenchymal Stem Cells for Children", "Chronic Kidney Disease"):
        assert other not in dumped
    assert record["nct_id"] == "NCT06731192"


def test_related_clinical_trials_cut_short_is_still_a_whole_page():
    text = (PAGES / "NCT06731192.results.txt").read_text(encoding="utf-8")
    record, warnings = parse_page(text[: text.index("NCT ID: NCT05012345") + 12], "related-cut.txt")
    assert record == page("NCT06731192.results.txt")[0]
    assert not any(w.startswith("page cut short") for w in warnings)


# ------------------------------------------------------------------ pages cut short


def _cuts(text: str):
    """The text cut after every line, and in the middle of every non-empty line."""
    lines = text.splitlines()
    for k in range(1, len(lines) + 1):
        yield "\n".join(lines[:k])
        if lines[k - 1].strip():
            yield "\n".join(lines[: k - 1] + [lines[k - 1][: len(lines[k - 1]) // 2]])


@pytest.mark.parametrize("full_name, text", [("seed", SEED_TEXT), ("label-less", LABEL_LESS_TEXT)])
def test_a_page_cut_anywhere_knows_only_true_values(full_name, text):
    full, _ = parse_page(text, full_name)
    holds_id = "NCT ID: NCT06731192"
    ambiguous = None
    parsed = 0
    for cut in _cuts(text):
        lines = cut.splitlines()
        recognisable = (
            holds_id in lines
            and any(line.startswith("Last Updated") for line in lines)
            and any(line in SECTIONS for line in lines)
        )
        if not recognisable:  # the renderings' own structure is not there yet: refused, never guessed
            with pytest.raises(InputError):
                parse_page(cut, "cut.txt")
            continue
        record, warnings = parse_page(cut, "cut.txt")
        parsed += 1
        assert record["nct_id"] == "NCT06731192" and record["title"] == SEED["title"]
        diffs = known_equal(full, record)
        if cut.rstrip().endswith("Identifier Source: secondary_id"):
            # Cut right after the first identifier, the page ends the way a whole page does: it cannot
            # be told from a page with one identifier.
            ambiguous = diffs
            continue
        assert diffs == [], cut[-200:]
        if cut.rstrip() != text.rstrip():
            assert any(w.startswith("page cut short") for w in warnings), cut[-200:]
    assert parsed > len(text.splitlines())
    assert [d[0] for d in ambiguous] == ["other_ids"]


def test_a_cut_page_keeps_what_its_last_section_shows_but_calls_it_unknown():
    text = SEED_TEXT[: SEED_TEXT.index("* Negative infectious")]
    record, warnings = parse_page(text, "cut.txt")
    assert record["eligibility"]["inclusion"] == SEED["eligibility"]["inclusion"][:5]
    assert "eligibility" in record["unknown"]
    assert warnings == [
        "page cut short: missing sections Sponsors, Responsible Party, Central Contacts, "
        "Other Identifiers; Eligibility Criteria may be incomplete"
    ]


def test_an_invalid_code_is_not_stored():
    text = SEED_TEXT.replace("\nNOT_YET_RECRUITING\n", "\nNOT_YET_REC\n").replace("\nPARALLEL\n", "\nPARALLELL\n")
    record, warnings = parse_page(text, "bad.txt")
    assert record["status"] is None and "status" in record["unknown"]
    assert record["design"]["intervention_model"] is None and "design.intervention_model" in record["unknown"]
    assert "status: 'NOT_YET_REC' is not a recruitment status code; left unknown" in warnings
    assert known_equal(SEED, record) == []
    record, warnings = parse_page(LABEL_LESS_TEXT.replace("\nNOT_YET_RECRUITING\n", "\nNOT_YET_REC\n"), "bad.txt")
    assert record["status"] is None and "status" in record["unknown"]
    assert known_equal(SEED, record) == []


@pytest.mark.parametrize(
    "line, codes",
    [
        (
            "Participants Caregivers Investigators Outcome Assessors",
            ["PARTICIPANT", "CARE_PROVIDER", "INVESTIGATOR", "OUTCOMES_ASSESSOR"],
        ),
        ("Investigators", ["INVESTIGATOR"]),
        ("Outcome Assessors Participants", ["PARTICIPANT", "OUTCOMES_ASSESSOR"]),
    ],
)
def test_masked_roles(line, codes):
    text = SEED_TEXT.replace("SINGLE\n\nParticipants\n", f"QUADRUPLE\n\n{line}\n")
    record, warnings = parse_page(text, "masked.txt")
    assert record["design"]["who_masked"] == codes and record["design"]["masking"] == "QUADRUPLE"
    assert warnings == [] and record["extra_sections"] == {}


def test_a_masking_without_roles_line_masks_nobody_named():
    record, _ = parse_page(SEED_TEXT.replace("SINGLE\n\nParticipants\n", "NONE\n"), "open.txt")
    assert record["design"]["masking"] == "NONE" and record["design"]["who_masked"] == []
    assert "design.who_masked" not in record["unknown"]


# ------------------------------------------------------------------ not a trial page


@pytest.mark.parametrize(
    "text, missing",
    [
        ("", "empty text"),
        ("  \n\n \t", "empty text"),
        ("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00", "binary data"),
        (
            "It was a bright cold day in April, and the clocks were striking thirteen.\nWinston Smith...\n",
            "no 'NCT ID: NCT########' line",
        ),
        ("NCT ID: NCT06731192\nLast Updated: 2024-12-31\n", "no title line before the NCT ID line"),
        (SEED_TEXT.replace("NCT ID: NCT06731192", "NCT ID: NCT0673119"), "no 'NCT ID: NCT########' line"),
        ('{"protocolSection": {}}', "no 'NCT ID: NCT########' line"),
    ],
)
def test_not_a_trial_page_is_one_line_naming_the_file(text, missing):
    with pytest.raises(InputError) as error:
        parse_page(text, "saved/page.txt")
    message = str(error.value)
    assert message == f"saved/page.txt: not a trial page ({missing})"
    assert "\n" not in message


def test_html_that_is_not_a_trial_page():
    with pytest.raises(InputError, match=r"^x\.html: not a trial page \(empty text\)$"):
        parse_html(
            "<html><head><title>NCT ID: NCT06731192</title></head><body><nav>NCT ID: NCT06731192</nav></body></html>",
            "x.html",
        )


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_any_text_is_a_record_or_an_input_error(text):
    for candidate in (text, SEED_TEXT[:400] + text):
        try:
            record, warnings = parse_page(candidate, "fuzz.txt")
        except InputError as error:
            assert str(error).startswith("fuzz.txt: not a trial page (")
            continue
        assert set(record) == set(TOP_LEVEL) and all(isinstance(w, str) for w in warnings)
