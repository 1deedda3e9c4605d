"""Text of the registry's history answers → the form of API v2 (pure: no I/O).

`GET /api/int/studies/{id}?history=true` and `/api/int/studies/{id}/history/{v}` return the
study's `text` and `markup` fields HTML-encoded (entities such as `&#x2F;`, sometimes escaped
twice; `<p>`, `<ul><li>`; `<mark class="hl-term">` around search terms), while
`/api/v2/studies` returns `text` fields as plain strings and `markup` fields as Markdown.
Unnormalised, every backfilled version differs from an API snapshot of the same version in every
long text. `normalize_history_study` turns a history study into the v2 form.

How v2 writes Markdown, learnt from the 50 real v2 records in `tests/fixtures/ctgov/studies/`
and `tests/fixtures/ctgov/pages/` (each rule with the record it comes from):

- paragraphs are separated by one blank line, never by a single line break: NCT00184067
  briefSummary `…two additional years.\\n\\nThis study will test…`; no value of the 50 records has
  a line break inside a paragraph, so a line break of the HTML (`<br>` or a raw newline, as in
  the sample's interventionModelDescription) is written as a paragraph break (a guess: no
  history/v2 pair of one text exists);
- bullet items are `* ` (asterisk, one space), numbered items `1. `, `2. `… counted from 1;
  items of one list follow each other on the next line: NCT04207047 eligibilityCriteria
  `1. Male or female…\\n2. Subject in good health.`;
- a list is separated from the paragraphs around it by a blank line: NCT00184067
  `Inclusion Criteria:\\n\\n* Patients…` and `…30 days after treatment.\\n\\nExclusion Criteria:`;
- a nested list follows its item's text after a blank line, indented by the width of the
  parent's marker (`* ` → 2, `7. ` → 3, `19. ` → 4); the next item of the parent list follows
  the nested list on the next line: NCT00184067 `…provided that:\\n\\n  1. They have…` then
  `…prior vaccine regimen.\\n* Serum creatinine…`; NCT04207047 `7. …\\n\\n   1. Postmenopausal`
  and `19. …\\n\\n    1. Daily anticoagulants`;
- a further paragraph of an item is indented the same way after a blank line: NCT04207047
  `3. Psychiatric drugs…informed consent.\\n\\n       -`;
- no trailing spaces, no leading or trailing blank of the whole value (all 50 records);
- backslash escapes, everywhere in the text: `\\<` `\\>` (seed NCT06731192 `Age \\<3 years`,
  NCT00567567 `Age \\> 18 months`), `\\[` `\\]` (NCT00567567 `acid \\[DNA\\] index`), `\\*`
  (NCT01305200 `four\\* times daily`, NCT04267848 `\\*ACCEPTABLE REGIMENS`), `\\&` (NCT01305200
  `106 Arm I \\& 104 Arm II`), `\\^` (NCT04267848 `1,500/mm\\^3`);
- a number followed by `.` and a space at the start of a paragraph or item is escaped, so it is
  not read as a list: NCT06898385 (a /studies page) `* 1\\. Voluntary signing…`; without the
  space it is not: NCT02552212 `0.121 × Back pain…`;
- not escaped: `#` (NCT04267848 `UPDATE #7`), `-` at a line start (NCT03745326, a /studies
  page, `-Primary objectives:`), `+ = ( ) / % " ' : ; ? @`;
- never seen in a v2 markup value, so guessed: `\\` `` ` `` `_` are escaped (a CommonMark writer
  that escapes `*` escapes these too); `~` is not; `N)` at a block start is escaped like `N.`.

A value may already be v2 Markdown (a history answer that is partly plain): Markdown escapes
(`\\<`) are kept as they are, and a value without HTML block tags is read as v2 Markdown (its
`* ` / `1. ` lines are list items), so a v2 value comes out unchanged.
"""

from __future__ import annotations

import html
import re
from typing import NamedTuple

from bs4 import BeautifulSoup, NavigableString, Tag

TEXT = "text"
MARKUP = "markup"

