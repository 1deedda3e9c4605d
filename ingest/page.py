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

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from .criteria import split_criteria
from .errors import InputError
from .record import PHASES, STATUSES, STUDY_TYPES, WHO_MASKED, empty_record, finish

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
)
# Fields the label-less rendering drops or may drop.
LABEL_LESS_UNKNOWN = (
    "arms[].type",
    "interventions[].type",
    "summary",
    "conditions",
    "keywords",
    "design.who_masked",
)

_NCT_LINE = re.compile(r"^NCT ID:?\s*(NCT\d{8})$", re.IGNORECASE)
_UPDATED_LINE = re.compile(r"^Last Updated:?\s*(.*)$", re.IGNORECASE)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ENROLLMENT = re.compile(r"^(\d+) participants?$")
_AGE = re.compile(r"^\d+ (?:Year|Month|Week|Day|Hour|Minute)s?$")
_HIDDEN_EMAIL = re.compile(r"^\[email\s*protected\]$")
_ROLE_PHRASE = re.compile(r"(Participants?|Caregivers?|Investigators?|Outcomes? Assessors?)(?:\s+|$)")
_MASKED = {
    "participant": "PARTICIPANT",
    "caregiver": "CARE_PROVIDER",
    "investigator": "INVESTIGATOR",
    "outcome assessor": "OUTCOMES_ASSESSOR",
    "outcomes assessor": "OUTCOMES_ASSESSOR",
}
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


def _matched(pattern: re.Pattern, line: str) -> re.Match:
    """The match of a line already known to match `pattern`."""
    match = pattern.match(line)
    if match is None:  # pragma: no cover - callers only pass lines they found by this pattern
        raise ValueError(f"{line!r} does not match {pattern.pattern}")
    return match


class _Invalid(ValueError):
    """A value that is not what its row holds (a code cut mid-word, a malformed date…)."""


# ---------------------------------------------------------------- values


def _code(codes: tuple[str, ...], what: str) -> Callable[[str], str]:
    def convert(value: str) -> str:
        if value not in codes:
            raise _Invalid(f"not a {what} code")
        return value

    return convert


def _phases(value: str) -> list[str]:
    parts = value.split("/")
    if not all(part in PHASES for part in parts):
        raise _Invalid("not a phase code (PHASE1, PHASE2/PHASE3, NA…)")
    return parts


def _enrollment(value: str) -> dict:
    match = _ENROLLMENT.match(value)
    if not match:
        raise _Invalid("not an enrollment ('N participants')")
    return {"count": int(match.group(1)), "type": None}


def _date(value: str) -> str:
    if not _DATE.match(value):
        raise _Invalid("not a date (YYYY-MM-DD)")
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        raise _Invalid("not a calendar date") from None
    return value


def _dated(value: str) -> dict:
    return {"date": _date(value), "type": None}


def _age(value: str) -> str:
    if not _AGE.match(value):
        raise _Invalid("not an age ('N Years')")
    return value


def _yes_no(value: str) -> bool:
    if value not in ("Yes", "No"):
        raise _Invalid("not Yes or No")
    return value == "Yes"


def _who_masked(line: str) -> list[str] | None:
    """`Participants Outcome Assessors` → codes; None when the line is something else."""
    roles, pos = [], 0
    while pos < len(line):
        match = _ROLE_PHRASE.match(line, pos)
        if not match:
            return None
        word = match.group(1).lower().rstrip("s").replace("outcomes ", "outcome ")
        roles.append(_MASKED[word])
        pos = match.end()
    return [code for code in WHO_MASKED if code in roles] if roles else None


def _paragraphs(lines: list[str]) -> str | None:
    return "\n\n".join(lines) or None


# ---------------------------------------------------------------- the page being parsed


@dataclass
class _Page:
    labeled: bool
    sections: dict[str, list[str]]
    complete: set[str]  # sections present and not possibly cut
    record: dict
    unknown: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)

    def not_known(self, path: str, why: str | None = None) -> None:
        self.unknown.add(path)
        if why:
            self.warnings.append(why)

    def invalid(self, path: str, value: str, error: _Invalid) -> None:
        self.not_known(path, f"{path}: {value!r} is {error}; left unknown")


_INVALID = object()  # a value shown but not valid: unknown, already warned about


