"""Registry pages made from real ClinicalTrials.gov API v2 study objects, as FORMAT.md describes them.

Pure functions, no I/O, no parser: a study object in, page text (or HTML) out.  Every rendering
is first made as a list of *blocks* (`page_blocks`), one per visible text block of the page, each
tagged with its kind; the text, label-less and HTML renderings only lay those blocks out.

What follows FORMAT.md (/work/shared/pages/FORMAT.md) and the real copies there:

- `labelled_text`: the seed's layout (seeds/NCT06731192.txt).  Line 1 the brief title, then
  `NCT ID: …`, `Last Updated: …`; `Study Results` with the badge (`Results pending` /
  `Results available`) and its sentence, `View full results` glued to the next heading when
  results are posted; every section heading followed by its fixed blurb (copied from the seed);
  blocks separated by blank lines, criteria lines kept together.  Values are the registry's
  codes; phases joined by `/` (no `Clinical Phase` row when the study has none); enrollment as
  `N participants` without its type (no row for a withdrawn study); dates always as full days,
  a month-only registry date as the first or the last day of its month (`month_day`); the
  masked roles as one space-joined line; Study Groups as label, description, `Group Type X`,
  then per intervention its name, `Intervention Type X` and description; Interventions as
  name, description, `Intervention Type X`; eligibility criteria text as the API has it (one
  line per line, Markdown and backslash escapes kept), then the four eligibility rows;
  sponsors as name, class, `Sponsor Role …`; `Responsibility Role …`; central contacts as
  name, `Role:`, `Phone:`, `Email:` (the address hidden as `[email protected]` by default);
  other identifiers as id, `Identifier Type: …` (`-` when the registry has none),
  `Identifier Source: …`, secondary ids first as on the seed.  Text fields are the API's
  Markdown verbatim, one block per non-empty line.  Locations, outcomes, officials and
  references are not rendered (the page does not show them).
- `labelless_text`: FORMAT.md's label-less rendering and the shared cut copy: no blank lines;
  row labels, the badge, the masked-roles line and the `Group Type` / `Intervention Type` /
  `Sponsor Role` / `Responsibility Role` lines dropped; `Label: value` lines (`NCT ID:`,
  `Role:`…) kept, as `NCT ID:` is in the real copy; the summary, the detailed description
  (or their first paragraph) and the condition and keyword values missing by option.
- `html`: the same blocks as HTML, in a semantic markup (sections, `dl` rows, `ul` criteria)
  or a table markup (a table per section, label and value in separate cells), wrapped in site
  chrome the parser must drop (head, scripts, header, nav, footer naming other trials).
- `cut`: a page cut short at a character position; `cut_point` finds one mid-word inside a
  section.
- `results_page`: FORMAT.md's results page, after the two real copies: line 1
  `Trial Outcomes & Findings for {brief title} (NCT {NCT_ID})`, `NCT ID`, `Last Updated`,
  `Results Overview` and the primary outcome's description, then status, phase, enrollment,
  the primary outcome's time frame and the results-posted date, labelled and blank-line
  separated (NCT03077919) or bare, one a line (NCT01838876); then `Participant Flow` with its
  `Participant milestones` (and `Reasons for withdrawal`) tables laid out as in those copies.

Invented (no real copy shows it): an arm without a type has no `Group Type` line; an
intervention of an arm that the Interventions list lacks gets the type its `Drug: `-style
prefix names; a phone extension shows as `Phone: {phone} ext {ext}`; an investigator
responsible party shows its name and affiliation after the role line; a registry date of a
year only shows as its first or last day; `Related Clinical Trials` lists made-up trials; on
the results page: the primary outcome is the protocol's first one, a study without phases has
no phase value, the `Baseline Characteristics`, `Outcome Measures` and `Adverse Events`
sections (headings, captions, cell text) are laid out like the milestones tables, and outcome
measure time frames are not repeated there.
"""

from __future__ import annotations

import calendar
import html as _html
import re