# Which study fields are `text` and which `markup`, by JSON path ("[]" = every list item).
#
# Source: the string-typed properties of the `Study` schema of the official OpenAPI description
# of API v2, `ctg-oas-v2.0.5.yaml` (components/schemas, walked from `Study`; enums, dates,
# NCT ids and results group ids left out: they are never HTML-encoded free text). That file does
# not itself say which are `text` and which `markup` (the kind is only served at run time by
# `/studies/metadata`, `FieldNode.type`), so the split is made by evidence: a field is `markup`
# when its values in the 50 real v2 records carry Markdown (backslash escapes, `* ` lists,
# blank-line paragraphs) — marked (seen) — or when it is a free-text description or comment of
# the same kind as those (inferred). Every other field is `text`: its v2 values hold `<`, `&`,
# `[` unescaped (titles, labels, citations, p-values).
_TABLE: tuple[tuple[str, str, str], ...] = (
    (
        "protocolSection.identificationModule",
        TEXT,
        "orgStudyIdInfo.id orgStudyIdInfo.link secondaryIdInfos[].id secondaryIdInfos[].domain "
        "secondaryIdInfos[].link briefTitle officialTitle acronym organization.fullName",
    ),
    ("protocolSection.statusModule", MARKUP, "whyStopped"),  # inferred
    (
        "protocolSection.sponsorCollaboratorsModule",
        TEXT,
        "responsibleParty.investigatorFullName responsibleParty.investigatorTitle "
        "responsibleParty.investigatorAffiliation responsibleParty.oldNameTitle "
        "responsibleParty.oldOrganization leadSponsor.name collaborators[].name",
    ),
    ("protocolSection.descriptionModule", MARKUP, "briefSummary detailedDescription"),  # seen
    ("protocolSection.conditionsModule", TEXT, "conditions[] keywords[]"),
    ("protocolSection.designModule", TEXT, "targetDuration"),
    (
        "protocolSection.designModule",
        MARKUP,  # maskingDescription seen, the others inferred
        "designInfo.interventionModelDescription designInfo.maskingInfo.maskingDescription bioSpec.description",
    ),
    (
        "protocolSection.armsInterventionsModule",
        TEXT,
        "armGroups[].label armGroups[].interventionNames[] interventions[].name "
        "interventions[].armGroupLabels[] interventions[].otherNames[]",
    ),
    (
        "protocolSection.armsInterventionsModule",
        MARKUP,  # seen
        "armGroups[].description interventions[].description",
    ),
    (
        "protocolSection.outcomesModule",
        TEXT,
        "primaryOutcomes[].measure primaryOutcomes[].timeFrame secondaryOutcomes[].measure "
        "secondaryOutcomes[].timeFrame otherOutcomes[].measure otherOutcomes[].timeFrame",
    ),
    (
        "protocolSection.outcomesModule",
        MARKUP,  # seen
        "primaryOutcomes[].description secondaryOutcomes[].description otherOutcomes[].description",
    ),
    (
        "protocolSection.eligibilityModule",
        MARKUP,  # eligibilityCriteria seen, the others inferred
        "eligibilityCriteria studyPopulation genderDescription",
    ),
    ("protocolSection.eligibilityModule", TEXT, "minimumAge maximumAge"),
    (
        "protocolSection.contactsLocationsModule",
        TEXT,
        "centralContacts[].name centralContacts[].phone centralContacts[].phoneExt "
        "centralContacts[].email overallOfficials[].name overallOfficials[].affiliation "
        "locations[].facility locations[].city locations[].state locations[].zip "
        "locations[].country locations[].contacts[].name locations[].contacts[].phone "
        "locations[].contacts[].phoneExt locations[].contacts[].email",
    ),
    (
        "protocolSection.referencesModule",
        TEXT,
        "references[].pmid references[].citation references[].retractions[].pmid "
        "references[].retractions[].source seeAlsoLinks[].label seeAlsoLinks[].url availIpds[].id "
        "availIpds[].type availIpds[].url availIpds[].comment",
    ),
    (
        "protocolSection.ipdSharingStatementModule",
        MARKUP,  # inferred
        "description timeFrame accessCriteria",
    ),
    ("protocolSection.ipdSharingStatementModule", TEXT, "url"),
    (
        "resultsSection.participantFlowModule",
        MARKUP,  # groups[].description seen, others inferred
        "preAssignmentDetails recruitmentDetails groups[].description",
    ),
    (
        "resultsSection.participantFlowModule",
        TEXT,
        "typeUnitsAnalyzed groups[].title periods[].title periods[].milestones[].type "
        "periods[].milestones[].comment periods[].milestones[].achievements[].comment "
        "periods[].dropWithdraws[].type periods[].dropWithdraws[].comment "
        "periods[].dropWithdraws[].reasons[].comment",
    ),
    (
        "resultsSection.baselineCharacteristicsModule",
        MARKUP,  # seen, populationDescription inferred
        "populationDescription groups[].description measures[].description measures[].populationDescription",
    ),
    (
        "resultsSection.baselineCharacteristicsModule",
        TEXT,
        "typeUnitsAnalyzed groups[].title denoms[].units measures[].title measures[].unitOfMeasure "
        "measures[].denomUnitsSelected measures[].denoms[].units measures[].classes[].title "
        "measures[].classes[].denoms[].units measures[].classes[].categories[].title "
        "measures[].classes[].categories[].measurements[].value "
        "measures[].classes[].categories[].measurements[].spread "
        "measures[].classes[].categories[].measurements[].lowerLimit "
        "measures[].classes[].categories[].measurements[].upperLimit "
        "measures[].classes[].categories[].measurements[].comment",
    ),
    # The first five seen, the other analyses[] comments inferred.
    (
        "resultsSection.outcomeMeasuresModule.outcomeMeasures[]",
        MARKUP,
        "description populationDescription groups[].description analyses[].estimateComment "
        "analyses[].groupDescription analyses[].statisticalComment analyses[].pValueComment "
        "analyses[].nonInferiorityComment analyses[].otherAnalysisDescription "
        "analyses[].ciLowerLimitComment analyses[].ciUpperLimitComment",
    ),
    (
        "resultsSection.outcomeMeasuresModule.outcomeMeasures[]",
        TEXT,
        "title unitOfMeasure timeFrame typeUnitsAnalyzed denomUnitsSelected groups[].title "
        "denoms[].units classes[].title classes[].denoms[].units classes[].categories[].title "
        "classes[].categories[].measurements[].value classes[].categories[].measurements[].spread "
        "classes[].categories[].measurements[].lowerLimit "
        "classes[].categories[].measurements[].upperLimit "
        "classes[].categories[].measurements[].comment analyses[].paramType analyses[].paramValue "
        "analyses[].dispersionValue analyses[].statisticalMethod analyses[].pValue "
        "analyses[].ciPctValue analyses[].ciLowerLimit analyses[].ciUpperLimit",
    ),
    (
        "resultsSection.adverseEventsModule",
        MARKUP,  # allCauseMortalityComment inferred
        "description eventGroups[].description allCauseMortalityComment",
    ),
    (
        "resultsSection.adverseEventsModule",
        TEXT,
        "frequencyThreshold timeFrame eventGroups[].title seriousEvents[].term "
        "seriousEvents[].organSystem seriousEvents[].sourceVocabulary seriousEvents[].notes "
        "otherEvents[].term otherEvents[].organSystem otherEvents[].sourceVocabulary "
        "otherEvents[].notes",
    ),
    (
        "resultsSection.moreInfoModule",
        MARKUP,  # otherDetails seen
        "limitationsAndCaveats.description certainAgreement.otherDetails",
    ),
    (
        "resultsSection.moreInfoModule",
        TEXT,
        "pointOfContact.title pointOfContact.organization pointOfContact.email "
        "pointOfContact.phone pointOfContact.phoneExt",
    ),
    (
        "annotationSection.annotationModule",
        TEXT,
        "unpostedAnnotation.unpostedResponsibleParty violationAnnotation.violationEvents[].description",
    ),
    ("documentSection.largeDocumentModule", TEXT, "largeDocs[].label largeDocs[].filename"),
    (
        "derivedSection",
        TEXT,
        "miscInfoModule.removedCountries[] conditionBrowseModule.meshes[].term "
        "conditionBrowseModule.ancestors[].term conditionBrowseModule.browseLeaves[].name "
        "conditionBrowseModule.browseLeaves[].asFound conditionBrowseModule.browseBranches[].name "
        "interventionBrowseModule.meshes[].term interventionBrowseModule.ancestors[].term "
        "interventionBrowseModule.browseLeaves[].name interventionBrowseModule.browseLeaves[].asFound "
        "interventionBrowseModule.browseBranches[].name",
    ),
)