@dataclass(frozen=True)
class _Row:
    label: str  # the label line in the labeled rendering
    key: str  # the key it fills (in the record, or in a nested object)
    convert: Callable[[str], object]


def _rows(
    page: _Page, section: str, lines: list[str], rows: tuple[_Row, ...], prefix: str = ""
) -> tuple[dict, list[str]]:
    """Read a section's rows → ({key: value}, lines left over).

    Labeled: a label line, then its value.  Label-less: each line goes to the first row, in
    order, whose shape it has (a missing row shifts the others, so order alone cannot be used).
    A value of the wrong shape is warned about and left out (its row then counts as absent).
    """
    values, leftover = {}, []
    by_label = {row.label: row for row in rows}
    if page.labeled:
        i = 0
        while i < len(lines):
            row = by_label.get(lines[i])
            if row is None:
                leftover.append(lines[i])
                i += 1
                continue
            value = lines[i + 1] if i + 1 < len(lines) and lines[i + 1] not in by_label else None
            i += 1 if value is None else 2
            if value is None:
                page.warnings.append(f"{section}: {row.label} has no value")
                continue
            try:
                values[row.key] = row.convert(value)
            except _Invalid as error:
                page.invalid(prefix + row.key, value, error)
                values[row.key] = _INVALID
        return values, leftover
    start = 0
    for line in lines:
        for j in range(start, len(rows)):
            try:
                values[rows[j].key] = rows[j].convert(line)
            except _Invalid:
                continue
            start = j + 1
            break
        else:
            leftover.append(line)
    return values, leftover


def _settle(page: _Page, values: dict, keys, target: dict, prefix: str, applies) -> None:
    """Store the rows read; a row absent is unknown if it applies, else None."""
    for key in keys:
        value = values.get(key)
        if key in values and value is not _INVALID:
            target[key] = value
        elif key in values:
            page.unknown.add(prefix + key)
        elif applies(key):
            page.unknown.add(prefix + key)


def _pair(page: _Page, section: str, values: dict, first: str, second: str, prefix: str = "") -> None:
    """Label-less: one value of two same-shaped rows (start/completion, min/max age) is ambiguous."""
    if not page.labeled and (first in values) != (second in values):
        values.pop(first, None)
        values.pop(second, None)
        page.not_known(prefix + first)
        page.not_known(prefix + second, f"{section}: one of {first} and {second} is shown, cannot tell which")


def _leftover(page: _Page, section: str, lines: list[str]) -> None:
    for line in lines:
        page.warnings.append(f"{section}: line not understood: {line[:80]!r}")


# ---------------------------------------------------------------- one function per section


def _study_results(page: _Page, lines: list[str]) -> None:
    badge = next((_BADGES[line] for line in lines if line in _BADGES), None)
    sentence = next((value for line in lines for phrase, value in _RESULTS_SENTENCES.items() if phrase in line), None)
    if badge is not None and sentence is not None and badge != sentence:
        page.not_known("has_results", "Study Results: the badge and the sentence disagree; has_results left unknown")
    elif badge is not None or sentence is not None:
        page.record["has_results"] = badge if badge is not None else sentence
    else:
        page.not_known("has_results", "Study Results: neither badge nor sentence says whether results are posted")


BASIC_ROWS = (
    _Row("Recruitment Status", "status", _code(STATUSES, "recruitment status")),
    _Row("Clinical Phase", "phases", _phases),
    _Row("Total Enrollment", "enrollment", _enrollment),
    _Row("Study Classification", "study_type", _code(STUDY_TYPES, "study type")),
    _Row("Study Start Date", "start_date", _dated),
    _Row("Study Completion Date", "completion_date", _dated),
)


def _basic_information(page: _Page, lines: list[str]) -> None:
    values, leftover = _rows(page, "Basic Information", lines, BASIC_ROWS)
    _pair(page, "Basic Information", values, "start_date", "completion_date")
    record = page.record
    _settle(page, values, [r.key for r in BASIC_ROWS if r.key != "phases"], record, "", lambda key: True)
    if "phases" in values:
        _settle(page, values, ["phases"], record, "", lambda key: True)
    elif record["study_type"] not in NO_PHASES:
        page.unknown.add("phases")
    for key in ("status", "enrollment", "study_type"):
        if key not in values:
            page.warnings.append(f"Basic Information: no {key.replace('_', ' ')} shown; left unknown")
    _leftover(page, "Basic Information", leftover)


