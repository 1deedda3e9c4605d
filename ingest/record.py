"""The trial record: one JSON-able dict per trial, the same shape whatever the source.

Every key in FIELDS is always present in a record.  A value the source shows as absent is
``None`` (or ``[]`` for lists); a value the source does not carry at all is *unknown*: its
path is listed in the record's ``unknown`` key, and the diff never reports its first
appearance (or its disappearance) as a change.

Paths use dots for nested keys and ``[]`` for "every item of this list", e.g.
``enrollment.type``, ``central_contacts[].email``.  One pseudo-path: ``start_date.precision``
(likewise for the other dates) says the source renders every date as a full day even where
the registry holds only a month, so a day-precision value may stand for its whole month.

FIELDS is the single description of the record: the README's field table is generated from it.
"""

from __future__ import annotations

import copy
import hashlib
import json

import orjson

# (path, kind, description).  Top-level keys first, nested keys after their parent.
FIELDS: list[tuple[str, str, str]] = [
    ("nct_id", "text", "ClinicalTrials.gov identifier, upper case: `NCT06731192`."),
    ("title", "text", "Brief title."),
    ("official_title", "text", "Official (scientific) title."),
    ("acronym", "text", "Study acronym."),
    (
        "status",
        "code",
        "Overall recruitment status, the registry's code: `NOT_YET_RECRUITING`, `RECRUITING`, `TERMINATED`…",
    ),
    ("why_stopped", "text", "Why a suspended, terminated or withdrawn study stopped."),
    (
        "last_known_status",
        "code",
        "For a record whose status is `UNKNOWN`: the status it last had (`lastKnownStatus`).",
    ),
    (
        "in_registry",
        "bool",
        "Whether ClinicalTrials.gov has the record: false on an observation that the registry no longer returns it (`trialwatch run` checks), true in every registry record.",
    ),
    (
        "phases",
        "list of codes",
        '`["PHASE2", "PHASE3"]`; `["NA"]` for not applicable; `[]` when the study has none (observational).',
    ),
    ("study_type", "code", "`INTERVENTIONAL`, `OBSERVATIONAL` or `EXPANDED_ACCESS`."),
    ("has_results", "bool", "Whether results are posted."),
    ("last_updated", "date", "The registry's last update post date, `YYYY-MM-DD`."),
    ("first_posted", "date", "First posted date, as the registry gives it."),
    ("results_first_posted", "date", "Results first posted date, as the registry gives it."),
    ("first_submitted", "date", "When the record was first submitted to the registry (`studyFirstSubmitDate`)."),
    (
        "first_submitted_qc",
        "date",
        "When the first submission passed the registry's quality control (`studyFirstSubmitQcDate`): the date of version 0 in the registry's history.",
    ),
    (
        "last_update_submitted",
        "date",
        "When this version was submitted (`lastUpdateSubmitDate`): the registry's history dates versions by it, a few days before `last_updated` made them public. Kept, not compared.",
    ),
    ("results_first_submitted", "date", "When results were first submitted (`resultsFirstSubmitDate`)."),
    (
        "certificate_of_delay",
        "date",
        "When a certificate of delay of results was first submitted (`dispFirstSubmitDate`).",
    ),
    (
        "status_verified",
        "date",
        "When the sponsor last verified the record (`statusVerifiedDate`, month precision). Kept, not compared.",
    ),
    (
        "submission_tracking",
        "object",
        'Results submissions the registry tracks (`submissionTracking`): `{"estimated_results_first_submitted", "first_mcp_posted", "submissions": [{"release", "unrelease", "unrelease_unknown", "reset", "mcp_release_n"}]}`; null when the record has none.',
    ),
    (
        "start_date",
        "dated",
        '`{"date": "2025-01", "type": "ESTIMATED"}`: date exactly as the registry gives it (month precision stays month precision); type `ACTUAL`, `ESTIMATED` or null when the source does not say.',
    ),
    ("primary_completion_date", "dated", "Like `start_date`."),
    ("completion_date", "dated", "Like `start_date`."),
    (
        "enrollment",
        "object",
        '`{"count": 40, "type": "ESTIMATED"}` (type null when the source does not say), or null when the source shows none.',
    ),
    ("conditions", "list", "Conditions studied, as the registry lists them."),
    ("keywords", "list", "Keywords, as the registry lists them."),
    ("summary", "text", "Brief summary."),
    ("description", "text", "Detailed description."),
    (
        "fda_regulated_drug",
        "bool",
        "Whether the study is of a drug or biological product regulated by the U.S. FDA (`isFdaRegulatedDrug`); null when the record does not say.",
    ),
    (
        "fda_regulated_device",
        "bool",
        "Whether the study is of a device product regulated by the U.S. FDA (`isFdaRegulatedDevice`); null when the record does not say.",
    ),
    ("design", "object", "Study design."),
    ("design.allocation", "code", "`RANDOMIZED`, `NON_RANDOMIZED` or `NA`."),
    ("design.intervention_model", "code", "`PARALLEL`, `SINGLE_GROUP`, `CROSSOVER`, `FACTORIAL`, `SEQUENTIAL`."),
    ("design.primary_purpose", "code", "`TREATMENT`, `PREVENTION`, `DIAGNOSTIC`…"),
    ("design.masking", "code", "`NONE`, `SINGLE`, `DOUBLE`, `TRIPLE`, `QUADRUPLE`."),
    ("design.who_masked", "list of codes", "`PARTICIPANT`, `CARE_PROVIDER`, `INVESTIGATOR`, `OUTCOMES_ASSESSOR`."),
    ("design.observational_model", "code", "Observational studies: `COHORT`, `CASE_CONTROL`…"),
    (
        "design.time_perspective",
        "code",
        "Observational studies: `PROSPECTIVE`, `RETROSPECTIVE`, `CROSS_SECTIONAL`, `OTHER`.",
    ),
    ("arms", "list", "Arms or groups, matched by label in diffs."),
    ("arms[].label", "text", "The arm's label."),
    ("arms[].type", "code", "`EXPERIMENTAL`, `PLACEBO_COMPARATOR`…"),
    ("arms[].description", "text", "The arm's description."),
    (
        "arms[].interventions",
        "list",
        "Names of the interventions the arm receives (without the registry's `Drug: ` prefix).",
    ),
    ("interventions", "list", "Interventions, matched by name in diffs."),
    ("interventions[].name", "text", "The intervention's name."),
    ("interventions[].type", "code", "`DRUG`, `BIOLOGICAL`, `DEVICE`…"),
    ("interventions[].description", "text", "The intervention's description."),
    ("interventions[].other_names", "list", "Other names of the intervention."),
    ("eligibility", "object", "Who can take part."),
    ("eligibility.inclusion", "list", "Inclusion criteria, one item per bullet."),
    ("eligibility.exclusion", "list", "Exclusion criteria, one item per bullet."),
    ("eligibility.other", "list", "Criteria lines that stand under neither heading, one item per line."),
    ("eligibility.minimum_age", "text", "As the registry writes it: `3 Years`."),
    ("eligibility.maximum_age", "text", "As the registry writes it: `12 Years`."),
    ("eligibility.sex", "code", "`ALL`, `FEMALE` or `MALE`."),
    ("eligibility.healthy_volunteers", "bool", "Whether healthy volunteers are accepted."),
    ("lead_sponsor", "object", '`{"name": …, "class": "OTHER"}`.'),
    ("collaborators", "list", '`[{"name": …, "class": …}]`, matched by name.'),
    (
        "responsible_party",
        "object",
        '`{"type": "SPONSOR", "investigator_name", "investigator_title", "investigator_affiliation"}`.',
    ),
    ("central_contacts", "list", '`[{"name", "role", "phone", "email"}]`, matched by name.'),
    ("overall_officials", "list", '`[{"name", "affiliation", "role"}]`, matched by name.'),
    (
        "other_ids",
        "list",
        'Other identifiers `[{"id", "type", "source", "domain"}]`; source is `org_study_id` or `secondary_id`; matched by id.',
    ),
    (
        "outcomes",
        "object",
        '`{"primary": [...], "secondary": [...], "other": [...]}`, each item `{"measure", "time_frame", "description"}`, matched by measure.',
    ),
    (
        "locations",
        "list",
        'Sites `[{"facility", "city", "state", "country", "status"}]`, matched by facility, city and country.',
    ),
    ("references", "list", '`[{"pmid", "type", "citation"}]`, matched by PMID (or citation).'),
    (
        "results",
        "object",
        "Results sections as a results page shows them (Participant Flow, Baseline Characteristics, …), heading → text; unknown for every source that does not show them.",
    ),
    (
        "extra_sections",
        "object",
        "Sections of a page the parser did not understand, heading → text, kept rather than lost.",
    ),
    ("unknown", "list", "Paths of the fields this record's source does not carry (see above); never compared."),
]