FIELD_KINDS: dict[str, str] = {f"{module}.{field}": kind for module, kind, fields in _TABLE for field in fields.split()}
"""Path (`protocolSection.conditionsModule.keywords[]`) → TEXT or MARKUP."""


def normalize_history_study(study: dict) -> dict:
    """A copy of a history study object with every `text` and `markup` field (FIELD_KINDS) in
    its API v2 form: `text` entity-decoded (`unescape_text`), `markup` converted to v2 Markdown
    (`html_to_markdown`). Every other value is copied untouched."""
    return _normalize(study, "")


def _normalize(value, path: str):
    """`value` at `path` (list items as `[]`) normalised by its kind; containers copied."""
    if type(value) is dict:
        return {key: _normalize(item, f"{path}.{key}" if path else key) for key, item in value.items()}
    if type(value) is list:
        return [_normalize(item, path + "[]") for item in value]
    if type(value) is str:
        kind = FIELD_KINDS.get(path)
        if kind == MARKUP:
            return html_to_markdown(value)
        if kind == TEXT:
            return unescape_text(value)
    return value


# --- entities and highlight tags ------------------------------------------------------------

# Only references with their `;`, as the registry writes them: html.unescape alone would also
# read `&para` in `Q&parameter` as `¶`, and a v2 text like `R&D` must stay as it is.
_ENTITY = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
_AMP = re.compile(r"&(?:#[0-9]+;|#[xX][0-9a-fA-F]+;|[A-Za-z][A-Za-z0-9]*;)?")
_MARK_TAG = re.compile(r"</?mark\b[^>]*>", re.IGNORECASE)