BLURBS = {
    "Basic Information": "Get a concise snapshot of the trial, including recruitment status, study phase, enrollment "
    "targets, and key timeline milestones.",
    "Brief Summary": "Review the sponsor-provided synopsis that highlights what the study is about and why it is being "
    "conducted.",
    "Detailed Description": "Dive into the extended narrative that explains the scientific background, objectives, and "
    "procedures in greater depth.",
    "Conditions": "See the medical conditions and disease areas that this research is targeting or investigating.",
    "Keywords": "Explore important study keywords that can help with search, categorization, and topic discovery.",
    "Study Design": "Understand how the trial is structured, including allocation methods, masking strategies, primary "
    "purpose, and other design elements.",
    "Study Groups": "Review each arm or cohort in the study, along with the interventions and objectives associated "
    "with them.",
    "Interventions": "Learn about the drugs, procedures, or behavioral strategies being tested and how they are applied "
    "within this trial.",
    "Eligibility Criteria": "Check the participation requirements, including inclusion and exclusion rules, age limits, "
    "and whether healthy volunteers are accepted.",
    "Sponsors": "Meet the organizations funding or collaborating on the study and learn about their roles.",
    "Responsible Party": "Identify the individual or organization who holds primary responsibility for the study "
    "information submitted to regulators.",
    "Central Contacts": "Reach out to these primary contacts for questions about participation or study logistics.",
    "Other Identifiers": "Review additional registry numbers or institutional identifiers associated with this trial.",
    "Related Clinical Trials": "Explore similar clinical trials based on study characteristics and research focus.",
}
SECTION_ORDER = (
    "Study Results",
    "Basic Information",
    "Brief Summary",
    "Detailed Description",
    "Conditions",
    "Keywords",
    "Study Design",
    "Study Groups",
    "Interventions",
    "Eligibility Criteria",
    "Sponsors",
    "Responsible Party",
    "Central Contacts",
    "Other Identifiers",
)
NO_RESULTS_SENTENCE = (
    "The study team has not published outcome measurements, participant flow, or safety data for "
    "this trial yet. Check back later for updates."
)
RESULTS_SENTENCE = (
    "Outcome measurements, participant flow, baseline characteristics, and adverse events have been "
    "published for this study."
)
VIEW_RESULTS = "View full results"
HIDDEN_EMAIL = "[email\xa0protected]"  # as on the seed (a no-break space inside)
MASKED_WORDS = {
    "PARTICIPANT": "Participants",
    "CARE_PROVIDER": "Caregivers",
    "INVESTIGATOR": "Investigators",
    "OUTCOMES_ASSESSOR": "Outcome Assessors",
}
# armGroups[].interventionNames prefixes → intervention type codes
INTERVENTION_PREFIXES = {
    "Drug": "DRUG",
    "Biological": "BIOLOGICAL",
    "Device": "DEVICE",
    "Other": "OTHER",
    "Procedure": "PROCEDURE",
    "Behavioral": "BEHAVIORAL",
    "Radiation": "RADIATION",
    "Genetic": "GENETIC",
    "Dietary Supplement": "DIETARY_SUPPLEMENT",
    "Combination Product": "COMBINATION_PRODUCT",
    "Diagnostic Test": "DIAGNOSTIC_TEST",
}
RELATED = (
    ("Stem Cell Therapy for Chronic Kidney Disease in Children", "NCT09000001", "RECRUITING"),
    ("A Registry of Rare Renal Disorders", "NCT09000002", "COMPLETED"),
)
LABELLESS_KEEP, LABELLESS_DROP_FIRST, LABELLESS_DROP = "keep", "drop_first", "drop"

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")


# ------------------------------------------------------------------ study look-ups


def _module(study: dict, name: str) -> dict:
    return (study.get("protocolSection") or {}).get(name) or {}


