"""ClinicalTrials.gov API v2 study JSON → trial record.

`map_study` is pure and built for bulk use (hundreds of thousands of records): plain dict
look-ups through small type-checking accessors, no copies of the input.  The API carries
every field of the record but `results` (the results sections as a results page shows them),
so `unknown` is always `["results"]`; a module or key the study lacks is shown as absent
(``None`` or ``[]``).

Wrongly typed input never raises anything but InputError: the required fields (NCT id, brief
title, overall status) must be strings, and an optional value of the wrong type (a string
where an object belongs, a number where text belongs, a list item that is not an object) is
read as absent.
"""

from __future__ import annotations

import json

import orjson

from .criteria import split_criteria
from .errors import InputError
from .ids import is_nct_id

_NO_DICT: dict = {}  # shared, never written to
_NO_LIST: tuple = ()

# InterventionType labels as the registry writes them in armGroups[].interventionNames.
_INTERVENTION_LABELS = frozenset(
    {
        "Drug",
        "Biological",
        "Device",
        "Other",
        "Procedure",
        "Behavioral",
        "Radiation",
        "Genetic",
        "Dietary Supplement",
        "Combination Product",
        "Diagnostic Test",
    }
)


def _d(value) -> dict:
    """`value` if it is an object, else an empty one."""
    return value if type(value) is dict else _NO_DICT


def _l(value):
    """`value` if it is a list, else an empty sequence."""
    return value if type(value) is list else _NO_LIST


def _s(value) -> str | None:
    """`value` if it is text, else None."""
    return value if type(value) is str else None


def _strs(value) -> list[str]:
    """The text items of a list (anything else dropped)."""
    return [item for item in _l(value) if type(item) is str]


def _dicts(value) -> list[dict]:
    """The object items of a list (anything else dropped)."""
    return [item for item in _l(value) if type(item) is dict]


def _bool(value) -> bool | None:
    return value if type(value) is bool else None


def _dated(struct) -> dict | None:
    """A date struct → `{"date", "type"}`, the date exactly as given; None without a date."""
    struct = _d(struct)
    date = _s(struct.get("date"))
    if date is None:
        return None
    return {"date": date, "type": _s(struct.get("type"))}


def _intervention_name(name: str) -> str:
    """`Drug: Placebo` → `Placebo`; a prefix that is not an intervention type stays."""
    label, sep, rest = name.partition(": ")
    return rest if sep and label in _INTERVENTION_LABELS else name


def _phone(contact: dict) -> str | None:
    phone = _s(contact.get("phone"))
    ext = _s(contact.get("phoneExt"))
    if ext:
        return f"{phone} ext {ext}" if phone else f"ext {ext}"
    return phone


def _outcomes(items) -> list[dict]:
    return [
        {
            "measure": _s(o.get("measure")),
            "time_frame": _s(o.get("timeFrame")),
            "description": _s(o.get("description")),
        }
        for o in _dicts(items)
    ]


def map_outcomes(items) -> list[dict]:
    """API outcome objects (`primaryOutcomes`…) → the record's `{measure, time_frame, description}` items."""
    return _outcomes(items)


def map_enrollment(info) -> dict | None:
    """An API `enrollmentInfo` object → the record's `{count, type}` (None when it has neither)."""
    return _enrollment({"enrollmentInfo": info})


def _locations(items) -> list[dict]:
    """Sites `{facility, city, state, country, status}`.  The hot loop (a study can list over
    a thousand sites), so the text check is inlined rather than a call to `_s`."""
    out = []
    for loc in _l(items):
        if type(loc) is dict:
            get = loc.get
            out.append(
                {
                    "facility": f if type(f := get("facility")) is str else None,
                    "city": c if type(c := get("city")) is str else None,
                    "state": s if type(s := get("state")) is str else None,
                    "country": n if type(n := get("country")) is str else None,
                    "status": t if type(t := get("status")) is str else None,
                }
            )
    return out


def _study_label(ident: dict) -> str:
    """How an error names a study: its NCT id, else its brief title."""
    nct = _s(ident.get("nctId"))
    if nct:
        return repr(nct[:40])
    title = _s(ident.get("briefTitle"))
    return f"study {title[:80]!r}" if title else "study without nctId or briefTitle"