def _text(key: str) -> Callable[[_Page, list[str]], None]:
    def parse(page: _Page, lines: list[str]) -> None:
        page.record[key] = _paragraphs(lines)

    return parse


def _list(key: str) -> Callable[[_Page, list[str]], None]:
    def parse(page: _Page, lines: list[str]) -> None:
        page.record[key] = list(lines)

    return parse


DESIGN_ROWS = (
    _Row("Allocation Method", "allocation", _code(ALLOCATIONS, "allocation")),
    _Row("Intervention Model", "intervention_model", _code(INTERVENTION_MODELS, "intervention model")),
    _Row("Primary Study Purpose", "primary_purpose", _code(PRIMARY_PURPOSES, "primary purpose")),
    _Row("Blinding Strategy", "masking", _code(MASKINGS, "masking")),
    _Row("Observational Model Type", "observational_model", _code(OBSERVATIONAL_MODELS, "observational model")),
    _Row("Study Time Perspective", "time_perspective", _code(TIME_PERSPECTIVES, "time perspective")),
)


def _study_design(page: _Page, lines: list[str]) -> None:
    design = page.record["design"]
    masked = [roles for line in lines if (roles := _who_masked(line)) is not None]
    lines = [line for line in lines if _who_masked(line) is None]
    values, leftover = _rows(page, "Study Design", lines, DESIGN_ROWS, "design.")
    study_type = page.record["study_type"]
    applies = DESIGN_APPLIES.get(study_type)
    _settle(
        page, values, [r.key for r in DESIGN_ROWS], design, "design.", lambda key: applies is None or key in applies
    )
    design["who_masked"] = masked[0] if masked else []
    if "design.masking" in page.unknown:
        page.unknown.add("design.who_masked")
    _leftover(page, "Study Design", leftover)


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
                "description": _paragraphs(block[1:]),
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
                "description": _paragraphs(block[1:]),
                "other_names": [],
                "_lines": block[1:],
                "_complete": False,
            }
        )
    return items, problems


def _labelless_interventions(lines: list[str], group_lines: list[str] | None) -> list[dict] | None:
    """Label-less Interventions: names told from descriptions by the Study Groups section.

    In Study Groups each intervention follows its arm's (non-intervention) lines, so the first
    line of every run of Interventions lines there is a name; so is the section's first line.
    """
    if not lines:
        return []
    if group_lines is None:
        return None
    present = set(lines)
    names = {lines[0]} | {
        line for k, line in enumerate(group_lines) if line in present and (k == 0 or group_lines[k - 1] not in present)
    }
    items: list[dict] = []
    for line in lines:
        if line in names:
            items.append({"name": line, "type": None, "description": None, "other_names": [], "_lines": []})
        else:
            items[-1]["_lines"].append(line)
    for item in items:
        item["description"] = _paragraphs(item["_lines"])
        item["_complete"] = True
    return items


def _interventions_of(page: _Page) -> tuple[list[dict] | None, list[str]]:
    lines = page.sections.get("Interventions")
    if lines is None:
        return None, []
    if page.labeled:
        return _labeled_interventions(lines)
    groups = page.sections.get("Study Groups") if "Study Groups" in page.complete else None
    return _labelless_interventions(lines, groups), []


def _interventions(page: _Page, lines: list[str]) -> None:
    items, problems = _interventions_of(page)
    page.warnings.extend(problems)
    if items is None:
        page.not_known(
            "interventions", "Interventions: cannot tell names from descriptions without the Study Groups section"
        )
        return
    for item in items:
        if page.labeled and item["type"] is not None and item["type"] not in INTERVENTION_TYPES:
            page.invalid("interventions[].type", item["type"], _Invalid("not an intervention type code"))
            item["type"] = None
        if page.labeled and not item["_complete"]:
            page.unknown.add("interventions[].type")
    page.record["interventions"] = [{k: v for k, v in item.items() if not k.startswith("_")} for item in items]


def _labeled_groups(page: _Page, lines: list[str], descriptions: dict[str, list[str]]) -> list[dict] | None:
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
        arm: dict = {"label": header[0], "type": None, "description": _paragraphs(header[1:]), "interventions": []}
        arms.append(arm)
        if g is None:  # no group type after it: a page cut short, or lines that belong nowhere
            if "Study Groups" in page.complete:
                return None
            break
        arm["type"] = _matched(_GROUP_TYPE, lines[g]).group(1) or None
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