def _unescape_until_stable(text: str) -> str:
    """Decode character references until none is left (`&amp;#x2F;` → `&#x2F;` → `/`).
    Unknown names stay: a real v2 title (NCT06388018) reads `RAINBO BLUE &Amp; TAPER`."""
    while True:
        decoded = _ENTITY.sub(lambda m: html.unescape(m.group(0)), text)
        if decoded == text:
            return text
        text = decoded


def _amp_stray(text: str) -> str:
    """Every `&` that does not start a known reference → `&amp;`, so the HTML parser keeps it
    as written (left alone, it turns `&Amp;` into `&Amp`, and `&para` in `&parameter` into `¶`)."""

    def amp(match: re.Match) -> str:
        """A known reference as it is, anything else with its `&` escaped."""
        ref = match.group(0)
        return ref if len(ref) > 1 and html.unescape(ref) != ref else "&amp;" + ref[1:]

    return _AMP.sub(amp, text)


def unescape_text(text: str) -> str:
    """A `text` field of a history answer → its v2 form: entities decoded until stable and
    `<mark …>` / `</mark>` highlight tags dropped (their content kept).

    `Castrate-resistant Prostate Cancer (<mark class="hl-term">CRPC</mark>)` →
    `Castrate-resistant Prostate Cancer (CRPC)`; `and&amp;#x2F;or` → `and/or`.
    A v2 text value comes out unchanged (unless it holds a literal character reference)."""
    return _MARK_TAG.sub("", _unescape_until_stable(text))


# --- Markdown escapes -----------------------------------------------------------------------