def _required(study) -> tuple[dict, str, str, str]:
    """The protocol section and the three fields a record cannot do without; InputError if absent."""
    if type(study) is not dict:
        raise InputError(f"not a ClinicalTrials.gov study object (got {type(study).__name__})")
    protocol = _d(study.get("protocolSection"))
    ident = _d(protocol.get("identificationModule"))
    nct_id = _s(ident.get("nctId"))
    title = _s(ident.get("briefTitle"))
    status = _s(_d(protocol.get("statusModule")).get("overallStatus"))
    if not nct_id or not title or not status:
        missing = [
            path
            for path, value in (
                ("protocolSection.identificationModule.nctId", nct_id),
                ("protocolSection.identificationModule.briefTitle", title),
                ("protocolSection.statusModule.overallStatus", status),
            )
            if not value
        ]
        raise InputError(f"{_study_label(ident)}: missing or not text: {', '.join(missing)}")
    if not is_nct_id(nct_id) or nct_id != nct_id.strip():
        raise InputError(f"{nct_id[:40]!r}: nctId is not an NCT id (NCT followed by 8 digits)")
    return protocol, nct_id, title, status


def _other_ids(ident: dict) -> list[dict]:
    other_ids = []
    org_id = _d(ident.get("orgStudyIdInfo"))
    if org_id:
        other_ids.append(
            {"id": _s(org_id.get("id")), "type": _s(org_id.get("type")), "source": "org_study_id", "domain": None}
        )
    for sid in _dicts(ident.get("secondaryIdInfos")):
        other_ids.append(
            {
                "id": _s(sid.get("id")),
                "type": _s(sid.get("type")),
                "source": "secondary_id",
                "domain": _s(sid.get("domain")),
            }
        )
    return other_ids


def _submission_tracking(misc: dict) -> dict | None:
    """`derivedSection.miscInfoModule.submissionTracking` → the record's form; None without one."""
    tracking = _d(misc.get("submissionTracking"))
    if not tracking:
        return None
    return {
        "estimated_results_first_submitted": _s(tracking.get("estimatedResultsFirstSubmitDate")),
        "first_mcp_posted": _s(_d(_d(tracking.get("firstMcpInfo")).get("postDateStruct")).get("date")),
        "submissions": [
            {
                "release": _s(info.get("releaseDate")),
                "unrelease": _s(info.get("unreleaseDate")),
                "unrelease_unknown": _bool(info.get("unreleaseDateUnknown")),
                "reset": _s(info.get("resetDate")),
                "mcp_release_n": n if type(n := info.get("mcpReleaseN")) is int else None,
            }
            for info in _dicts(tracking.get("submissionInfos"))
        ],
    }


def _status(status_mod: dict, has_results, misc: dict) -> dict:
    """Status, results flag and the registry's dates, in the record's order."""
    return {
        "why_stopped": _s(status_mod.get("whyStopped")),
        "last_known_status": _s(status_mod.get("lastKnownStatus")),
        "in_registry": True,
        "phases": None,  # placeholders keeping the record's key order; map_study fills them
        "study_type": None,
        "has_results": has_results if type(has_results) is bool else False,
        "last_updated": _s(_d(status_mod.get("lastUpdatePostDateStruct")).get("date")),
        "first_posted": _s(_d(status_mod.get("studyFirstPostDateStruct")).get("date")),
        "results_first_posted": _s(_d(status_mod.get("resultsFirstPostDateStruct")).get("date")),
        "first_submitted": _s(status_mod.get("studyFirstSubmitDate")),
        "first_submitted_qc": _s(status_mod.get("studyFirstSubmitQcDate")),
        "last_update_submitted": _s(status_mod.get("lastUpdateSubmitDate")),
        "results_first_submitted": _s(status_mod.get("resultsFirstSubmitDate")),
        "certificate_of_delay": _s(status_mod.get("dispFirstSubmitDate")),
        "status_verified": _s(status_mod.get("statusVerifiedDate")),
        "submission_tracking": _submission_tracking(misc),
        "start_date": _dated(status_mod.get("startDateStruct")),
        "primary_completion_date": _dated(status_mod.get("primaryCompletionDateStruct")),
        "completion_date": _dated(status_mod.get("completionDateStruct")),
    }