def _labelless_groups(lines: list[str], items: list[dict]) -> list[dict] | None:
    """Label-less Study Groups: arm lines are those that are not an intervention's lines."""
    blocks = {item["name"]: [item["name"]] + item["_lines"] for item in items}
    n = len(lines)

    def block_at(k: int) -> list[str] | None:
        block = blocks.get(lines[k])
        return block if block is not None and lines[k : k + len(block)] == block else None

    arms: list[dict] = []
    i = 0
    while i < n:
        block = block_at(i)
        if block is not None:
            if not arms:
                return None
            arms[-1]["interventions"].append(lines[i])
            i += len(block)
            continue
        end = next((k for k in range(i + 1, n) if block_at(k) is not None), n)
        header = lines[i:end]
        if len(header) > 2:
            return None  # several arms without interventions, or a long description: cannot tell
        arms.append({"label": header[0], "type": None, "description": _paragraphs(header[1:]), "interventions": []})
        i = end
    return arms


def _study_groups(page: _Page, lines: list[str]) -> None:
    items, _ = _interventions_of(page)
    if page.labeled:
        descriptions = {item["name"]: item["_lines"] for item in items or [] if item["_complete"]}
        arms = _labeled_groups(page, lines, descriptions)
    elif items is None or "Interventions" not in page.complete:
        arms = None
    else:
        arms = _labelless_groups(lines, items)
    if arms is None:
        page.not_known("arms", "Study Groups: cannot tell the arms apart; arms left unknown")
        return
    for arm in arms:
        if arm["type"] is not None and arm["type"] not in ARM_TYPES:
            page.invalid("arms[].type", arm["type"], _Invalid("not an arm type code"))
            arm["type"] = None
        elif page.labeled and arm["type"] is None:
            page.unknown.add("arms[].type")
    page.record["arms"] = arms


ELIGIBILITY_ROWS = (
    _Row("Minimum Eligible Age", "minimum_age", _age),
    _Row("Maximum Eligible Age", "maximum_age", _age),
    _Row("Eligible Sex", "sex", _code(SEXES, "sex")),
    _Row("Accepts Healthy Volunteers", "healthy_volunteers", _yes_no),
)


def _is_tail_value(line: str) -> bool:
    for row in ELIGIBILITY_ROWS:
        try:
            row.convert(line)
            return True
        except _Invalid:
            pass
    return False


def _eligibility(page: _Page, lines: list[str]) -> None:
    labels = {row.label for row in ELIGIBILITY_ROWS}
    if page.labeled:
        end = next((k for k, line in enumerate(lines) if line in labels), len(lines))
    else:  # the criteria end where the run of age/sex/yes-no lines at the end begins
        end = len(lines)
        while end > 0 and _is_tail_value(lines[end - 1]):
            end -= 1
    eligibility = page.record["eligibility"]
    eligibility["inclusion"], eligibility["exclusion"], eligibility["other"] = split_criteria("\n".join(lines[:end]))
    values, leftover = _rows(page, "Eligibility Criteria", lines[end:], ELIGIBILITY_ROWS, "eligibility.")
    _pair(page, "Eligibility Criteria", values, "minimum_age", "maximum_age", "eligibility.")
    _settle(page, values, [r.key for r in ELIGIBILITY_ROWS], eligibility, "eligibility.", lambda key: True)
    _leftover(page, "Eligibility Criteria", leftover)


def _sponsors(page: _Page, lines: list[str]) -> None:
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
        _leftover(page, "Sponsors", block)
    elif block:
        entries.append((block, None))
    sponsors = []
    for block, role in entries:
        name = block[0] if block else None
        kind = block[1] if len(block) > 1 else None
        if kind is not None and kind not in SPONSOR_CLASSES:
            page.invalid("lead_sponsor.class", kind, _Invalid("not a sponsor class code"))
            kind = None
        _leftover(page, "Sponsors", block[2:])
        if role is not None and role not in SPONSOR_ROLES:
            page.invalid("collaborators", role, _Invalid("not a sponsor role"))
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


