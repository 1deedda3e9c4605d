"""Saved registry pages (meddatax.com's text of a ClinicalTrials.gov record) → a trial record.

Two text renderings exist (see `tests/fixtures/pages/FORMAT.md`): the *labeled* one (the
seed: label lines such as `Recruitment Status` above each value) and the *label-less* one
(label lines and badges dropped; values recognised by their shape and by their order).

The parser works in three steps:

1. lines: one block per non-empty line; chrome glued to a heading is cut off, a label split
   from its value (a table cell each) is joined back;
2. sections: the header (title, NCT id, last update) and one list of lines per heading, with
   the heading's fixed blurb dropped (blurbs are chrome, never data);
3. one small function per section (the SECTIONS table) fills the record and names what it
   could not tell; sections that are absent, or possibly incomplete because the page was cut
   short, make their fields unknown.

Pure: text in, (record, warnings) out; no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .criteria import split_criteria
from .errors import InputError
from .record import STATUSES, STUDY_TYPES, empty_record, finish
from .results_page import is_results_title, parse_results_page
from .rows import (
    INVALID,
    Invalid,
    PageState,
    Row,
    as_age,
    as_code,
    as_dated_day,
    as_day,
    as_enrollment,
    as_phases,
    as_yes_no,
    join_paragraphs,
    matched,
    pair_rows,
    parse_who_masked,
    read_rows,
    settle_rows,
    warn_leftover,
)

# ClinicalTrials.gov codes the page shows (record.py holds the ones other sources share).
ALLOCATIONS = ("RANDOMIZED", "NON_RANDOMIZED", "NA")
INTERVENTION_MODELS = ("SINGLE_GROUP", "PARALLEL", "CROSSOVER", "FACTORIAL", "SEQUENTIAL")
PRIMARY_PURPOSES = (
    "TREATMENT",
    "PREVENTION",
    "DIAGNOSTIC",
    "ECT",
    "SUPPORTIVE_CARE",
    "SCREENING",
    "HEALTH_SERVICES_RESEARCH",
    "BASIC_SCIENCE",
    "DEVICE_FEASIBILITY",
    "OTHER",
)
MASKINGS = ("NONE", "SINGLE", "DOUBLE", "TRIPLE", "QUADRUPLE")
OBSERVATIONAL_MODELS = (
    "COHORT",
    "CASE_CONTROL",
    "CASE_ONLY",
    "CASE_CROSSOVER",
    "ECOLOGIC_OR_COMMUNITY",
    "FAMILY_BASED",
    "DEFINED_POPULATION",
    "NATURAL_HISTORY",
    "OTHER",
)
TIME_PERSPECTIVES = ("PROSPECTIVE", "RETROSPECTIVE", "CROSS_SECTIONAL", "OTHER")
ARM_TYPES = (
    "EXPERIMENTAL",
    "ACTIVE_COMPARATOR",
    "PLACEBO_COMPARATOR",
    "SHAM_COMPARATOR",
    "NO_INTERVENTION",
    "OTHER",
)
INTERVENTION_TYPES = (
    "BEHAVIORAL",
    "BIOLOGICAL",
    "COMBINATION_PRODUCT",
    "DEVICE",
    "DIAGNOSTIC_TEST",
    "DIETARY_SUPPLEMENT",
    "DRUG",
    "GENETIC",
    "PROCEDURE",
    "RADIATION",
    "OTHER",
)
SEXES = ("ALL", "FEMALE", "MALE")
SPONSOR_CLASSES = ("NIH", "FED", "OTHER_GOV", "INDIV", "INDUSTRY", "NETWORK", "AMBIG", "OTHER", "UNKNOWN")
SPONSOR_ROLES = ("lead", "collaborator")
RESPONSIBLE_PARTY_TYPES = ("SPONSOR", "PRINCIPAL_INVESTIGATOR", "SPONSOR_INVESTIGATOR")
CONTACT_ROLES = ("CONTACT", "PRINCIPAL_INVESTIGATOR", "STUDY_CHAIR", "STUDY_DIRECTOR", "SUB_INVESTIGATOR")
ID_TYPES = (
    "NIH",
    "FDA",
    "VA",
    "CDC",
    "AHRQ",
    "SAMHSA",
    "OTHER_GRANT",
    "EUDRACT_NUMBER",
    "CTIS",
    "REGISTRY",
    "OTHER",
)
ID_SOURCES = ("org_study_id", "secondary_id")
# Study types without phases: no Clinical Phase row means "none", not "not shown".
NO_PHASES = ("OBSERVATIONAL", "EXPANDED_ACCESS")
# The design rows that apply to each study type: a missing one is unknown, the others are None.
DESIGN_APPLIES = {
    "INTERVENTIONAL": ("allocation", "intervention_model", "primary_purpose", "masking"),
    "OBSERVATIONAL": ("observational_model", "time_perspective"),
    "EXPANDED_ACCESS": (),
}

# Fields no page carries.
ALWAYS_UNKNOWN = (
    "official_title",
    "acronym",
    "why_stopped",
    "first_posted",
    "results_first_posted",
    "primary_completion_date",
    "start_date.type",
    "start_date.precision",
    "completion_date.type",
    "completion_date.precision",
    "enrollment.type",
    "interventions[].other_names",
    "other_ids[].domain",
    "responsible_party.investigator_title",
    "overall_officials",
    "outcomes",
    "locations",
    "references",
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
    # a page may run several conditions or keywords together on one line: their items are unknown
    "conditions.items",
    "keywords.items",
)
# Fields the label-less rendering drops or may drop.
LABEL_LESS_UNKNOWN = (
    "arms[].type",
    "interventions[].type",
    "summary",
    "description",
    "conditions",
    "keywords",
    "design.who_masked",
)

_NCT_LINE = re.compile(r"^NCT ID:?\s*(NCT[0-9]{8})$", re.IGNORECASE)
_UPDATED_LINE = re.compile(r"^Last Updated:?\s*(.*)$", re.IGNORECASE)
_HIDDEN_EMAIL = re.compile(r"^\[email\s*protected\]$")
_VIEW_RESULTS = "View full results"
# Labels the site writes before their value on one line; a table layout splits them onto two.
_INLINE_LABELS = (
    ("NCT ID", ":"),
    ("Last Updated", ":"),
    ("Role", ":"),
    ("Phone", ":"),
    ("Email", ":"),
    ("Identifier Type", ":"),
    ("Identifier Source", ":"),
    ("Group Type", ""),
    ("Intervention Type", ""),
    ("Sponsor Role", ""),
    ("Responsibility Role", ""),
)
_GROUP_TYPE = re.compile(r"^Group Type\s*(\S*)$")
_INTERVENTION_TYPE = re.compile(r"^Intervention Type\s*(\S*)$")
_SPONSOR_ROLE = re.compile(r"^Sponsor Role\s*(\S*)$")
_RESPONSIBILITY_ROLE = re.compile(r"^Responsibility Role\s*(\S*)$")
_CONTACT_FIELD = re.compile(r"^(Role|Phone|Email):\s*(.*)$")
_ID_FIELD = re.compile(r"^Identifier (Type|Source):\s*(.*)$")
_BADGES = {"Results pending": False, "Results available": True}
_RESULTS_SENTENCES = {"has not published": False, "have been published": True}

# Headings of sections the parser keeps as text (extra_sections) without reading them.
OTHER_HEADINGS = (
    "Locations",
    "Study Locations",
    "Contacts and Locations",
    "Outcome Measures",
    "Outcome Measurements",
    "Study Officials",
    "References",
    "Publications",
    "Participant Flow",
    "Baseline Characteristics",
    "Adverse Events",
)
# A heading the parser has never seen is recognised by its blurb: one sentence addressed to the
# reader, starting with one of these verbs, like every known blurb.
_BLURB_VERBS = (
    "Get",
    "Review",
    "Dive",
    "See",
    "Explore",
    "Understand",
    "Learn",
    "Check",
    "Meet",
    "Identify",
    "Reach",
    "Find",
    "Browse",
    "Discover",
    "View",
    "Track",
    "Compare",
    "Read",
    "Locate",
    "Access",
)


# ---------------------------------------------------------------- one function per section


def _study_results(page: PageState, lines: list[str]) -> None:
    badge = next((_BADGES[line] for line in lines if line in _BADGES), None)
    sentence = next((value for line in lines for phrase, value in _RESULTS_SENTENCES.items() if phrase in line), None)
    if badge is not None and sentence is not None and badge != sentence:
        page.not_known("has_results", "Study Results: the badge and the sentence disagree; has_results left unknown")
    elif badge is not None or sentence is not None:
        page.record["has_results"] = badge if badge is not None else sentence
    else:
        page.not_known("has_results", "Study Results: neither badge nor sentence says whether results are posted")


BASIC_ROWS = (
    Row("Recruitment Status", "status", as_code(STATUSES, "recruitment status")),
    Row("Clinical Phase", "phases", as_phases),
    Row("Total Enrollment", "enrollment", as_enrollment),
    Row("Study Classification", "study_type", as_code(STUDY_TYPES, "study type")),
    Row("Study Start Date", "start_date", as_dated_day),
    Row("Study Completion Date", "completion_date", as_dated_day),
)


def _basic_information(page: PageState, lines: list[str]) -> None:
    values, leftover = read_rows(page, "Basic Information", lines, BASIC_ROWS)
    pair_rows(page, "Basic Information", values, "start_date", "completion_date")
    record = page.record
    settle_rows(page, values, [r.key for r in BASIC_ROWS if r.key != "phases"], record, "", lambda key: True)
    if "phases" in values:
        settle_rows(page, values, ["phases"], record, "", lambda key: True)
    elif record["study_type"] not in NO_PHASES:
        page.unknown.add("phases")
    for key in ("status", "enrollment", "study_type"):
        if key not in values:
            page.warnings.append(f"Basic Information: no {key.replace('_', ' ')} shown; left unknown")
    warn_leftover(page, "Basic Information", leftover)


def _text(key: str) -> Callable[[PageState, list[str]], None]:
    def parse(page: PageState, lines: list[str]) -> None:
        page.record[key] = join_paragraphs(lines)

    return parse


def _list(key: str) -> Callable[[PageState, list[str]], None]:
    def parse(page: PageState, lines: list[str]) -> None:
        page.record[key] = list(lines)

    return parse


DESIGN_ROWS = (
    Row("Allocation Method", "allocation", as_code(ALLOCATIONS, "allocation")),
    Row("Intervention Model", "intervention_model", as_code(INTERVENTION_MODELS, "intervention model")),
    Row("Primary Study Purpose", "primary_purpose", as_code(PRIMARY_PURPOSES, "primary purpose")),
    Row("Blinding Strategy", "masking", as_code(MASKINGS, "masking")),
    Row("Observational Model Type", "observational_model", as_code(OBSERVATIONAL_MODELS, "observational model")),
    Row("Study Time Perspective", "time_perspective", as_code(TIME_PERSPECTIVES, "time perspective")),
)


def _study_design(page: PageState, lines: list[str]) -> None:
    design = page.record["design"]
    masked = [roles for line in lines if (roles := parse_who_masked(line)) is not None]
    lines = [line for line in lines if parse_who_masked(line) is None]
    values, leftover = read_rows(page, "Study Design", lines, DESIGN_ROWS, "design.")
    study_type = page.record["study_type"]
    applies = DESIGN_APPLIES.get(study_type)
    settle_rows(
        page, values, [r.key for r in DESIGN_ROWS], design, "design.", lambda key: applies is None or key in applies
    )
    design["who_masked"] = masked[0] if masked else []
    if "design.masking" in page.unknown:
        page.unknown.add("design.who_masked")
    warn_leftover(page, "Study Design", leftover)


def _labeled_interventions(lines: list[str]) -> tuple[list[dict], list[str]]:
    """Interventions: name, description paragraphs, `Intervention Type X`."""
    items, block, problems = [], [], []
    for line in lines:
        match = _INTERVENTION_TYPE.match(line)
        if not match:
            block.append(line)
            continue
        if not block:
            problems.append(f"Interventions: {line!r} without a name before it")
            continue
        items.append(
            {
                "name": block[0],
                "type": match.group(1) or None,
                "description": join_paragraphs(block[1:]),
                "other_names": [],
                "_lines": block[1:],
                "_complete": bool(match.group(1)),
            }
        )
        block = []
    if block:
        items.append(
            {
                "name": block[0],
                "type": None,
                "description": join_paragraphs(block[1:]),
                "other_names": [],
                "_lines": block[1:],
                "_complete": False,
            }
        )
    return items, problems


def _interventions_of(page: PageState) -> tuple[list[dict] | None, list[str]]:
    """The labeled Interventions section's items.  The label-less rendering drops the type lines
    that end each item: where one arm receives several interventions, nothing on the page tells a
    name from a description line, so its interventions (and with them its arms) are unknown."""
    lines = page.sections.get("Interventions")
    if lines is None or not page.labeled:
        return None, []
    return _labeled_interventions(lines)


def _interventions(page: PageState, lines: list[str]) -> None:
    items, problems = _interventions_of(page)
    page.warnings.extend(problems)
    if items is None:
        page.not_known("interventions")  # the label-less rendering: said once, with what else it drops
        return
    for item in items:
        if page.labeled and item["type"] is not None and item["type"] not in INTERVENTION_TYPES:
            page.invalid("interventions[].type", item["type"], Invalid("not an intervention type code"))
            item["type"] = None
        if page.labeled and not item["_complete"]:
            page.unknown.add("interventions[].type")
    page.record["interventions"] = [{k: v for k, v in item.items() if not k.startswith("_")} for item in items]


def _labeled_groups(page: PageState, lines: list[str], descriptions: dict[str, list[str]]) -> list[dict] | None:
    """Study Groups: per arm its label, description, `Group Type X`, then its interventions
    (name, `Intervention Type X`, description).  Where an intervention's description ends and
    the next arm begins is told by the Interventions section; None when it cannot be told."""
    if lines and not any(_GROUP_TYPE.match(line) for line in lines):
        return None
    arms: list[dict] = []
    i, n = 0, len(lines)

    def is_name(k: int) -> bool:
        return k + 1 < n and bool(_INTERVENTION_TYPE.match(lines[k + 1]))

    while i < n:
        g = next((k for k in range(i, n) if _GROUP_TYPE.match(lines[k])), None)
        header = lines[i:g] if g is not None else lines[i:]
        if not header:
            return None
        arm: dict = {"label": header[0], "type": None, "description": join_paragraphs(header[1:]), "interventions": []}
        arms.append(arm)
        if g is None:  # no group type after it: a page cut short, or lines that belong nowhere
            if "Study Groups" in page.complete:
                return None
            break
        arm["type"] = matched(_GROUP_TYPE, lines[g]).group(1) or None
        i = g + 1
        while is_name(i):
            name = lines[i]
            arm["interventions"].append(name)
            i += 2
            known = descriptions.get(name)
            if known is not None and lines[i : i + len(known)] == known:
                i += len(known)
                continue
            end = next((k for k in range(i, n) if is_name(k) or _GROUP_TYPE.match(lines[k])), n)
            if end < n and _GROUP_TYPE.match(lines[end]) and end > i:
                return None  # description and next arm's header run together
            i = end
    return arms


def _study_groups(page: PageState, lines: list[str]) -> None:
    items, _ = _interventions_of(page)
    if not page.labeled:
        page.not_known("arms")  # see _interventions_of
        return
    descriptions = {item["name"]: item["_lines"] for item in items or [] if item["_complete"]}
    arms = _labeled_groups(page, lines, descriptions)
    if arms is None:
        page.not_known("arms", "Study Groups: cannot tell the arms apart; arms left unknown")
        return
    for arm in arms:
        if arm["type"] is not None and arm["type"] not in ARM_TYPES:
            page.invalid("arms[].type", arm["type"], Invalid("not an arm type code"))
            arm["type"] = None
        elif page.labeled and arm["type"] is None:
            page.unknown.add("arms[].type")
    page.record["arms"] = arms


ELIGIBILITY_ROWS = (
    Row("Minimum Eligible Age", "minimum_age", as_age),
    Row("Maximum Eligible Age", "maximum_age", as_age),
    Row("Eligible Sex", "sex", as_code(SEXES, "sex")),
    Row("Accepts Healthy Volunteers", "healthy_volunteers", as_yes_no),
)


def _is_tail_value(line: str) -> bool:
    for row in ELIGIBILITY_ROWS:
        try:
            row.convert(line)
            return True
        except Invalid:
            pass
    return False


def _eligibility(page: PageState, lines: list[str]) -> None:
    labels = {row.label for row in ELIGIBILITY_ROWS}
    if page.labeled:
        end = next((k for k, line in enumerate(lines) if line in labels), len(lines))
    else:  # the criteria end where the run of age/sex/yes-no lines at the end begins
        end = len(lines)
        while end > 0 and _is_tail_value(lines[end - 1]):
            end -= 1
    eligibility = page.record["eligibility"]
    eligibility["inclusion"], eligibility["exclusion"], eligibility["other"] = split_criteria("\n".join(lines[:end]))
    values, leftover = read_rows(page, "Eligibility Criteria", lines[end:], ELIGIBILITY_ROWS, "eligibility.")
    pair_rows(page, "Eligibility Criteria", values, "minimum_age", "maximum_age", "eligibility.")
    settle_rows(page, values, [r.key for r in ELIGIBILITY_ROWS], eligibility, "eligibility.", lambda key: True)
    warn_leftover(page, "Eligibility Criteria", leftover)


def _sponsors(page: PageState, lines: list[str]) -> None:
    entries: list[tuple[list[str], str | None]] = []
    block: list[str] = []
    has_roles = any(_SPONSOR_ROLE.match(line) for line in lines)
    for line in lines:
        role_line = _SPONSOR_ROLE.match(line)
        if role_line:
            entries.append((block, role_line.group(1)))
            block = []
        elif not has_roles and line in SPONSOR_CLASSES and block:
            entries.append((block + [line], None))
            block = []
        else:
            block.append(line)
    if block and has_roles:
        warn_leftover(page, "Sponsors", block)
    elif block:
        entries.append((block, None))
    sponsors = []
    for block, role in entries:
        name = block[0] if block else None
        kind = block[1] if len(block) > 1 else None
        if kind is not None and kind not in SPONSOR_CLASSES:
            page.invalid("lead_sponsor.class", kind, Invalid("not a sponsor class code"))
            kind = None
        warn_leftover(page, "Sponsors", block[2:])
        if role is not None and role not in SPONSOR_ROLES:
            page.invalid("collaborators", role, Invalid("not a sponsor role"))
        sponsors.append(({"name": name, "class": kind}, role))
    leads = [s for s, role in sponsors if role == "lead"]
    collaborators = [s for s, role in sponsors if role == "collaborator"]
    if not has_roles and sponsors:
        # A trial has one lead sponsor; with the role lines dropped, a single sponsor is it.
        leads, collaborators = [sponsors[0][0]], [s for s, _ in sponsors[1:]]
        if len(sponsors) > 1:
            page.not_known("lead_sponsor")
            page.not_known("collaborators", "Sponsors: no role lines; cannot tell the lead from collaborators")
    if len(leads) != 1:
        page.not_known("lead_sponsor", f"Sponsors: {len(leads)} lead sponsors shown; lead_sponsor left unknown")
    page.record["lead_sponsor"] = leads[0] if leads else None
    page.record["collaborators"] = collaborators


def _responsible_party(page: PageState, lines: list[str]) -> None:
    roles = [m.group(1) for line in lines if (m := _RESPONSIBILITY_ROLE.match(line))]
    others = [line for line in lines if not _RESPONSIBILITY_ROLE.match(line)]
    if not roles or roles[0] not in RESPONSIBLE_PARTY_TYPES:
        if roles:
            page.invalid("responsible_party", roles[0], Invalid("not a responsible party type"))
        else:
            page.not_known("responsible_party", "Responsible Party: no 'Responsibility Role' line; left unknown")
        return
    party = {"type": roles[0], "investigator_name": None, "investigator_title": None, "investigator_affiliation": None}
    if roles[0] != "SPONSOR":
        party["investigator_name"] = others[0] if others else None
        party["investigator_affiliation"] = others[1] if len(others) > 1 else None
        others = others[2:]
    warn_leftover(page, "Responsible Party", others)
    page.record["responsible_party"] = party


def _central_contacts(page: PageState, lines: list[str]) -> None:
    contacts = []
    for line in lines:
        match = _CONTACT_FIELD.match(line)
        if not match:
            contacts.append({"name": line, "role": None, "phone": None, "email": None})
            continue
        if not contacts:
            warn_leftover(page, "Central Contacts", [line])
            continue
        label, value = match.group(1).lower(), match.group(2).strip()
        if label == "role" and value not in CONTACT_ROLES:
            page.invalid("central_contacts[].role", value, Invalid("not a contact role code"))
        elif label == "email" and _HIDDEN_EMAIL.match(value):
            page.not_known("central_contacts[].email")
        else:
            contacts[-1][label] = value or None
    page.record["central_contacts"] = contacts


def _other_identifiers(page: PageState, lines: list[str]) -> None:
    ids = []
    for line in lines:
        match = _ID_FIELD.match(line)
        if not match:
            ids.append({"id": line, "type": INVALID, "source": INVALID, "domain": None})
            continue
        if not ids:
            warn_leftover(page, "Other Identifiers", [line])
            continue
        label, value = match.group(1).lower(), match.group(2).strip()
        codes = ID_TYPES if label == "type" else ID_SOURCES
        if label == "type" and value == "-":
            ids[-1]["type"] = None
        elif value in codes:
            ids[-1][label] = value
        else:
            page.invalid(f"other_ids[].{label}", value, Invalid(f"not an identifier {label}"))
            ids[-1][label] = None
    for item in ids:
        for key in ("type", "source"):
            if item[key] is INVALID:  # no such line shown
                item[key] = None
                page.unknown.add(f"other_ids[].{key}")
    page.record["other_ids"] = ids


# ---------------------------------------------------------------- the table


@dataclass(frozen=True)
class Section:
    blurb: str | None  # the fixed sentence under the heading (chrome)
    fields: tuple[str, ...]  # record paths the section fills
    parse: Callable[[PageState, list[str]], None] | None  # None: the section is dropped
    required: bool = True  # absent from a page → its fields unknown


# Section heading → what it fills, in page order.  Sections not listed are kept as text.
SECTIONS: dict[str, Section] = {
    "Study Results": Section(None, ("has_results",), _study_results),
    "Basic Information": Section(
        "Get a concise snapshot of the trial, including recruitment status, study phase, enrollment "
        "targets, and key timeline milestones.",
        ("status", "phases", "enrollment", "study_type", "start_date", "completion_date"),
        _basic_information,
    ),
    "Brief Summary": Section(
        "Review the sponsor-provided synopsis that highlights what the study is about and why it is being conducted.",
        ("summary",),
        _text("summary"),
    ),
    "Detailed Description": Section(
        "Dive into the extended narrative that explains the scientific background, objectives, and "
        "procedures in greater depth.",
        ("description",),
        _text("description"),
    ),
    "Conditions": Section(
        "See the medical conditions and disease areas that this research is targeting or investigating.",
        ("conditions",),
        _list("conditions"),
    ),
    "Keywords": Section(
        "Explore important study keywords that can help with search, categorization, and topic discovery.",
        ("keywords",),
        _list("keywords"),
    ),
    "Study Design": Section(
        "Understand how the trial is structured, including allocation methods, masking strategies, "
        "primary purpose, and other design elements.",
        ("design",),
        _study_design,
    ),
    "Study Groups": Section(
        "Review each arm or cohort in the study, along with the interventions and objectives associated with them.",
        ("arms",),
        _study_groups,
    ),
    "Interventions": Section(
        "Learn about the drugs, procedures, or behavioral strategies being tested and how they are "
        "applied within this trial.",
        ("interventions",),
        _interventions,
    ),
    "Eligibility Criteria": Section(
        "Check the participation requirements, including inclusion and exclusion rules, age limits, and "
        "whether healthy volunteers are accepted.",
        ("eligibility",),
        _eligibility,
    ),
    "Sponsors": Section(
        "Meet the organizations funding or collaborating on the study and learn about their roles.",
        ("lead_sponsor", "collaborators"),
        _sponsors,
    ),
    "Responsible Party": Section(
        "Identify the individual or organization who holds primary responsibility for the study "
        "information submitted to regulators.",
        ("responsible_party",),
        _responsible_party,
    ),
    "Central Contacts": Section(
        "Reach out to these primary contacts for questions about participation or study logistics.",
        ("central_contacts",),
        _central_contacts,
    ),
    "Other Identifiers": Section(
        "Review additional registry numbers or institutional identifiers associated with this trial.",
        ("other_ids",),
        _other_identifiers,
    ),
    # Other trials: never this trial's data.
    "Related Clinical Trials": Section(
        "Explore similar clinical trials based on study characteristics and research focus.", (), None, required=False
    ),
}
_DROPPED = "Related Clinical Trials"
_LABEL_LINES = frozenset(
    [row.label for rows in (BASIC_ROWS, DESIGN_ROWS, ELIGIBILITY_ROWS) for row in rows] + list(_BADGES)
)
_LABEL_PREFIXES = (_GROUP_TYPE, _INTERVENTION_TYPE, _SPONSOR_ROLE, _RESPONSIBILITY_ROLE)


# ---------------------------------------------------------------- lines and sections


def looks_like_html(text: str) -> bool:
    """Whether a saved page is HTML (then `ingest.html.parse_html` reads it) rather than text."""
    head = text.lstrip("\ufeff \t\r\n")[:4096]
    return head.startswith("<") and bool(
        re.search(r"<(!doctype\s+html|html|head|body|div|p|h[1-6]|table|section|main|article)\b", head, re.IGNORECASE)
    )


def _lines(text: str) -> list[str]:
    lines = []
    for raw in text.lstrip("\ufeff").splitlines():
        line = raw.strip()
        if line.startswith(_VIEW_RESULTS):  # a link, sometimes glued to the next heading
            line = line[len(_VIEW_RESULTS) :].strip()
        if line:
            lines.append(line)
    joined: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        label = next(((name, sep) for name, sep in _INLINE_LABELS if line in (name, name + ":")), None)
        if label and i + 1 < len(lines):
            joined.append(f"{label[0]}{label[1]} {lines[i + 1]}")
            i += 2
            continue
        joined.append(line)
        i += 1
    return joined


def _is_title_shaped(line: str) -> bool:
    words = line.split()
    return (
        0 < len(words) <= 6
        and all(w[0].isupper() or w in ("and", "of", "&", "for") for w in words)
        and not any(c.isdigit() for c in line)
        and line[-1].isalpha()
    )


def _is_blurb_shaped(line: str | None) -> bool:
    if line is None:
        return False
    words = line.split()
    return len(words) >= 6 and words[0] in _BLURB_VERBS and line.endswith(".") and line.count(". ") == 0


def _heading(line: str, next_line: str | None) -> str | None:
    if line in SECTIONS or line in OTHER_HEADINGS:
        return line
    if _is_title_shaped(line) and _is_blurb_shaped(next_line):
        return line
    return None


def _recognise(lines: list[str], name: str) -> int:
    """Where a known rendering's header is (the index of its `NCT ID:` line), or InputError.

    Positive: a page is read only when it has the renderings' own structure, the title line,
    then `NCT ID: NCT…`, then `Last Updated:`, and (for a main page) one of its section
    headings; never merely because nothing failed (another site's page with an `NCT ID:` line
    would otherwise be stored with its chrome as the trial's title).
    """
    start = next((k for k, line in enumerate(lines) if _NCT_LINE.match(line)), None)
    if start is None:
        raise InputError(f"{name}: not a trial page (no 'NCT ID: NCT########' line)")
    if start == 0 or lines[start - 1] in SECTIONS or lines[start - 1] in _LABEL_LINES:
        raise InputError(f"{name}: not a trial page (no title line before the NCT ID line)")
    if start + 1 >= len(lines) or not _UPDATED_LINE.match(lines[start + 1]):
        raise InputError(f"{name}: not a page trialwatch knows (no 'Last Updated:' line after the NCT ID line)")
    if not is_results_title(lines[start - 1]) and not any(line in SECTIONS for line in lines[start + 2 :]):
        raise InputError(
            f"{name}: not a page trialwatch knows (none of its section headings, such as 'Basic Information')"
        )
    return start


def _header_and_sections(lines: list[str], start: int) -> tuple[list[str], list[tuple[str, list[str]]]]:
    header = lines[start - 1 : start + 1]
    sections: list[tuple[str, list[str]]] = []
    for k in range(start + 1, len(lines)):
        line = lines[k]
        next_line = lines[k + 1] if k + 1 < len(lines) else None
        in_dropped = bool(sections) and sections[-1][0] == _DROPPED
        heading = line if line in SECTIONS else (None if in_dropped else _heading(line, next_line))
        if heading:
            sections.append((heading, []))
        elif sections:
            sections[-1][1].append(line)
        else:
            header.append(line)
    return header, sections


def _drop_blurb(heading: str, lines: list[str], at_end: bool) -> list[str]:
    blurb = SECTIONS[heading].blurb if heading in SECTIONS else None
    if blurb is None:
        return lines
    kept = [line for line in lines if line != blurb]
    if at_end and kept and kept == lines and len(kept) == 1 and blurb.startswith(kept[-1]):
        kept = []  # the page was cut inside the blurb
    return kept


def _is_complete(sections: list[tuple[str, list[str]]]) -> bool:
    """A whole page ends with Other Identifiers (last item with its source) or Related Clinical Trials."""
    if not sections:
        return False
    heading, lines = sections[-1]
    if heading == _DROPPED:
        return True
    if heading != "Other Identifiers" or not lines:
        return False
    match = _ID_FIELD.match(lines[-1])
    return match is not None and match.group(1) == "Source" and match.group(2).strip() in ID_SOURCES


def _is_labeled(lines: list[str]) -> bool:
    return any(line in _LABEL_LINES or any(p.match(line) for p in _LABEL_PREFIXES) for line in lines)


# ---------------------------------------------------------------- the parser


def _read_header(record: dict, header: list[str], unknown: set[str], warnings: list[str]) -> None:
    """Title, NCT id and last update from the lines above the first section."""
    record["title"] = header[0]
    updated = next((m.group(1).strip() for line in header if (m := _UPDATED_LINE.match(line))), None)
    try:
        record["last_updated"] = as_day(updated or "")
    except Invalid as error:
        unknown.add("last_updated")
        warnings.append(
            f"last_updated: {updated!r} is {error}; left unknown"
            if updated
            else "no 'Last Updated' line; last_updated left unknown"
        )
    for line in header[2:]:
        if not _UPDATED_LINE.match(line):
            warnings.append(f"header: line not understood: {line[:80]!r}")


def _known_sections(found: list[tuple[str, list[str]]], record: dict, warnings: list[str]) -> dict[str, list[str]]:
    """Each known section's lines (blurb dropped, first occurrence kept); others kept as text."""
    sections: dict[str, list[str]] = {}
    for k, (heading, body) in enumerate(found):
        body = _drop_blurb(heading, body, at_end=k == len(found) - 1)
        if heading in sections and sections[heading]:
            warnings.append(f"section {heading} appears twice; kept the first")
        elif heading in SECTIONS:
            sections[heading] = body
        else:
            record["extra_sections"][heading] = "\n".join(body)
    return sections


def _what_is_missing(
    page: PageState, found: list[tuple[str, list[str]]], complete: bool, possibly_cut: str | None
) -> None:
    """Sections absent or possibly cut make their fields unknown; say so."""
    missing = [h for h, s in SECTIONS.items() if s.required and h not in page.sections]
    for heading in missing:
        page.unknown.update(SECTIONS[heading].fields)
    if possibly_cut in SECTIONS:
        page.unknown.update(SECTIONS[possibly_cut].fields)
    if not complete:
        what = f"missing sections {', '.join(missing)}" if missing else "no section missing"
        last = f"; {possibly_cut} may be incomplete" if possibly_cut else ""
        page.warnings.append(f"page cut short: {what}{last}")
    elif missing:
        page.warnings.append(f"missing sections: {', '.join(missing)}")
    if page.record["extra_sections"]:
        page.warnings.append(f"sections not understood: {', '.join(page.record['extra_sections'])}")


def parse_page(text: str, name: str) -> tuple[dict, list[str]]:
    """A saved page's text (either rendering) → (record, warnings).

    Raises InputError (one line, naming `name`) when the text is not a trial page: no
    `NCT ID:` line, or no title above it.  A page cut short is not an error: what it holds
    is parsed and what it may have lost is unknown.
    """
    if not text.strip():
        raise InputError(f"{name}: not a trial page (empty text)")
    if "\x00" in text:
        raise InputError(f"{name}: not a trial page (binary data)")
    lines = _lines(text)
    start = _recognise(lines, name)
    nct_id = matched(_NCT_LINE, lines[start]).group(1).upper()
    if is_results_title(lines[start - 1]):
        updated = matched(_UPDATED_LINE, lines[start + 1]).group(1).strip()
        return parse_results_page(lines[start - 1], nct_id, updated, lines[start + 2 :], name)
    header, found = _header_and_sections(lines, start)
    warnings: list[str] = []
    record = empty_record(nct_id)
    unknown = set(ALWAYS_UNKNOWN)
    _read_header(record, header, unknown, warnings)
    complete = _is_complete(found)
    sections = _known_sections(found, record, warnings)
    labeled = _is_labeled(lines)
    possibly_cut = found[-1][0] if found and not complete else None
    page = PageState(labeled, sections, set(sections) - {possibly_cut}, record, unknown, warnings)
    if not labeled:
        unknown.update(LABEL_LESS_UNKNOWN)
        warnings.append(
            "label-less rendering: arms, interventions, masked roles, summary, description, "
            "conditions and keywords left unknown"
        )
    for heading, section in SECTIONS.items():
        if heading in sections and section.parse is not None:
            section.parse(page, sections[heading])
    _what_is_missing(page, found, complete, possibly_cut)
    return finish(record, unknown), warnings
