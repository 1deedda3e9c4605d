"""ClinicalTrials.gov API v2 study JSON → trial record, on real registry responses.

Expected values are written out by hand from the fixture JSON, never computed with the code
under test.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trialwatch.ingest.ctgov import map_study, studies_from_json
from trialwatch.ingest.errors import InputError
from trialwatch.ingest.record import canonical_json, empty_record

CTGOV = Path(__file__).parent / "fixtures" / "ctgov"
STUDY_FILES = sorted((CTGOV / "studies").glob("NCT*.json"))
PAGE_FILES = sorted((CTGOV / "pages").glob("studies_page.*.json"))
CONSTRUCTED = CTGOV / "constructed" / "NCT06731192.json"

EMPTY = empty_record()


def load(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def study(nct_id: str) -> dict:
    return load(CTGOV / "studies" / f"{nct_id}.json")


def mapped(nct_id: str) -> dict:
    return map_study(study(nct_id))


def assert_record_shape(record: dict) -> None:
    assert set(record) == set(EMPTY)
    for key in ("design", "eligibility", "outcomes"):
        assert set(record[key]) == set(EMPTY[key]), key
    assert record["unknown"] == ["results"]  # results as a results page shows them: not in the API
    assert record["extra_sections"] == {}
    canonical_json(record)  # JSON-able


def assert_one_line_input_error(excinfo, *fragments: str) -> None:
    message = str(excinfo.value)
    assert message and "\n" not in message
    for fragment in fragments:
        assert fragment in message


# -- every real record maps ------------------------------------------------------------------


def test_fixture_set_is_complete():
    assert len(STUDY_FILES) == 25
    assert len(PAGE_FILES) == 8


@pytest.mark.parametrize("path", STUDY_FILES, ids=lambda p: p.stem)
def test_every_study_maps(path):
    raw = load(path)
    before = json.dumps(raw, sort_keys=True)
    record = map_study(raw)
    assert_record_shape(record)
    assert record["nct_id"] == path.stem
    assert json.dumps(raw, sort_keys=True) == before  # input untouched


@pytest.mark.parametrize("path", PAGE_FILES, ids=lambda p: p.stem)
def test_every_page_study_maps(path):
    studies = studies_from_json(load(path), path.name)
    assert studies
    for raw in studies:
        record = map_study(raw)
        assert_record_shape(record)
        assert record["nct_id"].startswith("NCT")


def test_constructed_record_maps():
    assert_record_shape(map_study(load(CONSTRUCTED)))


# -- field by field --------------------------------------------------------------------------


def test_nct04267848_recruiting_with_1148_locations():
    r = mapped("NCT04267848")
    assert r["nct_id"] == "NCT04267848"
    assert r["title"] == (
        "Testing the Addition of a Type of Drug Called Immunotherapy to the Usual Chemotherapy "
        "Treatment for Non-small Cell Lung Cancer, an ALCHEMIST Treatment Trial (Chemo-IO [ACCIO])"
    )
    assert r["official_title"] == (
        "Integration of Immunotherapy Into Adjuvant Therapy for Resected NSCLC: ALCHEMIST Chemo-IO (ACCIO)"
    )
    assert r["acronym"] is None
    assert r["status"] == "RECRUITING"
    assert r["why_stopped"] is None
    assert r["phases"] == ["PHASE3"]
    assert r["study_type"] == "INTERVENTIONAL"
    assert r["has_results"] is False
    assert r["results_first_posted"] is None
    assert r["enrollment"] == {"count": 1210, "type": "ESTIMATED"}
    assert r["start_date"] == {"date": "2020-06-16", "type": "ACTUAL"}
    assert r["primary_completion_date"] == {"date": "2025-12-15", "type": "ESTIMATED"}
    assert r["completion_date"] == {"date": "2025-12-15", "type": "ESTIMATED"}
    assert r["first_posted"] == "2020-02-13"
    assert r["last_updated"] == "2025-09-10"
    assert r["design"] == {
        "allocation": "RANDOMIZED",
        "intervention_model": "PARALLEL",
        "primary_purpose": "TREATMENT",
        "masking": "NONE",
        "who_masked": [],
        "observational_model": None,
        "time_perspective": None,
    }
    assert r["lead_sponsor"] == {"name": "National Cancer Institute (NCI)", "class": "NIH"}
    assert r["responsible_party"] == {
        "type": "SPONSOR",
        "investigator_name": None,
        "investigator_title": None,
        "investigator_affiliation": None,
    }
    assert r["collaborators"] == []
    assert r["overall_officials"] == [
        {
            "name": "Jacob M Sands",
            "affiliation": "Alliance for Clinical Trials in Oncology",
            "role": "PRINCIPAL_INVESTIGATOR",
        }
    ]
    assert r["other_ids"] == [
        {"id": "NCI-2020-00751", "type": None, "source": "org_study_id", "domain": None},
        {
            "id": "NCI-2020-00751",
            "type": "REGISTRY",
            "source": "secondary_id",
            "domain": "CTRP (Clinical Trial Reporting Program)",
        },
        {
            "id": "A081801",
            "type": "OTHER",
            "source": "secondary_id",
            "domain": "Alliance for Clinical Trials in Oncology",
        },
        {"id": "A081801", "type": "OTHER", "source": "secondary_id", "domain": "CTEP"},
        {"id": "U10CA180821", "type": "NIH", "source": "secondary_id", "domain": None},
    ]
    assert len(r["locations"]) == 1148
    assert r["locations"][0] == {
        "facility": "Anchorage Associates in Radiation Medicine",
        "city": "Anchorage",
        "state": "Alaska",
        "country": "United States",
        "status": "SUSPENDED",
    }
    assert r["locations"][-1] == {
        "facility": "FHP Health Center-Guam",
        "city": "Tamuning",
        "state": None,
        "country": "Guam",
        "status": "SUSPENDED",
    }
    assert len(r["outcomes"]["primary"]) == 1
    assert r["outcomes"]["primary"][0]["measure"] == "Disease free survival (DFS)"
    assert r["outcomes"]["primary"][0]["time_frame"] == (
        "From randomization to the first of either disease recurrence or death from any cause, "
        "assessed up to 5 years after accrual completion"
    )
    assert len(r["outcomes"]["secondary"]) == 4
    assert [o["measure"] for o in r["outcomes"]["other"]][0] == "Patient-reported quality of life (QOL)"
    assert len(r["outcomes"]["other"]) == 3
    assert [ref["pmid"] for ref in r["references"]] == ["33878954"]
    assert r["references"][0]["type"] == "DERIVED"
    assert r["conditions"][0] == "Lung Non-Small Cell Carcinoma"
    assert len(r["conditions"]) == 6
    assert r["keywords"] == []


def test_nct00973089_withdrawn():
    r = mapped("NCT00973089")
    assert r["status"] == "WITHDRAWN"
    assert r["why_stopped"] == ("recruiting or enrolling participants has halted prematurely and will not resume")
    assert r["enrollment"] == {"count": 0, "type": "ACTUAL"}
    assert r["phases"] == ["NA"]
    assert r["start_date"] == {"date": "2010-05", "type": None}
    assert r["completion_date"] == {"date": "2015-03", "type": "ACTUAL"}
    assert r["design"]["masking"] == "SINGLE"
    assert r["design"]["who_masked"] == ["INVESTIGATOR"]
    assert r["arms"] == [
        {
            "label": "Complete caries removal",
            "type": "NO_INTERVENTION",
            "description": "Control group",
            "interventions": [],
        },
        {
            "label": "Incomplete caries removal",
            "type": "OTHER",
            "description": "Test group",
            "interventions": ["Incomplete caries removal in primary teeth"],
        },
    ]
    assert r["interventions"] == [
        {
            "name": "Incomplete caries removal in primary teeth",
            "type": "OTHER",
            "description": (
                "Comparison between the success rate and cost-effectiveness of complete caries "
                "removal in treatment of deep carious lesions that might include wide "
                "preparations and involve pulpotomy versus incomplete removal of caries and "
                "avoiding pulp treatment."
            ),
            "other_names": ["Indirect pulp capping"],
        }
    ]
    assert r["eligibility"] == {
        "inclusion": [
            "Healthy children",
            "Patient's age is 5-8 years old at the time of the treatment",
            "Primary molars presenting with deep carious lesions",
            "Carious lesion reaching the inner half of the dentin,with absence of periapical or "
            "interradicular alterations as detected by radiographic examination.",
            "Absence of spontaneous pain",
        ],
        "exclusion": [
            "Subjects that are not ASA I",
            "Lack of cooperation",
            "Clinical or radiographic signs of pathology",
        ],
        "other": [],
        "minimum_age": "5 Years",
        "maximum_age": "8 Years",
        "sex": "ALL",
        "healthy_volunteers": True,
    }
    assert r["responsible_party"] == {
        "type": "PRINCIPAL_INVESTIGATOR",
        "investigator_name": "Moti Moskovitz",
        "investigator_title": "Clinical Senior Lecturer",
        "investigator_affiliation": "Hadassah Medical Organization",
    }
    assert r["other_ids"] == [{"id": "LSA001-HMO-CTIL", "type": None, "source": "org_study_id", "domain": None}]
    assert r["locations"] == [
        {
            "facility": "Hadassah Medical Organization",
            "city": "Jerusalem",
            "state": None,
            "country": "Israel",
            "status": None,
        }
    ]
    assert r["outcomes"]["primary"] == [
        {
            "measure": "The success of the alternative treatment of the deep carious lesion.",
            "time_frame": "Half annually for three years",
            "description": None,
        }
    ]
    assert r["references"] == [
        {
            "pmid": "18519994",
            "type": "BACKGROUND",
            "citation": (
                "Thompson V, Craig RG, Curro FA, Green WS, Ship JA. Treatment of deep carious "
                "lesions by complete excavation or partial removal: a critical review. J Am Dent "
                "Assoc. 2008 Jun;139(6):705-12. doi: 10.14219/jada.archive.2008.0252."
            ),
        }
    ]
    assert r["keywords"] == ["Primary tooth", "Caries, Dental", "Alternative treatment"]
    assert r["central_contacts"] == []
    assert r["has_results"] is False


def test_nct00763412_month_date_and_results():
    r = mapped("NCT00763412")
    assert r["start_date"] == {"date": "2006-11", "type": None}
    assert r["primary_completion_date"] == {"date": "2013-01", "type": "ACTUAL"}
    assert r["completion_date"] == {"date": "2013-01", "type": "ACTUAL"}
    assert r["has_results"] is True
    assert r["results_first_posted"] == "2017-06-05"
    assert r["first_posted"] == "2008-10-01"
    assert r["last_updated"] == "2017-06-05"
    assert r["status"] == "COMPLETED"
    assert r["enrollment"] == {"count": 31, "type": "ACTUAL"}
    assert r["design"]["who_masked"] == [
        "PARTICIPANT",
        "CARE_PROVIDER",
        "INVESTIGATOR",
        "OUTCOMES_ASSESSOR",
    ]
    assert r["lead_sponsor"] == {"name": "Arbelaez, Ana Maria", "class": "INDIV"}
    assert r["collaborators"] == [
        {"name": "Washington University School of Medicine", "class": "OTHER"},
        {"name": "National Institutes of Health (NIH)", "class": "NIH"},
        {"name": "Novo Nordisk A/S", "class": "INDUSTRY"},
        {"name": "National Institute of Diabetes and Digestive and Kidney Diseases (NIDDK)", "class": "NIH"},
    ]
    assert r["other_ids"] == [
        {"id": "05-1109", "type": None, "source": "org_study_id", "domain": None},
        {"id": "P60DK020579", "type": "NIH", "source": "secondary_id", "domain": None},
    ]


def test_nct06171568_observational_with_collaborators_officials_references_secondary_ids():
    r = mapped("NCT06171568")
    assert r["title"] == "Lariboisière Cognitive Assessment: Evaluation of the 1-year Outcomes"
    assert r["acronym"] == "ECOG"
    assert r["status"] == "NOT_YET_RECRUITING"
    assert r["study_type"] == "OBSERVATIONAL"
    assert r["phases"] == []
    assert r["design"] == {
        "allocation": None,
        "intervention_model": None,
        "primary_purpose": None,
        "masking": None,
        "who_masked": [],
        "observational_model": "COHORT",
        "time_perspective": "PROSPECTIVE",
    }
    assert r["enrollment"] == {"count": 400, "type": "ESTIMATED"}
    assert r["start_date"] == {"date": "2024-02-01", "type": "ESTIMATED"}
    assert r["arms"] == []
    assert r["interventions"] == [
        {
            "name": "Tests and questionnaires",
            "type": "OTHER",
            "description": "1 year after discharge from neurosurgery department...",
            "other_names": [],
        }
    ]
    assert r["lead_sponsor"] == {"name": "Assistance Publique - Hôpitaux de Paris", "class": "OTHER"}
    assert r["collaborators"] == [
        {"name": "SBT Human(s) Matter", "class": "UNKNOWN"},
        {"name": "Clinical Research Unit Saint Louis Lariboisière", "class": "UNKNOWN"},
    ]
    assert r["overall_officials"] == [
        {
            "name": "Emmanuel Mandonnet, MD, PhD",
            "affiliation": "Assistance Publique - Hôpitaux de Paris",
            "role": "PRINCIPAL_INVESTIGATOR",
        },
        {
            "name": "Alexis Schnitzler, MD, PhD",
            "affiliation": "Assistance Publique - Hôpitaux de Paris",
            "role": "STUDY_DIRECTOR",
        },
    ]
    assert r["central_contacts"] == [
        {
            "name": "Camille Heslot, MD",
            "role": "CONTACT",
            "phone": "01.49.95.81.69 ext +33",
            "email": "camille.heslot@aphp.fr",
        },
        {
            "name": "Alexis Schnitzler, MD, PhD",
            "role": "CONTACT",
            "phone": "01.40.05.49.58 ext +33",
            "email": "alexis.schnitzler@aphp.fr",
        },
    ]
    assert r["other_ids"] == [
        {"id": "APHP230528", "type": None, "source": "org_study_id", "domain": None},
        {"id": "2023-A00386-39", "type": "OTHER", "source": "secondary_id", "domain": "IDRCB"},
    ]
    assert r["references"] == [
        {"pmid": "26269030", "type": "BACKGROUND", "citation": "Peeters W, van den Brande R, Polinder S..."},
        {"pmid": "29016402", "type": "BACKGROUND", "citation": "Jourdan C, Azouvi P, Genet F, Selly N..."},
        {"pmid": "16983222", "type": "BACKGROUND", "citation": "Langlois JA, Rutland-Brown W..."},
        {"pmid": "27323708", "type": "BACKGROUND", "citation": "Stocchetti N, Zanier ER. Chronic impact..."},
        {"pmid": "22460612", "type": "BACKGROUND", "citation": "Jourdan C, Bayen E, Bosserelle V..."},
        {"pmid": "30031892", "type": "BACKGROUND", "citation": "Schnitzler A, Erbault M, Solomiac A..."},
        {"pmid": "31073378", "type": "BACKGROUND", "citation": "Rodrigues JC, Becker N, Beckenkamp CL..."},
        {"pmid": "24102622", "type": "BACKGROUND", "citation": "de Guise E, Leblanc J, Champoux MC..."},
    ]
    assert r["locations"] == [
        {
            "facility": "Neurosurgery - Lariboisière hospital",
            "city": "Paris",
            "state": "Ile-de-France",
            "country": "France",
            "status": None,
        }
    ]
    assert r["eligibility"] == {
        "inclusion": ["Patient over 18 years..."],
        "exclusion": [],
        "other": [],
        "minimum_age": "18 Years",
        "maximum_age": None,
        "sex": "ALL",
        "healthy_volunteers": False,
    }
    assert r["outcomes"]["primary"] == [
        {
            "measure": "Evaluation of the functional..",
            "time_frame": "1 year",
            "description": "The Modified Rankin Scale (MRS)...",
        }
    ]
    assert r["summary"] == "Cognitive sequelae are common following acquired brain injuries...."
    assert r["description"] == "Traumatic brain injuries (TBI)..."


def test_intervention_prefix_only_known_types_stripped():
    raw = study("NCT00973089")
    raw["protocolSection"]["armsInterventionsModule"]["armGroups"][1]["interventionNames"] = [
        "Dietary Supplement: Vitamin D",
        "Combination Product: Pen: injector",
        "Diagnostic Test: MRI",
        "Vaccine: not a registry type",
        "Drug:no space",
        "Genetic: CRISPR",
    ]
    assert map_study(raw)["arms"][1]["interventions"] == [
        "Vitamin D",
        "Pen: injector",
        "MRI",
        "Vaccine: not a registry type",
        "Drug:no space",
        "CRISPR",
    ]


def test_old_responsible_party_fields():
    raw = study("NCT00973089")
    raw["protocolSection"]["sponsorCollaboratorsModule"]["responsibleParty"] = {
        "oldNameTitle": "Moti Moskovitz, DMD",
        "oldOrganization": "Hadassah Medical Organization",
    }
    assert map_study(raw)["responsible_party"] == {
        "type": None,
        "investigator_name": "Moti Moskovitz, DMD",
        "investigator_title": None,
        "investigator_affiliation": "Hadassah Medical Organization",
    }


def test_absent_modules_are_absent_values():
    raw = study("NCT00973089")
    protocol = raw["protocolSection"]
    for module in list(protocol):
        if module not in ("identificationModule", "statusModule"):
            del protocol[module]
    del raw["hasResults"]
    r = map_study(raw)
    expected = empty_record("NCT00973089")
    expected.update(
        title="Alternative Treatment of Deep Carious Lesions Based on Biological Evidences",
        official_title="Alternative Treatment of Deep Carious Lesions Based on Biological Evidences",
        status="WITHDRAWN",
        why_stopped="recruiting or enrolling participants has halted prematurely and will not resume",
        start_date={"date": "2010-05", "type": None},
        primary_completion_date={"date": "2015-03", "type": "ACTUAL"},
        completion_date={"date": "2015-03", "type": "ACTUAL"},
        first_posted="2009-09-09",
        last_updated="2015-08-19",
        first_submitted="2009-09-06",
        first_submitted_qc="2009-09-06",
        last_update_submitted="2015-08-18",
        status_verified="2015-08",
        in_registry=True,
        other_ids=[{"id": "LSA001-HMO-CTIL", "type": None, "source": "org_study_id", "domain": None}],
        unknown=["results"],
    )
    assert r == expected


# -- required fields -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "module, key, fragment",
    [
        ("identificationModule", "nctId", "identificationModule.nctId"),
        ("identificationModule", "briefTitle", "identificationModule.briefTitle"),
        ("statusModule", "overallStatus", "statusModule.overallStatus"),
    ],
)
def test_missing_required_field_is_input_error(module, key, fragment):
    raw = study("NCT00973089")
    del raw["protocolSection"][module][key]
    with pytest.raises(InputError) as excinfo:
        map_study(raw)
    assert_one_line_input_error(excinfo, fragment)
    if key != "nctId":
        assert "NCT00973089" in str(excinfo.value)
    else:
        assert "Alternative Treatment of Deep Carious Lesions" in str(excinfo.value)


@pytest.mark.parametrize("value", [None, 973089, ["NCT00973089"], {"id": "NCT00973089"}, "", "NCT123"])
def test_bad_nct_id_is_input_error(value):
    raw = study("NCT00973089")
    raw["protocolSection"]["identificationModule"]["nctId"] = value
    with pytest.raises(InputError) as excinfo:
        map_study(raw)
    assert_one_line_input_error(excinfo)


@pytest.mark.parametrize("value", [None, "study", [], 3])
def test_non_object_study_is_input_error(value):
    with pytest.raises(InputError) as excinfo:
        map_study(value)
    assert_one_line_input_error(excinfo)


def test_lower_case_nct_id_is_upper_cased():
    raw = study("NCT00973089")
    raw["protocolSection"]["identificationModule"]["nctId"] = "nct00973089"
    assert map_study(raw)["nct_id"] == "NCT00973089"


# -- studies_from_json -----------------------------------------------------------------------


def test_studies_from_json_study_object():
    raw = study("NCT00973089")
    assert studies_from_json(raw, "x.json") == [raw]


def test_studies_from_json_page():
    page = load(CTGOV / "pages" / "studies_page.biomcp_search_phelan_limit5_20260811.json")
    studies = studies_from_json(page, "page.json")
    assert len(studies) == 5
    assert studies == page["studies"]


def test_studies_from_json_history_version_body():
    raw = study("NCT00973089")
    assert studies_from_json({"studyVersion": 3, "study": raw}, "v3.json") == [raw]


def test_studies_from_json_list_of_studies():
    a, b = study("NCT00973089"), study("NCT06171568")
    assert studies_from_json([a, b], "list.json") == [a, b]


def test_studies_from_json_empty_page():
    assert studies_from_json({"studies": [], "totalCount": 0}, "empty.json") == []


@pytest.mark.parametrize(
    "junk",
    [
        42,
        "NCT00973089",
        None,
        {"foo": 1},
        {"studies": {"protocolSection": {}}},
        {"studies": [{"foo": 1}]},
        {"studyVersion": 3, "study": "oops"},
        [1, 2],
        {"history": {"changes": []}},
    ],
    ids=repr,
)
def test_studies_from_json_junk_is_input_error(junk):
    with pytest.raises(InputError) as excinfo:
        studies_from_json(junk, "junk.json")
    assert_one_line_input_error(excinfo, "junk.json")


def test_history_fixture_is_not_a_study():
    with pytest.raises(InputError) as excinfo:
        studies_from_json(load(CTGOV / "history" / "NCT03690141.history.json"), "h.json")
    assert_one_line_input_error(excinfo, "h.json")


def test_page_study_missing_nct_id_is_input_error_when_mapped():
    page = load(CTGOV / "pages" / "studies_page.biomcp_search_phelan_limit5_20260811.json")
    del page["studies"][2]["protocolSection"]["identificationModule"]["nctId"]
    studies = studies_from_json(page, "page.json")
    with pytest.raises(InputError) as excinfo:
        [map_study(s) for s in studies]
    assert_one_line_input_error(excinfo, "nctId")


# -- robustness: mangled real records --------------------------------------------------------

ROBUST_SOURCES = [
    CTGOV / "studies" / "NCT00973089.json",
    CTGOV / "studies" / "NCT06171568.json",
    CTGOV / "studies" / "NCT00184067.json",
    CTGOV / "studies" / "NCT03475563.json",
    CONSTRUCTED,
]
ROBUST_TEXT = {path: path.read_text(encoding="utf-8") for path in ROBUST_SOURCES}
REPLACEMENTS = {
    "null": None,
    "str": "x",
    "empty_str": "",
    "dict": {"a": 1},
    "list": ["x", {"y": 2}],
    "int": 7,
    "float": 1.5,
    "bool": True,
}


def all_paths(node, prefix=()):
    """Every (container path, key) pair in a JSON value."""
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return
    for key, value in items:
        yield prefix + (key,)
        yield from all_paths(value, prefix + (key,))


def mutate(doc, path, op):
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if op == "delete":
        del parent[path[-1]]
    else:
        parent[path[-1]] = copy.deepcopy(REPLACEMENTS[op])  # never share: no cycles


@settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_mangled_records_map_or_raise_input_error(data):
    source = data.draw(st.sampled_from(ROBUST_SOURCES), label="source")
    doc = json.loads(ROBUST_TEXT[source])
    for _ in range(data.draw(st.integers(1, 6), label="mutations")):
        paths = list(all_paths(doc))
        if not paths:
            break
        path = data.draw(st.sampled_from(paths), label="path")
        op = data.draw(st.sampled_from(["delete", *REPLACEMENTS]), label="op")
        mutate(doc, path, op)
    try:
        record = map_study(doc)
    except InputError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert_record_shape(record)


@pytest.mark.parametrize(
    "module",
    [
        "identificationModule",
        "statusModule",
        "designModule",
        "armsInterventionsModule",
        "eligibilityModule",
        "sponsorCollaboratorsModule",
        "contactsLocationsModule",
        "outcomesModule",
        "referencesModule",
        "conditionsModule",
        "descriptionModule",
    ],
)
@pytest.mark.parametrize("replacement", ["x", 3, [], [1, "a"], None])
def test_retyped_modules(module, replacement):
    raw = study("NCT06171568")
    raw["protocolSection"][module] = replacement
    if module in ("identificationModule", "statusModule"):
        with pytest.raises(InputError):
            map_study(raw)
    else:
        assert_record_shape(map_study(raw))


# -- constructed record agrees with the seed page --------------------------------------------


def test_constructed_nct06731192_agrees_with_seed():
    r = map_study(load(CONSTRUCTED))
    assert r["nct_id"] == "NCT06731192"
    assert r["title"] == "Human Umbilical Cord Mesenchymal Stem Cells for Alport Syndrome"
    assert r["status"] == "NOT_YET_RECRUITING"
    assert r["phases"] == ["PHASE2", "PHASE3"]
    assert r["study_type"] == "INTERVENTIONAL"
    assert r["conditions"] == ["Alport Syndrome"]
    assert r["last_updated"] == "2024-12-31"
    assert r["enrollment"] == {"count": 40, "type": "ESTIMATED"}
    assert r["start_date"] == {"date": "2025-01", "type": "ESTIMATED"}
    assert r["primary_completion_date"] == {"date": "2027-12", "type": "ESTIMATED"}
    assert r["completion_date"] == {"date": "2028-12", "type": "ESTIMATED"}
    assert r["has_results"] is False
    assert r["summary"] == (
        "The goal of this clinical trial is to evaluate the safety and efficacy of human umbilical "
        "cord mesenchymal stem cells (hUC-MSC) in the treatment of Alport syndrome (AS) in a "
        "randomized, single-blind, placebo-controlled trial, to provide a clinical basis for the "
        "development of stem cell products for the treatment of AS, and to further clarify the "
        "therapeutic effect of hUC-MSC in the treatment of AS."
    )
    assert r["description"] is None
    assert r["design"] == {
        "allocation": "RANDOMIZED",
        "intervention_model": "PARALLEL",
        "primary_purpose": "TREATMENT",
        "masking": "SINGLE",
        "who_masked": ["PARTICIPANT"],
        "observational_model": None,
        "time_perspective": None,
    }
    conventional = "Conventional clinical treatment refers to symptomatic treatment with ACEI and ARB drugs."
    assert r["arms"] == [
        {
            "label": "MSC Theatment",
            "type": "EXPERIMENTAL",
            "description": "Conventional symptomatic supportive treatment and human umbilical "
            "cord mesenchymal stem cells treatment",
            "interventions": ["hUC-MSC"],
        },
        {
            "label": "Placebo Control",
            "type": "PLACEBO_COMPARATOR",
            "description": "Conventional symptomatic supportive treatment and normal saline as a placebo control",
            "interventions": ["Placebo control drug"],
        },
    ]
    assert r["interventions"] == [
        {
            "name": "hUC-MSC",
            "type": "BIOLOGICAL",
            "description": (
                "This group of patients received a total of 2 peripheral intravenous Human "
                "umbilical cord mesenchymal stem cells (hUC-MSC) infusions during the treatment "
                "period on the basis of conventional symptomatic and supportive treatment. The "
                "interval between the two infusions was 14 days, and the single infusion dose was "
                "approximately 2×1000,000 cells/Kg.\n\n" + conventional
            ),
            "other_names": [],
        },
        {
            "name": "Placebo control drug",
            "type": "DRUG",
            "description": (
                "This group of patients received a total of 2 intravenous infusions of normal "
                "saline (the same volume, specifications and batches used in the experimental "
                "group) as a placebo control during the treatment period on the basis of "
                "conventional symptomatic and supportive treatment. The interval between the two "
                "infusions was 14 days.\n\n" + conventional
            ),
            "other_names": [],
        },
    ]
    assert r["eligibility"] == {
        "inclusion": [
            "3 years old ≤Age ≤ 12 years old;",
            "Meet the diagnostic criteria of Alport syndrome;",
            "Positive proteinuria or combined hematuria;",
            "Chronic kidney disease (CKD) stage: I-III stage children, that is, glomerular "
            "filtration rate greater than 60 ml/min.1.73m2;",
            "No history of infectious diseases within 1 week before treatment;",
            "Negative infectious disease screening;",
            "No allergic state and related clinical manifestations;",
            "Signed informed consent (children or their families).",
        ],
        "exclusion": [
            "Age \\<3 years or \\>12 years old;",
            "Alport syndrome patients with only microscopic hematuria and normal glomerular filtration rate;",
            "Patients with significantly reduced renal function, chronic kidney disease stage IV "
            "or V, Alport syndrome;",
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
    }
    assert r["lead_sponsor"] == {"name": "Guangzhou Women and Children's Medical Center", "class": "OTHER"}
    assert r["responsible_party"]["type"] == "SPONSOR"
    assert [(c["name"], c["role"], c["phone"]) for c in r["central_contacts"]] == [
        ("Xia Gao", "CONTACT", "86-020-81330569")
    ]
    assert [(i["id"], i["type"], i["source"]) for i in r["other_ids"]] == [
        ("[2022]00100-3", None, "org_study_id"),
        ("MR-44-24-042448", "OTHER_GRANT", "secondary_id"),
    ]
    assert len(r["outcomes"]["primary"]) == 1
    assert len(r["locations"]) == 1