def _responsible_party(page: _Page, lines: list[str]) -> None:
    roles = [m.group(1) for line in lines if (m := _RESPONSIBILITY_ROLE.match(line))]
    others = [line for line in lines if not _RESPONSIBILITY_ROLE.match(line)]
    if not roles or roles[0] not in RESPONSIBLE_PARTY_TYPES:
        if roles:
            page.invalid("responsible_party", roles[0], _Invalid("not a responsible party type"))
        else:
            page.not_known("responsible_party", "Responsible Party: no 'Responsibility Role' line; left unknown")
        return
    party = {"type": roles[0], "investigator_name": None, "investigator_title": None, "investigator_affiliation": None}
    if roles[0] != "SPONSOR":
        party["investigator_name"] = others[0] if others else None
        party["investigator_affiliation"] = others[1] if len(others) > 1 else None
        others = others[2:]
    _leftover(page, "Responsible Party", others)
    page.record["responsible_party"] = party


def _central_contacts(page: _Page, lines: list[str]) -> None:
    contacts = []
    for line in lines:
        match = _CONTACT_FIELD.match(line)
        if not match:
            contacts.append({"name": line, "role": None, "phone": None, "email": None})
            continue
        if not contacts:
            _leftover(page, "Central Contacts", [line])
            continue
        label, value = match.group(1).lower(), match.group(2).strip()
        if label == "role" and value not in CONTACT_ROLES:
            page.invalid("central_contacts[].role", value, _Invalid("not a contact role code"))
        elif label == "email" and _HIDDEN_EMAIL.match(value):
            page.not_known("central_contacts[].email")
        else:
            contacts[-1][label] = value or None
    page.record["central_contacts"] = contacts


def _other_identifiers(page: _Page, lines: list[str]) -> None:
    ids = []
    for line in lines:
        match = _ID_FIELD.match(line)
        if not match:
            ids.append({"id": line, "type": _INVALID, "source": _INVALID, "domain": None})
            continue
        if not ids:
            _leftover(page, "Other Identifiers", [line])
            continue
        label, value = match.group(1).lower(), match.group(2).strip()
        codes = ID_TYPES if label == "type" else ID_SOURCES
        if label == "type" and value == "-":
            ids[-1]["type"] = None
        elif value in codes:
            ids[-1][label] = value
        else:
            page.invalid(f"other_ids[].{label}", value, _Invalid(f"not an identifier {label}"))
            ids[-1][label] = None
    for item in ids:
        for key in ("type", "source"):
            if item[key] is _INVALID:  # no such line shown
                item[key] = None
                page.unknown.add(f"other_ids[].{key}")
    page.record["other_ids"] = ids


# ---------------------------------------------------------------- the table


@dataclass(frozen=True)
class Section:
    blurb: str | None  # the fixed sentence under the heading (chrome)
    fields: tuple[str, ...]  # record paths the section fills
    parse: Callable[[_Page, list[str]], None] | None  # None: the section is dropped
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


def _header_and_sections(lines: list[str], name: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
    start = next((k for k, line in enumerate(lines) if _NCT_LINE.match(line)), None)
    if start is None:
        raise InputError(f"{name}: not a trial page (no 'NCT ID: NCT########' line)")
    if start == 0 or lines[start - 1] in SECTIONS or lines[start - 1] in _LABEL_LINES:
        raise InputError(f"{name}: not a trial page (no title line before the NCT ID line)")
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
        record["last_updated"] = _date(updated or "")
    except _Invalid as error:
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


def _what_is_missing(page: _Page, found: list[tuple[str, list[str]]], complete: bool, possibly_cut: str | None) -> None:
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
    header, found = _header_and_sections(lines, name)
    warnings: list[str] = []
    record = empty_record(_matched(_NCT_LINE, header[1]).group(1).upper())
    unknown = set(ALWAYS_UNKNOWN)
    _read_header(record, header, unknown, warnings)
    complete = _is_complete(found)
    sections = _known_sections(found, record, warnings)
    labeled = _is_labeled(lines)
    possibly_cut = found[-1][0] if found and not complete else None
    page = _Page(labeled, sections, set(sections) - {possibly_cut}, record, unknown, warnings)
    if not labeled:
        unknown.update(LABEL_LESS_UNKNOWN)
        warnings.append(
            "label-less rendering: arm and intervention types, masked roles, summary, "
            "conditions and keywords left unknown"
        )
    for heading, section in SECTIONS.items():
        if heading in sections and section.parse is not None:
            section.parse(page, sections[heading])
    _what_is_missing(page, found, complete, possibly_cut)
    return finish(record, unknown), warnings