def _lines(text: str | None) -> list[str]:
    """A text field as the page shows it: one block per non-empty line, Markdown kept."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def page_date(text: str, month_day: str = "last") -> str:
    """A registry date as a full day: `2025-01` → `2025-01-01` (first) or `2025-01-31` (last)."""
    if match := _MONTH.match(text):
        year, month = int(match.group(1)), int(match.group(2))
        day = 1 if month_day == "first" else calendar.monthrange(year, month)[1]
        return f"{year:04d}-{month:02d}-{day:02d}"
    if _YEAR.match(text):
        return f"{text}-01-01" if month_day == "first" else f"{text}-12-31"
    return text


def _month_day(month_day, field: str) -> str:
    return month_day.get(field, "last") if isinstance(month_day, dict) else month_day


def intervention_name(name: str) -> tuple[str, str | None]:
    """`Drug: Placebo` → (`Placebo`, `DRUG`); a name without a type prefix → (name, None)."""
    label, sep, rest = name.partition(": ")
    if sep and label in INTERVENTION_PREFIXES:
        return rest, INTERVENTION_PREFIXES[label]
    return name, None


# ------------------------------------------------------------------ blocks
#
# ("title", text)  ("heading", name)  ("blurb", text)  ("badge", text)  ("link", text)
# ("inline", "Label:", value)  → one line "Label: value", kept by the label-less rendering
# ("typed", "Group Type", value) → one line "Group Type X", dropped by it
# ("row", label, value)  → a label line and a value line; label-less: the value only
# ("masked", line)  ("text", line, field)  ("criteria", [lines])


def _section(name: str) -> list[tuple]:
    return [("heading", name), ("blurb", BLURBS[name])]


def _header(study: dict) -> list[tuple]:
    ident, status = _module(study, "identificationModule"), _module(study, "statusModule")
    updated = (status.get("lastUpdatePostDateStruct") or {}).get("date")
    results = bool(study.get("hasResults"))
    blocks = [("title", ident["briefTitle"]), ("inline", "NCT ID:", ident["nctId"])]
    if updated:
        blocks.append(("inline", "Last Updated:", updated))
    blocks += [
        ("heading", "Study Results"),
        ("badge", "Results available" if results else "Results pending"),
        ("text", RESULTS_SENTENCE if results else NO_RESULTS_SENTENCE, None),
    ]
    if results:
        blocks.append(("link", VIEW_RESULTS))
    return blocks


def _basic(study: dict, month_day) -> list[tuple]:
    status, design = _module(study, "statusModule"), _module(study, "designModule")
    rows = [("Recruitment Status", status.get("overallStatus"))]
    if design.get("phases"):
        rows.append(("Clinical Phase", "/".join(design["phases"])))
    count = (design.get("enrollmentInfo") or {}).get("count")
    if count is not None and status.get("overallStatus") != "WITHDRAWN":
        rows.append(("Total Enrollment", f"{count} participant{'' if count == 1 else 's'}"))
    rows.append(("Study Classification", design.get("studyType")))
    for label, key, field in (
        ("Study Start Date", "startDateStruct", "start_date"),
        ("Study Completion Date", "completionDateStruct", "completion_date"),
    ):
        date = (status.get(key) or {}).get("date")
        if date:
            rows.append((label, page_date(date, _month_day(month_day, field))))
    return _section("Basic Information") + [("row", label, value) for label, value in rows if value]


def _texts(study: dict, join_lists: bool) -> list[tuple]:
    description, conditions = _module(study, "descriptionModule"), _module(study, "conditionsModule")
    blocks = _section("Brief Summary") + [("text", line, "summary") for line in _lines(description.get("briefSummary"))]
    blocks += _section("Detailed Description")
    blocks += [("text", line, "description") for line in _lines(description.get("detailedDescription"))]
    for name, key in (("Conditions", "conditions"), ("Keywords", "keywords")):
        values = [value.strip() for value in conditions.get(key) or [] if value.strip()]
        if join_lists and values:
            values = [" ".join(values)]  # the page runs the values together on one line (the seed's keywords)
        blocks += _section(name) + [("text", value, key) for value in values]
    return blocks


def _design(study: dict) -> list[tuple]:
    design = _module(study, "designModule")
    info = design.get("designInfo") or {}
    masking = info.get("maskingInfo") or {}
    if design.get("studyType") == "OBSERVATIONAL":
        rows = [
            ("Observational Model Type", info.get("observationalModel")),
            ("Study Time Perspective", info.get("timePerspective")),
        ]
    else:
        rows = [
            ("Allocation Method", info.get("allocation")),
            ("Intervention Model", info.get("interventionModel")),
            ("Primary Study Purpose", info.get("primaryPurpose")),
            ("Blinding Strategy", masking.get("masking")),
        ]
    blocks = _section("Study Design") + [("row", label, value) for label, value in rows if value]
    roles = [MASKED_WORDS[code] for code in MASKED_WORDS if code in (masking.get("whoMasked") or [])]
    if roles:
        blocks.append(("masked", " ".join(roles)))
    return blocks


def _intervention_blocks(item: dict, in_group: bool) -> list[tuple]:
    description = [("text", line, None) for line in _lines(item.get("description"))]
    typed = [("typed", "Intervention Type", item["type"])] if item.get("type") else []
    head = [("text", item["name"].strip(), None)]
    return head + typed + description if in_group else head + description + typed


def _groups(study: dict) -> list[tuple]:
    module = _module(study, "armsInterventionsModule")
    by_name = {item.get("name"): item for item in module.get("interventions") or []}
    blocks = _section("Study Groups")
    for arm in module.get("armGroups") or []:
        blocks.append(("text", arm["label"].strip(), None))
        blocks += [("text", line, None) for line in _lines(arm.get("description"))]
        if arm.get("type"):
            blocks.append(("typed", "Group Type", arm["type"]))
        for full_name in arm.get("interventionNames") or []:
            name, prefix_type = intervention_name(full_name)
            item = by_name.get(name) or {"name": name, "type": prefix_type}
            blocks += _intervention_blocks(item, in_group=True)
    blocks += _section("Interventions")
    for item in module.get("interventions") or []:
        blocks += _intervention_blocks(item, in_group=False)
    return blocks


def _eligibility(study: dict) -> list[tuple]:
    module = _module(study, "eligibilityModule")
    lines = [line.strip() for line in (module.get("eligibilityCriteria") or "").splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    blocks = _section("Eligibility Criteria") + ([("criteria", lines)] if lines else [])
    healthy = module.get("healthyVolunteers")
    rows = [
        ("Minimum Eligible Age", module.get("minimumAge")),
        ("Maximum Eligible Age", module.get("maximumAge")),
        ("Eligible Sex", module.get("sex")),
        ("Accepts Healthy Volunteers", None if healthy is None else "Yes" if healthy else "No"),
    ]
    return blocks + [("row", label, value) for label, value in rows if value]


def _parties(study: dict) -> list[tuple]:
    module = _module(study, "sponsorCollaboratorsModule")
    blocks = _section("Sponsors")
    sponsors = [(module.get("leadSponsor"), "lead")] + [(c, "collaborator") for c in module.get("collaborators") or []]
    for sponsor, role in sponsors:
        if sponsor:
            blocks += [("text", sponsor["name"].strip(), None)]
            blocks += [("text", sponsor["class"], None)] if sponsor.get("class") else []
            blocks.append(("typed", "Sponsor Role", role))
    party = module.get("responsibleParty") or {}
    blocks += _section("Responsible Party")
    if party.get("type"):
        blocks.append(("typed", "Responsibility Role", party["type"]))
        name = party.get("investigatorFullName") or party.get("oldNameTitle")
        affiliation = party.get("investigatorAffiliation") or party.get("oldOrganization")
        blocks += [("text", value, None) for value in (name, affiliation) if value]
    return blocks


def _contacts(study: dict, hide_emails: bool) -> list[tuple]:
    contacts = _module(study, "contactsLocationsModule").get("centralContacts") or []
    if not contacts:
        return []
    blocks = _section("Central Contacts")
    for contact in contacts:
        blocks.append(("text", contact["name"].strip(), None))
        phone = contact.get("phone")
        if contact.get("phoneExt"):
            phone = f"{phone} ext {contact['phoneExt']}" if phone else f"ext {contact['phoneExt']}"
        email = contact.get("email") and (HIDDEN_EMAIL if hide_emails else contact["email"])
        blocks += [
            ("inline", label, value)
            for label, value in (("Role:", contact.get("role")), ("Phone:", phone), ("Email:", email))
            if value
        ]
    return blocks


def _identifiers(study: dict) -> list[tuple]:
    ident = _module(study, "identificationModule")
    ids = [(item, "secondary_id") for item in ident.get("secondaryIdInfos") or []]
    if ident.get("orgStudyIdInfo"):
        ids.append((ident["orgStudyIdInfo"], "org_study_id"))
    blocks = _section("Other Identifiers")
    for item, source in ids:
        blocks += [
            ("text", item["id"].strip(), None),
            ("inline", "Identifier Type:", item.get("type") or "-"),
            ("inline", "Identifier Source:", source),
        ]
    return blocks


def _related() -> list[tuple]:
    blocks = [("heading", "Related Clinical Trials"), ("blurb", BLURBS["Related Clinical Trials"])]
    for title, other, status in RELATED:
        blocks += [("text", title, "related"), ("inline", "NCT ID:", other), ("text", status, "related")]
    return blocks


def page_blocks(
    study: dict, *, month_day="last", hide_emails: bool = True, join_lists: bool = True, related: bool = False
) -> list[tuple]:
    """The main page of a study as blocks, in page order (see the table above `_section`).

    `month_day`: "first" or "last" (or {"start_date": …, "completion_date": …}): the day a
    month-only date shows as.  `join_lists`: conditions and keywords run together on one line
    (as the seed's keywords) rather than one a line.  `related`: end with a Related Clinical
    Trials block listing other trials.
    """
    blocks = _header(study) + _basic(study, month_day) + _texts(study, join_lists) + _design(study)
    blocks += _groups(study) + _eligibility(study) + _parties(study) + _contacts(study, hide_emails)
    blocks += _identifiers(study)
    return blocks + (_related() if related else [])


# ------------------------------------------------------------------ text renderings


def _block_lines(block: tuple, labelled: bool) -> list[str]:
    kind = block[0]
    if kind in ("inline", "typed"):
        return [f"{block[1]} {block[2]}"]
    if kind == "row":
        return [block[1], block[2]] if labelled else [block[2]]
    if kind == "criteria":
        return block[1] if labelled else [line for line in block[1] if line]
    return [block[1]]


def labelled_text(
    study: dict, *, month_day="last", hide_emails: bool = True, join_lists: bool = True, related: bool = False
) -> str:
    """The labelled rendering (the seed's): blocks separated by blank lines."""
    out, previous = [], None
    for block in page_blocks(
        study, month_day=month_day, hide_emails=hide_emails, join_lists=join_lists, related=related
    ):
        separator = "" if previous is None or previous[0] == "link" else "\n" if previous[0] == "criteria" else "\n\n"
        joiner = "\n" if block[0] == "criteria" else "\n\n"
        out.append(separator + joiner.join(_block_lines(block, True)))
        previous = block
    return "".join(out) + "\n"


def _labelless_drop(block: tuple, options: dict, seen: dict) -> bool:
    kind = block[0]
    if kind in ("badge", "typed", "masked"):
        return True
    field = block[2] if kind == "text" else None
    if field in ("conditions", "keywords"):
        return not options[field]
    if field in ("summary", "description"):
        seen[field] = seen.get(field, 0) + 1
        return options[field] == LABELLESS_DROP or (options[field] == LABELLESS_DROP_FIRST and seen[field] == 1)
    return False


def labelless_text(
    study: dict,
    *,
    summary: str = LABELLESS_DROP,
    description: str = LABELLESS_DROP,
    conditions: bool = False,
    keywords: bool = False,
    month_day="last",
    hide_emails: bool = True,
    join_lists: bool = True,
) -> str:
    """The label-less rendering: no blank lines, no labels or badges, values in page order.

    `summary`, `description`: "keep", "drop_first" (the first paragraph missing) or "drop"
    (FORMAT.md: the summary's first paragraph is sometimes missing; the issue: the detailed
    description is dropped).  `conditions`, `keywords`: whether their values are shown.
    """
    options = {"summary": summary, "description": description, "conditions": conditions, "keywords": keywords}
    seen: dict = {}
    out = []
    for block in page_blocks(study, month_day=month_day, hide_emails=hide_emails, join_lists=join_lists):
        if not _labelless_drop(block, options, seen):
            out += _block_lines(block, False)
    return "\n".join(out) + "\n"


def cut(text: str, at: int) -> str:
    """The page cut short at character `at` (a saved page that stopped mid-section, mid-word)."""
    return text[:at]


def cut_point(text: str, heading: str, fraction: float = 0.5) -> int:
    """A position `fraction` of the way into the section under `heading`, moved inside a word."""
    start = text.index("\n" + heading + "\n") + len(heading) + 2
    following = [text.find("\n" + name + "\n", start) for name in SECTION_ORDER]
    end = min([pos for pos in following if pos > start] + [len(text)])
    at = start + max(1, int((end - start) * fraction))
    while at < end - 1 and not (text[at - 1].isalnum() and text[at].isalnum()):
        at += 1
    return at


# ------------------------------------------------------------------ HTML

CHROME_HEAD = """<head>
<meta charset="utf-8">
<title>NCT09100001 | Related: Trials Like This One</title>
<style>.badge::after { content: "NCT ID: NCT09100002"; } h2 { font-size: 1.2em }</style>
<script>window.__DATA__ = {"nct": "NCT09100003", "text": "Recruitment Status\\nTERMINATED"};</script>
</head>"""
CHROME_TOP = """<header class="site"><a href="/">meddatax</a><p>NCT ID: NCT09100004</p><h2>Brief Summary</h2>
<p>Review the sponsor-provided synopsis that highlights what the study is about.</p></header>
<nav><ul><li><a href="#basic">Basic Information</a></li><li><a href="#conditions">Conditions</a></li>
<li><a href="/clinical-trials/NCT09100005">NCT ID: NCT09100005</a></li><li>Keywords</li></ul></nav>
<noscript>Enable JavaScript to see NCT09100006 and Other Identifiers</noscript>"""
CHROME_BOTTOM = """<footer><h2>Related Clinical Trials</h2><p>NCT09100007</p><p>Recruitment Status</p><p>COMPLETED</p>
<p>&copy; 2025 meddatax</p></footer>
<script>document.querySelectorAll("a").forEach(a => a.dataset.nct = "NCT09100008");</script>"""


def _e(text: str) -> str:
    return _html.escape(text, quote=False)


def _value_html(value: str) -> str:
    if value == HIDDEN_EMAIL:  # Cloudflare's e-mail protection, as the site serves it
        return '<a href="/cdn-cgi/l/email-protection" class="__cf_email__">[email&#160;protected]</a>'
    return f"<strong>{_e(value)}</strong>"


def _criteria_html(lines: list[str]) -> list[str]:
    """Criteria lines: `* ` / `- ` bullets as list items (marker dropped), other lines as paragraphs."""
    out, in_list = [], False
    for line in lines:
        bullet = line[:2] in ("* ", "- ")
        if bullet != in_list:
            out.append("<ul>" if bullet else "</ul>")
            in_list = bullet
        if line:
            out.append(f"<li>{_e(line[2:])}</li>" if bullet else f"<p>{_e(line)}</p>")
    return out + (["</ul>"] if in_list else [])


def _semantic_block(block: tuple) -> str:
    kind = block[0]
    if kind == "title":
        return f'<h1 class="trial-title">{_e(block[1])}</h1>'
    if kind == "heading":
        return f'<section id="{block[1].lower().replace(" ", "-")}">\n<h2>{_e(block[1])}</h2>'
    if kind == "row":
        return f"<dl><dt>{_e(block[1])}</dt><dd>{_e(block[2])}</dd></dl>"
    if kind in ("inline", "typed"):
        return f'<p><span class="label">{_e(block[1])}</span> {_value_html(block[2])}</p>'
    if kind == "criteria":
        return "\n".join(_criteria_html(block[1]))
    if kind == "link":
        return f'<p><a class="button" href="results">{_e(block[1])}</a></p>'
    css = {"blurb": "blurb", "badge": "badge", "masked": "masked"}.get(kind, "value")
    return f'<div class="{css}">{_e(block[1])}</div>'


def _semantic(blocks: list[tuple]) -> str:
    body, open_section = [], False
    for block in blocks:
        if block[0] == "heading" and open_section:
            body.append("</section>")
        open_section = open_section or block[0] == "heading"
        body.append(_semantic_block(block))
    body.append("</section>" if open_section else "")
    return "<main><article>\n" + "\n".join(body) + "\n</article></main>"


def _table_row(block: tuple) -> str:
    kind = block[0]
    if kind in ("row", "inline", "typed"):
        value = _value_html(block[2]) if block[2] == HIDDEN_EMAIL else _e(block[2])
        return f'<tr><th scope="row">{_e(block[1].rstrip(":"))}</th><td>{value}</td></tr>'
    if kind == "criteria":
        return '<tr><td colspan="2">' + "".join(_criteria_html(block[1])) + "</td></tr>"
    if kind == "link":
        return f'<tr><td colspan="2"><a href="results">{_e(block[1])}</a></td></tr>'
    return f'<tr><td colspan="2" class="{kind}">{_e(block[1])}</td></tr>'


def _tables(blocks: list[tuple]) -> str:
    body = []
    for block in blocks:
        if block[0] == "title":
            body.append(f'<h1>{_e(block[1])}</h1>\n<table class="header">')
        elif block[0] == "heading":
            body.append(f'</table>\n<table class="section">\n<caption>{_e(block[1])}</caption>')
        else:
            body.append(_table_row(block))
    return '<div class="content">\n' + "\n".join(body) + "\n</table>\n</div>"


def html(study: dict, markup: str = "semantic", **options) -> str:
    """The main page as HTML: `markup` "semantic" (sections, `dl` rows, lists) or "table" (a table
    per section, every label in a `th` and its value in a `td`), inside the site's chrome.
    `options` are `page_blocks`'."""
    blocks = page_blocks(study, **options)
    body = _semantic(blocks) if markup == "semantic" else _tables(blocks)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n'
        + CHROME_HEAD
        + "\n<body>\n"
        + CHROME_TOP
        + "\n"
        + body
        + "\n"
        + CHROME_BOTTOM
        + "\n</body>\n</html>\n"
    )


# ------------------------------------------------------------------ the results page
#
# A results page is a list of paragraphs (lists of lines): the labelled style separates them by
# blank lines (NCT03077919.results.txt), the bare style writes every line one after the other
# (NCT01838876.results.txt).  A table is one paragraph.


def _table(caption: str, groups: list[dict], rows: list[tuple[list[str], list[str]]], labelled: bool) -> list[str]:
    """A results table: a header of groups (title and description), rows (label lines, a value per group).

    Labelled (NCT03077919): caption, `Measure`, each group's lines, each row's label lines and values.
    Bare (NCT01838876): a Markdown table whose cells break over lines: `| Measure |`, each group's
    lines and `|`, `|---|…|`, then per row `|`, its label lines, `|`, each value and `|`.
    """
    # A group's description paragraphs run together in its cell (as in both real copies).
    heads = [[group.get("title") or "-"] + [" ".join(_lines(group.get("description")))] for group in groups]
    heads = [[line for line in head if line] for head in heads]
    if labelled:
        lines = [caption, "Measure"] + [line for head in heads for line in head]
        return lines + [line for label, values in rows for line in label + values]
    lines = ["| Measure |"] + [line for head in heads for line in head + ["|"]]
    lines.append("|" + "---|" * (len(groups) + 1))
    for label, values in rows:
        lines += ["|"] + label + ["|"] + [line for value in values for line in (value, "|")]
    return lines


def _by_group(groups: list[dict], items: list[dict], key: str) -> list[str]:
    values = {item.get("groupId"): item.get(key) for item in items}
    return [str(values.get(group.get("id"), "-")) for group in groups]


def _flow(results: dict, labelled: bool) -> list[list[str]]:
    flow = results.get("participantFlowModule") or {}
    if not flow:
        return []
    groups = flow.get("groups") or []
    paragraphs = [["Participant Flow"]]
    paragraphs += [[line] for key in ("recruitmentDetails", "preAssignmentDetails") for line in _lines(flow.get(key))]
    for title, key, counts in (
        ("Participant milestones", "milestones", "achievements"),
        ("Reasons for withdrawal", "dropWithdraws", "reasons"),
    ):
        rows = [
            (
                [period.get("title") or "-", item.get("type") or "-"],
                _by_group(groups, item.get(counts) or [], "numSubjects"),
            )
            for period in flow.get("periods") or []
            for item in period.get(key) or []
        ]
        if rows:
            paragraphs += [[title], _table(title, groups, rows, labelled)]
    return paragraphs


def _measurement(item: dict) -> str:
    value = item.get("value") or "-"
    if item.get("spread"):
        return f"{value} ({item['spread']})"
    if item.get("lowerLimit") or item.get("upperLimit"):
        return f"{value} ({item.get('lowerLimit', 'NA')} to {item.get('upperLimit', 'NA')})"
    return value


def _measure_rows(measure: dict, groups: list[dict], label: list[str]) -> list[tuple[list[str], list[str]]]:
    rows = []
    for klass in measure.get("classes") or []:
        for category in klass.get("categories") or []:
            values = {m.get("groupId"): _measurement(m) for m in category.get("measurements") or []}
            extra = [text for text in (klass.get("title"), category.get("title")) if text]
            rows.append((label + extra, [values.get(group.get("id"), "-") for group in groups]))
    return rows


def _baseline(results: dict, labelled: bool) -> list[list[str]]:
    module = results.get("baselineCharacteristicsModule") or {}
    if not module:
        return []
    groups = module.get("groups") or []
    rows = [
        row
        for measure in module.get("measures") or []
        for row in _measure_rows(measure, groups, [measure.get("title") or "-"])
    ]
    paragraphs = [["Baseline Characteristics"]] + [[line] for line in _lines(module.get("populationDescription"))]
    return paragraphs + ([_table("Baseline characteristics", groups, rows, labelled)] if rows else [])


# The caption a page shows above an outcome measure's table, by the API's outcome type (invented wording).
_OUTCOME_CAPTIONS = {
    "PRIMARY": "Primary outcome",
    "SECONDARY": "Secondary outcome",
    "OTHER_PRE_SPECIFIED": "Other pre-specified outcome",
    "POST_HOC": "Post-hoc outcome",
}


def _outcome_measures(results: dict, labelled: bool) -> list[list[str]]:
    measures = (results.get("outcomeMeasuresModule") or {}).get("outcomeMeasures") or []
    paragraphs = [["Outcome Measures"]] if measures else []
    for measure in measures:
        groups = measure.get("groups") or []
        paragraphs.append([measure.get("title") or "-"])
        paragraphs += [[line] for line in _lines(measure.get("description"))]
        rows = _measure_rows(measure, groups, [measure.get("unitOfMeasure") or "-"])
        if rows:
            caption = _OUTCOME_CAPTIONS.get(measure.get("type"), "Outcome")
            paragraphs.append(_table(caption, groups, rows, labelled))
    return paragraphs


def _adverse_events(results: dict, labelled: bool) -> list[list[str]]:
    module = results.get("adverseEventsModule") or {}
    groups = module.get("eventGroups") or []
    if not groups:
        return []
    rows = [
        ([label], [f"{group.get(kind + 'NumAffected', '-')}/{group.get(kind + 'NumAtRisk', '-')}" for group in groups])
        for label, kind in (
            ("Deaths", "deaths"),
            ("Serious adverse events", "serious"),
            ("Other adverse events", "other"),
        )
    ]
    paragraphs = [["Adverse Events"]] + [[line] for line in _lines(module.get("description"))]
    return paragraphs + [_table("Adverse events", groups, rows, labelled)]


def _results_values(study: dict) -> list[tuple[str, str]]:
    status, design = _module(study, "statusModule"), _module(study, "designModule")
    primary = (_module(study, "outcomesModule").get("primaryOutcomes") or [{}])[0]
    count = (design.get("enrollmentInfo") or {}).get("count")
    values = [
        ("Recruitment status", status.get("overallStatus")),
        ("Study phase", "/".join(design.get("phases") or [])),
        ("Target enrollment", None if count is None else f"{count} participant{'' if count == 1 else 's'}"),
        ("Primary outcome timeframe", primary.get("timeFrame")),
        ("Results posted on", (status.get("resultsFirstPostDateStruct") or {}).get("date")),
    ]
    return [(label, value) for label, value in values if value]


def results_page(study: dict, style: str = "labelled") -> str:
    """The results page of a study with posted results: `style` "labelled" or "bare"."""
    ident, status = _module(study, "identificationModule"), _module(study, "statusModule")
    primary = (_module(study, "outcomesModule").get("primaryOutcomes") or [{}])[0]
    labelled = style == "labelled"
    paragraphs = [
        [f"Trial Outcomes & Findings for {ident['briefTitle']} (NCT {ident['nctId']})"],
        [f"NCT ID: {ident['nctId']}"],
    ]
    updated = (status.get("lastUpdatePostDateStruct") or {}).get("date")
    paragraphs += [[f"Last Updated: {updated}"]] if updated else []
    paragraphs += [["Results Overview"]] + [[line] for line in _lines(primary.get("description"))]
    for label, value in _results_values(study):
        paragraphs += [[label], [value]] if labelled else [[value]]
    results = study.get("resultsSection") or {}
    for section in (_flow, _baseline, _outcome_measures, _adverse_events):
        paragraphs += section(results, labelled)
    return ("\n\n" if labelled else "\n").join("\n".join(lines) for lines in paragraphs) + "\n"


# ------------------------------------------------------------------ renderings by name

REAL_CUT = 2000  # the real label-less and results copies were cut at about 2,000 characters


def _cut_mid_word(text: str, at: int) -> str:
    while 0 < at < len(text) - 1 and not (text[at - 1].isalnum() and text[at].isalnum()):
        at += 1
    return cut(text, at)


RENDERERS = {
    "labelled": lambda study: labelled_text(study),
    "labelled_first": lambda study: labelled_text(study, month_day="first", hide_emails=False, join_lists=False),
    "labelless": lambda study: labelless_text(study),
    "labelless_cut": lambda study: _cut_mid_word(labelless_text(study), REAL_CUT),
    "html_semantic": lambda study: html(study, "semantic", related=True),
    "html_table": lambda study: html(study, "table"),
    "results": lambda study: results_page(study, "labelled"),
    "results_bare": lambda study: results_page(study, "bare"),
    "results_cut": lambda study: _cut_mid_word(results_page(study, "labelled"), REAL_CUT),
}


def render(study: dict, source: str) -> tuple[str, str]:
    """A rendering by name → (file suffix, text).

    "api" is the study itself as JSON; "cut:<Section>" the labelled page cut mid-word half-way
    into that section; the other names are RENDERERS' ("labelled_first": month-only dates as
    the month's first day, e-mail addresses shown, conditions and keywords one a line).
    """
    if source == "api":
        import json

        return ".json", json.dumps(study, ensure_ascii=False, indent=2)
    if source.startswith("cut:"):
        text = labelled_text(study)
        return ".txt", cut(text, cut_point(text, source[4:]))
    text = RENDERERS[source](study)
    return (".html" if source.startswith("html") else ".txt"), text