# A Markdown escape already in the input (`\<` of a v2 value) is replaced by one private-use
# character while the text is parsed and decoded, so it is neither decoded nor escaped again.
_PROTECT_BASE = 0xE000
_MD_ESCAPE_IN = re.compile(r"\\([!-/:-@\[-`{-~])")
_RESTORE = {_PROTECT_BASE + ord(c): "\\" + c for c in map(chr, range(33, 127)) if not c.isalnum()}
_ESCAPED = frozenset("\\`*_[]<>&^")
_NUMBER_AT_START = re.compile(r"^([0-9]{1,9})([.)])(?= |$)")


def _protect(text: str) -> str:
    """`\\<` (a Markdown escape) → one private-use character, restored by `_escape`."""
    return _MD_ESCAPE_IN.sub(lambda m: chr(_PROTECT_BASE + ord(m.group(1))), text)


def _escape(text: str) -> str:
    """Literal text → v2 Markdown text: `Age <3` → `Age \\<3`, `1. Item` → `1\\. Item`."""
    escaped = "".join("\\" + c if c in _ESCAPED else c for c in text)
    return _NUMBER_AT_START.sub(r"\1\\\2", escaped).translate(_RESTORE)


# --- blocks -----------------------------------------------------------------------------------


class _List(NamedTuple):
    """A list block: its items are lists of blocks. `tight` when it follows a paragraph on the
    next line, not after a blank one. Only v2 Markdown input can say so (HTML cannot):
    NCT03745326 `-previously received…specifically:\\n   * Patients with…`, the one such case
    in the 50 records."""

    ordered: bool
    start: int
    items: list
    tight: bool = False


_Block = str | _List  # a paragraph's text (one line), or a list

_BLOCK_TAGS = ["p", "div", "ul", "ol", "li", "br"]

# Elements or list items nested deeper than this give only their text (flattened), so no input
# can exhaust the interpreter's recursion limit; real records nest lists three deep at most.
_MAX_DEPTH = 100


def html_to_markdown(text: str) -> str:
    """A `markup` field of a history answer → the Markdown API v2 writes for it.

    Entities are decoded until stable, `<mark>` tags dropped, `<p>` and line breaks (`<br>`,
    raw newlines) become paragraphs, `<ul>`/`<ol><li>` become `* ` / `1. ` lists (nested ones
    indented), and the characters v2 escapes are backslash-escaped (see the module docstring).
    `<p>A</p><p>B</p>` → `A\\n\\nB`; `<ul><li>A ≥50% PSA decline</li><li>B</li></ul>` →
    `* A ≥50% PSA decline\\n* B`; `and&#x2F;or` → `and/or`; `&amp;lt;3` → `\\<3`.
    Text already in v2 Markdown comes out unchanged."""
    source = _amp_stray(_protect(text.replace("\r\n", "\n").replace("\r", "\n")))
    soup = BeautifulSoup(source, "html.parser")
    if soup.find(_BLOCK_TAGS) is None:
        blocks = _markdown_blocks(unescape_text(soup.get_text()).split("\n"))
    else:
        builder = _Builder()
        builder.walk(soup, 0)
        blocks = builder.finish()
    return _render_blocks(blocks)


class _Builder:
    """Collects the blocks of an HTML element: text runs become paragraphs (one per line,
    `<br>` a line break), `<ul>`/`<ol>` lists; `<p>`, `<div>` and a stray `<li>` end a
    paragraph; other tags (`<mark>`, `<b>`, `<span>`…) only give their text."""

    def __init__(self):
        """No blocks yet, no text pending."""
        self.blocks: list[_Block] = []
        self._text: list[str] = []

    def walk(self, node: Tag, depth: int) -> None:
        """Add the content of `node`, which is `depth` elements deep."""
        for child in node.children:
            if type(child) is NavigableString:
                self._text.append(str(child))
            elif not isinstance(child, Tag):
                continue  # comments, declarations
            elif depth >= _MAX_DEPTH:
                self._text.append(child.get_text())
            elif child.name in ("ul", "ol"):
                self._end_paragraph()
                self.blocks.append(_list_from_html(child, depth + 1))
            elif child.name in ("p", "div", "li"):
                self._end_paragraph()
                self.walk(child, depth + 1)
                self._end_paragraph()
            elif child.name == "br":
                self._text.append("\n")
            else:
                self.walk(child, depth + 1)

    def _end_paragraph(self) -> None:
        """The pending text → one paragraph per non-blank line, decoded."""
        lines = unescape_text("".join(self._text)).split("\n")
        self.blocks.extend(line.strip() for line in lines if line.strip())
        self._text = []

    def finish(self) -> list[_Block]:
        """The blocks, the pending text included."""
        self._end_paragraph()
        return self.blocks