def _enrollment(design_mod: dict) -> dict | None:
    info = _d(design_mod.get("enrollmentInfo"))
    count = info.get("count")
    count = count if type(count) is int else None
    kind = _s(info.get("type"))
    return None if count is None and kind is None else {"count": count, "type": kind}


def _design(design_mod: dict) -> dict:
    info = _d(design_mod.get("designInfo"))
    masking = _d(info.get("maskingInfo"))
    return {
        "allocation": _s(info.get("allocation")),
        "intervention_model": _s(info.get("interventionModel")),
        "primary_purpose": _s(info.get("primaryPurpose")),
        "masking": _s(masking.get("masking")),
        "who_masked": _strs(masking.get("whoMasked")),
        "observational_model": _s(info.get("observationalModel")),
        "time_perspective": _s(info.get("timePerspective")),
    }


def _arms(arms_mod: dict) -> list[dict]:
    return [
        {
            "label": _s(arm.get("label")),
            "type": _s(arm.get("type")),
            "description": _s(arm.get("description")),
            "interventions": [_intervention_name(name) for name in _strs(arm.get("interventionNames"))],
        }
        for arm in _dicts(arms_mod.get("armGroups"))
    ]


def _interventions(arms_mod: dict) -> list[dict]:
    return [
        {
            "name": _s(item.get("name")),
            "type": _s(item.get("type")),
            "description": _s(item.get("description")),
            "other_names": _strs(item.get("otherNames")),
        }
        for item in _dicts(arms_mod.get("interventions"))
    ]


def _eligibility(elig_mod: dict) -> dict:
    inclusion, exclusion, other = split_criteria(_s(elig_mod.get("eligibilityCriteria")))
    return {
        "inclusion": inclusion,
        "exclusion": exclusion,
        "other": other,
        "minimum_age": _s(elig_mod.get("minimumAge")),
        "maximum_age": _s(elig_mod.get("maximumAge")),
        "sex": _s(elig_mod.get("sex")),
        "healthy_volunteers": _bool(elig_mod.get("healthyVolunteers")),
    }


def _sponsors(sponsor_mod: dict) -> dict:
    lead = _d(sponsor_mod.get("leadSponsor"))
    party = _d(sponsor_mod.get("responsibleParty"))
    return {
        "lead_sponsor": {"name": _s(lead.get("name")), "class": _s(lead.get("class"))} if lead else None,
        "collaborators": [
            {"name": _s(c.get("name")), "class": _s(c.get("class"))} for c in _dicts(sponsor_mod.get("collaborators"))
        ],
        "responsible_party": {
            "type": _s(party.get("type")),
            "investigator_name": _s(party.get("investigatorFullName")) or _s(party.get("oldNameTitle")),
            "investigator_title": _s(party.get("investigatorTitle")),
            "investigator_affiliation": _s(party.get("investigatorAffiliation")) or _s(party.get("oldOrganization")),
        }
        if party
        else None,
    }


def _contacts(contacts_mod: dict) -> dict:
    return {
        "central_contacts": [
            {"name": _s(c.get("name")), "role": _s(c.get("role")), "phone": _phone(c), "email": _s(c.get("email"))}
            for c in _dicts(contacts_mod.get("centralContacts"))
        ],
        "overall_officials": [
            {"name": _s(o.get("name")), "affiliation": _s(o.get("affiliation")), "role": _s(o.get("role"))}
            for o in _dicts(contacts_mod.get("overallOfficials"))
        ],
    }


def _all_outcomes(outcomes_mod: dict) -> dict:
    return {
        "primary": _outcomes(outcomes_mod.get("primaryOutcomes")),
        "secondary": _outcomes(outcomes_mod.get("secondaryOutcomes")),
        "other": _outcomes(outcomes_mod.get("otherOutcomes")),
    }


def _references(protocol: dict) -> list[dict]:
    return [
        {"pmid": _s(r.get("pmid")), "type": _s(r.get("type")), "citation": _s(r.get("citation"))}
        for r in _dicts(_d(protocol.get("referencesModule")).get("references"))
    ]