TOP_LEVEL = [path for path, _, _ in FIELDS if "." not in path and "[" not in path]

DATE_FIELDS = ("start_date", "primary_completion_date", "completion_date")

STATUSES = (
    "ACTIVE_NOT_RECRUITING",
    "COMPLETED",
    "ENROLLING_BY_INVITATION",
    "NOT_YET_RECRUITING",
    "RECRUITING",
    "SUSPENDED",
    "TERMINATED",
    "WITHDRAWN",
    "AVAILABLE",
    "NO_LONGER_AVAILABLE",
    "TEMPORARILY_NOT_AVAILABLE",
    "APPROVED_FOR_MARKETING",
    "WITHHELD",
    "UNKNOWN",
)
STUDY_TYPES = ("EXPANDED_ACCESS", "INTERVENTIONAL", "OBSERVATIONAL")
PHASES = ("NA", "EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4")
WHO_MASKED = ("PARTICIPANT", "CARE_PROVIDER", "INVESTIGATOR", "OUTCOMES_ASSESSOR")


# The record with every key present and nothing known yet (see FIELDS): `empty_record` copies it.
_EMPTY: dict = {
    "nct_id": None,
    "title": None,
    "official_title": None,
    "acronym": None,
    "status": None,
    "why_stopped": None,
    "last_known_status": None,
    "in_registry": None,
    "phases": [],
    "study_type": None,
    "has_results": False,
    "last_updated": None,
    "first_posted": None,
    "results_first_posted": None,
    "first_submitted": None,
    "first_submitted_qc": None,
    "last_update_submitted": None,
    "results_first_submitted": None,
    "certificate_of_delay": None,
    "status_verified": None,
    "submission_tracking": None,
    "start_date": None,
    "primary_completion_date": None,
    "completion_date": None,
    "enrollment": None,
    "conditions": [],
    "keywords": [],
    "summary": None,
    "description": None,
    "fda_regulated_drug": None,
    "fda_regulated_device": None,
    "design": {
        "allocation": None,
        "intervention_model": None,
        "primary_purpose": None,
        "masking": None,
        "who_masked": [],
        "observational_model": None,
        "time_perspective": None,
    },
    "arms": [],
    "interventions": [],
    "eligibility": {
        "inclusion": [],
        "exclusion": [],
        "other": [],
        "minimum_age": None,
        "maximum_age": None,
        "sex": None,
        "healthy_volunteers": None,
    },
    "lead_sponsor": None,
    "collaborators": [],
    "responsible_party": None,
    "central_contacts": [],
    "overall_officials": [],
    "other_ids": [],
    "outcomes": {"primary": [], "secondary": [], "other": []},
    "locations": [],
    "references": [],
    "results": {},
    "extra_sections": {},
    "unknown": [],
}