def _list_from_html(node: Tag, depth: int) -> _List:
    """`<ul>` / `<ol start=…>` (`depth` elements deep) → a list block, one item per `<li>` child."""
    items = []
    for child in node.find_all("li", recursive=False):
        builder = _Builder()
        builder.walk(child, depth + 1)
        items.append(builder.finish())
    given = str(node.get("start", "1"))
    start = int(given) if node.name == "ol" and given.isdigit() else 1
    return _List(node.name == "ol", start, items)


# --- v2 Markdown read back (a value without HTML block tags) ---------------------------------

_ITEM = re.compile(r"( {0,3})(\*|[0-9]{1,9}\.)(?: +|$)")


def _markdown_blocks(lines: list[str], depth: int = 0) -> list[_Block]:
    """Lines of v2 Markdown (escapes protected), `depth` lists deep → blocks. Only v2's own
    markers (`* `, `1. `) start items; any other non-blank line is a paragraph of its own."""
    if depth >= _MAX_DEPTH:
        return [line.strip() for line in lines if line.strip()]
    blocks: list[_Block] = []
    i = 0
    while i < len(lines):
        if _ITEM.match(lines[i]):
            tight = bool(blocks) and isinstance(blocks[-1], str) and bool(lines[i - 1].strip())
            block, i = _markdown_list(lines, i, depth)
            blocks.append(block._replace(tight=tight))
        else:
            if lines[i].strip():
                blocks.append(lines[i].strip())
            i += 1
    return blocks


def _markdown_list(lines: list[str], i: int, depth: int) -> tuple[_List, int]:
    """The list starting at line `i` (a marker line) → (list block, index after it). An item
    holds the lines indented to its content column; blank lines between items are allowed."""
    first = _ITEM.match(lines[i])
    if first is None:  # pragma: no cover - callers pass a marker line
        raise ValueError(f"not a list item: {lines[i]!r}")
    ordered = first.group(2) != "*"
    items = []
    while i < len(lines):
        match = _ITEM.match(lines[i])
        if not match or (match.group(2) != "*") != ordered:
            break
        width = len(match.group(1)) + len(match.group(2)) + 1
        body = [lines[i][match.end() :]]
        i += 1
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" " * width)):
            body.append(lines[i][width:])
            i += 1
        items.append(_markdown_blocks(body, depth + 1))
        while i < len(lines) and not lines[i].strip():
            i += 1
    start = int(first.group(2)[:-1]) if ordered else 1
    return _List(ordered, start, items), i


# --- v2 Markdown written --------------------------------------------------------------------


def _render_blocks(blocks: list[_Block]) -> str:
    """Blocks → v2 Markdown: blocks apart by a blank line (a tight list by a line break)."""
    out: list[str] = []
    for block in blocks:
        if out:
            out.append("\n" if isinstance(block, _List) and block.tight else "\n\n")
        out.append(_escape(block) if isinstance(block, str) else _render_list(block))
    return "".join(out)


def _render_list(block: _List) -> str:
    """A list → its items one per line; an item's further lines indented by its marker's
    width, blank lines left empty."""
    out = []
    for number, item in enumerate(block.items, block.start):
        marker = f"{number}." if block.ordered else "*"
        pad = " " * (len(marker) + 1)
        body = _render_blocks(item).split("\n")
        head = f"{marker} {body[0]}" if body[0] else marker
        out.append("\n".join([head] + [pad + line if line else "" for line in body[1:]]))
    return "\n".join(out)