def map_study(study: dict) -> dict:
    """One API v2 study object → a trial record (every key of `record.empty_record()`, in order).

    Raises InputError (one line) when the study is not an object or lacks its NCT id,
    brief title or overall status.
    """
    protocol, nct_id, title, status = _required(study)
    ident = _d(protocol.get("identificationModule"))
    design_mod = _d(protocol.get("designModule"))
    conditions_mod = _d(protocol.get("conditionsModule"))
    description_mod = _d(protocol.get("descriptionModule"))
    arms_mod = _d(protocol.get("armsInterventionsModule"))
    contacts_mod = _d(protocol.get("contactsLocationsModule"))
    oversight = _d(protocol.get("oversightModule"))
    dates = _status(
        _d(protocol.get("statusModule")),
        study.get("hasResults"),
        _d(_d(study.get("derivedSection")).get("miscInfoModule")),
    )
    dates["phases"] = _strs(design_mod.get("phases"))
    dates["study_type"] = _s(design_mod.get("studyType"))
    return {
        "nct_id": nct_id.upper(),
        "title": title,
        "official_title": _s(ident.get("officialTitle")),
        "acronym": _s(ident.get("acronym")),
        "status": status,
        **dates,
        "enrollment": _enrollment(design_mod),
        "conditions": _strs(conditions_mod.get("conditions")),
        "keywords": _strs(conditions_mod.get("keywords")),
        "summary": _s(description_mod.get("briefSummary")),
        "description": _s(description_mod.get("detailedDescription")),
        "fda_regulated_drug": _bool(oversight.get("isFdaRegulatedDrug")),
        "fda_regulated_device": _bool(oversight.get("isFdaRegulatedDevice")),
        "design": _design(design_mod),
        "arms": _arms(arms_mod),
        "interventions": _interventions(arms_mod),
        "eligibility": _eligibility(_d(protocol.get("eligibilityModule"))),
        **_sponsors(_d(protocol.get("sponsorCollaboratorsModule"))),
        **_contacts(contacts_mod),
        "other_ids": _other_ids(ident),
        "outcomes": _all_outcomes(_d(protocol.get("outcomesModule"))),
        "locations": _locations(contacts_mod.get("locations")),
        "references": _references(protocol),
        "results": {},
        "extra_sections": {},
        "unknown": ["results"],  # results data as a results page shows them; the API's are not mapped
    }


def load_json(text: str | bytes):
    """Parse JSON text: orjson (twice as fast), or the standard library for what orjson refuses
    (integers beyond 64 bits, NaN, lone surrogates), so the same files read as before; a
    ValueError for what is not JSON, and for JSON nested too deeply to read (`[[[[…]]]]`
    100,000 deep: orjson stops at 1,024 levels, the standard library would recurse until
    RecursionError)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            return json.loads(text)
        except RecursionError:
            raise ValueError("nested too deeply to be a trial record") from None


def _is_study(obj) -> bool:
    return type(obj) is dict and "protocolSection" in obj


def _studies_in(items, name: str, where: str) -> list[dict]:
    if type(items) is not list:
        raise InputError(f"{name}: {where} is not a list (got {type(items).__name__})")
    for i, item in enumerate(items):
        if not _is_study(item):
            raise InputError(f"{name}: {where}[{i}] is not a study object (no protocolSection)")
    return items


def studies_from_json(obj, name: str) -> list[dict]:
    """The study objects in parsed API v2 JSON.

    Accepts a study object (`GET /api/v2/studies/{nctId}`), a `/studies` page
    (`{"studies": [...], "nextPageToken": ...}`), a history version body
    (`{"studyVersion": N, "study": {...}}`) or a JSON list of study objects.
    Anything else is an InputError naming `name`.
    """
    if type(obj) is dict:
        if "protocolSection" in obj:
            return [obj]
        if "studies" in obj:
            return _studies_in(obj["studies"], name, "studies")
        if "study" in obj and "studyVersion" in obj:
            if not _is_study(obj["study"]):
                raise InputError(f"{name}: 'study' of the history version is not a study object (no protocolSection)")
            return [obj["study"]]
        keys = ", ".join(repr(k)[:40] for k in list(obj)[:5]) or "none"
        raise InputError(
            f"{name}: not a ClinicalTrials.gov study, /studies page or history version "
            f"(no protocolSection, studies or studyVersion/study key; keys: {keys[:200]})"
        )
    if type(obj) is list:
        return _studies_in(obj, name, "list")
    raise InputError(
        f"{name}: not a ClinicalTrials.gov study, /studies page or history version (got a JSON {type(obj).__name__})"
    )