def empty_record(nct_id: str | None = None) -> dict:
    """A record with every key present and nothing known yet."""
    record = copy.deepcopy(_EMPTY)
    record["nct_id"] = nct_id
    return record


def upgrade(record: dict) -> dict:
    """A stored record written by an older release, completed: each top-level key it lacks is
    added (empty) and listed in `unknown`, so a field this release learned is never a change."""
    missing = [key for key in TOP_LEVEL if key not in record]
    if not missing:
        return record
    template = empty_record()
    record = {key: record[key] if key in record else template[key] for key in TOP_LEVEL}
    record["unknown"] = sorted(set(record["unknown"] or ()) | set(missing))
    return record


def absent_record(nct_id: str) -> dict:
    """What an observation that the registry no longer returns a trial records: `in_registry`
    false, every other field unknown (the absence says nothing of them)."""
    record = empty_record(nct_id)
    record["in_registry"] = False
    return finish(record, [key for key in TOP_LEVEL if key not in ("nct_id", "in_registry", "unknown")])


def canonical_json(record: dict) -> str:
    """The record as canonical JSON: sorted keys, no whitespace, unicode kept.

    orjson is five times faster than `json.dumps(sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)` and writes the same for what records hold (text, integers, booleans,
    null, lists and objects of them); it writes floats differently (`1e-7`, not `1e-07`), and
    records hold none.  What it refuses (an integer beyond 64 bits, a lone surrogate, a key
    that is not text) the standard library writes.
    """
    try:
        return orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode("utf-8")
    except TypeError:
        return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(record: dict) -> str:
    """SHA-256 of the canonical record: equal records, equal hashes."""
    return hash_canonical(canonical_json(record))


def hash_canonical(text: str) -> str:
    """`content_hash` of a record whose canonical JSON is `text` (to make the JSON only once)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def finish(record: dict, unknown) -> dict:
    """Set the record's unknown paths (sorted, unique) and return it."""
    record["unknown"] = sorted(set(unknown))
    return record


def copy_record(record: dict) -> dict:
    return copy.deepcopy(record)
