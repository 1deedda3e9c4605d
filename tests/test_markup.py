"""History-answer text → API v2 form (ingest/markup.py).

Three kinds of proof: the one real history answer (tests/fixtures/ctgov/history/
NCT03690141.details-html.json) against v2 strings written by hand; a round trip over the 25
real v2 records (rendered as the history endpoints write them by tests/registry_html.py, then
normalised back); and unit cases for each HTML construct.
"""

import copy
import json
import re
from pathlib import Path

import pytest

from registry_html import MARK_CLOSE, MARK_OPEN, render_as_history, render_markup, render_text
from trialwatch.ingest.ctgov import map_study
from trialwatch.ingest.markup import (
    FIELD_KINDS,
    MARKUP,
    TEXT,
    html_to_markdown,
    normalize_history_study,
    unescape_text,
)

CTGOV = Path(__file__).parent / "fixtures" / "ctgov"
SAMPLE = json.loads((CTGOV / "history" / "NCT03690141.details-html.json").read_text())
STUDY_FILES = sorted((CTGOV / "studies").glob("NCT*.json"))
HTML_LEFT = re.compile(r"<[A-Za-z/!]|&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")


def _strings(value, path=""):
    """(path, string) for every string in a JSON value; list items as `[i]`."""
    if type(value) is dict:
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else key)
    elif type(value) is list:
        for i, item in enumerate(value):
            yield from _strings(item, f"{path}[{i}]")
    elif type(value) is str:
        yield path, value


def _kind(path: str):
    """FIELD_KINDS of a path with list indices (`…conditions[0]` → `…conditions[]`)."""
    return FIELD_KINDS.get(re.sub(r"\[[0-9]+\]", "[]", path))


def _page_studies() -> list[dict]:
    """The v2 records of the /studies pages and projections that are not among STUDY_FILES,
    one per NCT id."""
    seen = {path.stem for path in STUDY_FILES}
    studies = []
    for page in sorted((CTGOV / "pages").glob("*.json")):
        body = json.loads(page.read_text())
        for study in body.get("studies", [body]):
            nct_id = study.get("protocolSection", {}).get("identificationModule", {}).get("nctId")
            if nct_id and nct_id not in seen:
                seen.add(nct_id)
                studies.append(study)
    return studies


# --- the real history answer ------------------------------------------------------------------

# The v2 form of the sample's current record, written by hand from its HTML. Derivation:
# `&#x2F;` is `/` (detailedDescription, the intervention and secondary outcome descriptions);
# `<mark class="hl-term">CRPC</mark>` is the highlight of query.cond=CRPC, so plain `CRPC` (titles,
# condition, keyword); `<p>A</p><p>B</p>` is two paragraphs, `A\n\nB` (briefSummary);
# `<ul><li>A</li><li>B</li></ul>` is a v2 bullet list `* A\n* B` (primary outcome); `≥` is kept
# as is (v2 writes non-ASCII literally: NCT00716976 `≤ 6 hours`). Guess: the raw newline inside
# interventionModelDescription and the arm description is a paragraph break `\n\n` (no v2 value
# of the 50 real records has a line break inside a paragraph). The researcher's elision note in
# eligibilityCriteria is markup text, so its brackets are escaped as v2 escapes `[DNA]`.
P = "protocolSection."
SAMPLE_V2 = {
    P
    + "identificationModule.briefTitle": "An Open-label Study Examining the Effect of Tomivosertib (eFT508) in Patients With "
    "Advanced Castrate-resistant Prostate Cancer (CRPC)",
    P
    + "identificationModule.officialTitle": "A Phase 2 Non-randomized Open-label Study Examining the Effect of Tomivosertib (eFT508) "
    "in Patients With Advanced Castrate-resistant Prostate Cancer (CRPC)",
    P
    + "descriptionModule.briefSummary": "This Phase 2 Open-label Study examines the efficacy, safety, tolerability, and "
    "pharmacokinetics (PK) of tomivosertib (eFT508) in Patients with advanced CRPC.\n\n"
    "An Open-label Study Examining the Effect of tomivosertib (eFT508) in Patients with "
    "Advanced Castrate-resistant Prostate Cancer (CRPC)",
    P
    + "descriptionModule.detailedDescription": "This Phase 2 study examines the efficacy, safety, tolerability, and pharmacokinetics (PK) "
    "of tomivosertib (eFT508) in advanced CRPC patients who have documented PSA progression on "
    "treatment with apalutamide and/or abiraterone and/or enzalutamide and for whom no "
    "suitable curative therapy exists.",
    P + "conditionsModule.conditions[0]": "Castrate-resistant Prostate Cancer (CRPC)",
    P + "conditionsModule.keywords[2]": "CRPC",
    P
    + "designModule.designInfo.interventionModelDescription": "tomivosertib (eFT508) will be supplied as 100-mg capsules by the Sponsor.\n\n"
    "Capsules are packaged in 200-cc high-density polyethylene wide-mouth, round, white "
    "bottles, at either 100 or 150 units per bottle, induction sealed and capped with a 38-mm "
    "child-resistant closure.",
    P
    + "armsInterventionsModule.armGroups[0].description": "Tomivosertib (eFT508) is a novel small-molecule, investigational drug being developed by "
    "eFFECTOR Therapeutics, Inc. as an anticancer therapy.\n\n"
    "Tomivosertib (eFT508) down regulates AR and acts by inhibiting mitogen-activated protein "
    "kinase-interacting serine/threonine kinase-1 (MNK1) and MNK2.",
    P
    + "armsInterventionsModule.interventions[0].description": "This Phase 2 study examines the efficacy, safety, tolerability, and PK of tomivosertib "
    "(eFT508) in advanced CRPC patients who have documented PSA progression on treatment with "
    "apalutamide and/or abiraterone and/or enzalutamide and for whom no suitable curative "
    "therapy exists.",
    P
    + "outcomesModule.primaryOutcomes[0].measure": "Anti-tumor response as defined by a patient achieving either of the following outcomes:",
    P
    + "outcomesModule.primaryOutcomes[0].description": "* A ≥50% PSA decline from baseline at any time point after therapy and maintained for "
    "≥4 weeks\n* Objective response according to iRECIST 1.1",
    P
    + "outcomesModule.secondaryOutcomes[0].measure": "PSA progression-free survival from start of study therapy until the date PSA progression "
    "is first observed.",
    P
    + "outcomesModule.secondaryOutcomes[0].description": "PSA progression is defined as a ≥25% increase in PSA from nadir or baseline (and by "
    "≥2 ng/mL) and requires confirmation ≥3 weeks later.",
    P
    + "eligibilityModule.eligibilityCriteria": "\\[ELIDED by researcher for size: see provenance file; full text in source\\]",
}


def test_sample_text_fields_become_the_v2_strings_written_by_hand():
    normalized = dict(_strings(normalize_history_study(SAMPLE["study"])))
    for path, expected in SAMPLE_V2.items():
        assert normalized[path] == expected, path


def test_sample_keeps_everything_else_and_is_not_modified():
    before = copy.deepcopy(SAMPLE["study"])
    normalized = normalize_history_study(SAMPLE["study"])
    assert SAMPLE["study"] == before
    original = dict(_strings(before))
    changed = {path for path, value in _strings(normalized) if value != original[path]}
    assert changed and all(_kind(path) in (TEXT, MARKUP) for path in changed)
    assert set(dict(_strings(normalized))) == set(original)


def test_sample_has_no_html_left():
    for path, value in _strings(normalize_history_study(SAMPLE["study"])):
        assert "<" not in value and "&#" not in value and "<mark" not in value, path


def test_sample_mapped_record_has_no_html():
    record = map_study(normalize_history_study(SAMPLE["study"]))
    for path, value in _strings(record):
        assert not HTML_LEFT.search(value), (path, value)
    assert record["conditions"] == ["Castrate-resistant Prostate Cancer (CRPC)"]
    assert record["outcomes"]["primary"][0]["description"].startswith("* A ≥50% PSA decline")


def test_sample_first_registered_outcome_is_html_too():
    """`history.originalData` (version 0, 2018) holds its outcome description in the same HTML."""
    original = SAMPLE["history"]["originalData"]["primaryOutcomes"][0]["description"]
    assert html_to_markdown(original) == (
        "* A ≥50% PSA decline from baseline at any time point after therapy and maintained for "
        "≥4 weeks\n* Objective response according to RECIST 1.1"
    )


@pytest.mark.parametrize(
    "path, mark",
    [
        (P + "descriptionModule.briefSummary", None),
        (P + "descriptionModule.detailedDescription", None),
        (P + "outcomesModule.primaryOutcomes[0].description", None),
        (P + "outcomesModule.secondaryOutcomes[0].description", None),
        (P + "identificationModule.briefTitle", "CRPC"),
        (P + "conditionsModule.conditions[0]", "CRPC"),
        (P + "conditionsModule.keywords[2]", "CRPC"),
    ],
)
def test_renderer_writes_the_sample_byte_for_byte(path, mark):
    """tests/registry_html.py follows the real answer wherever the answer shows a convention."""
    render = render_markup if _kind(path) == MARKUP else render_text
    assert render(SAMPLE_V2[path], mark=mark) == dict(_strings(SAMPLE["study"]))[path]


# --- round trip and idempotence on the 25 real v2 records --------------------------------------


def _mark_word(study: dict) -> str:
    """A word of the brief title to highlight, as a condition search would."""
    title = study["protocolSection"]["identificationModule"]["briefTitle"]
    return max(re.findall(r"[A-Za-z]{4,}", title), key=len)


@pytest.fixture(params=STUDY_FILES, ids=lambda path: path.stem)
def v2_study(request) -> dict:
    return json.loads(request.param.read_text())


@pytest.mark.parametrize("twice", [False, True], ids=["escaped-once", "escaped-twice"])
@pytest.mark.parametrize("marked", [False, True], ids=["plain", "highlighted"])
def test_round_trip_through_history_html(v2_study, twice, marked):
    mark = _mark_word(v2_study) if marked else None
    history = render_as_history(v2_study, twice=twice, mark=mark)
    assert history != v2_study
    if marked:
        title = history["protocolSection"]["identificationModule"]["briefTitle"]
        assert MARK_OPEN in title and MARK_CLOSE in title
    normalized = normalize_history_study(history)
    assert map_study(normalized) == map_study(v2_study)
    assert normalized == v2_study


def test_round_trip_highlights_a_condition(v2_study):
    conditions = v2_study["protocolSection"]["conditionsModule"]["conditions"]
    mark = max(re.findall(r"[A-Za-z]{4,}", " ".join(conditions)), key=len)
    history = render_as_history(v2_study, mark=mark)
    assert any(MARK_OPEN in c for c in history["protocolSection"]["conditionsModule"]["conditions"])
    assert normalize_history_study(history) == v2_study


def test_v2_record_is_unchanged(v2_study):
    assert normalize_history_study(v2_study) == v2_study


def test_page_records_round_trip_but_one_and_are_unchanged():
    """The 25 more v2 records of tests/fixtures/ctgov/pages: all unchanged by the normaliser;
    all round-trip to the same mapped record, and exactly but NCT03745326, whose criteria put a
    nested list straight under a paragraph (`…specifically:\\n   * Patients…`) where v2 always
    leaves a blank line elsewhere; HTML cannot tell the two apart."""
    inexact = set()
    studies = _page_studies()
    for study in studies:
        assert normalize_history_study(study) == study
        normalized = normalize_history_study(render_as_history(study, twice=True))
        assert map_study(normalized) == map_study(study)
        if normalized != study:
            inexact.add(study["protocolSection"]["identificationModule"]["nctId"])
    assert len(studies) == 25 and inexact == {"NCT03745326"}


def test_field_table_agrees_with_the_real_records():
    """Every value of the 50 records carrying a Markdown escape or list sits in a markup field;
    no text field holds one."""
    studies = [json.loads(path.read_text()) for path in STUDY_FILES] + _page_studies()
    escaped = re.compile(r"\\[!-/:-@\[-`{-~]|^\* ", re.MULTILINE)
    for study in studies:
        for path, value in _strings(study):
            if escaped.search(value):
                assert _kind(path) == MARKUP, path


# --- unit cases -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "html, markdown",
    [
        # Nested lists, as v2 writes them (NCT00184067): blank line before, indented by the marker.
        (
            "<ul><li>Patients must be:<ul><li>Age ≥ 18</li><li>HLA-A*11:01</li></ul></li><li>Next</li></ul>",
            "* Patients must be:\n\n  * Age ≥ 18\n  * HLA-A\\*11:01\n* Next",
        ),
        (
            "<ul><li><p>Patients must be:</p><ul><li>Age ≥ 18</li></ul></li><li><p>Next</p></li></ul>",
            "* Patients must be:\n\n  * Age ≥ 18\n* Next",
        ),
        ("<ul><li>a<ul><li>b<ul><li>c</li></ul></li></ul></li></ul>", "* a\n\n  * b\n\n    * c"),
        # Numbered lists (NCT04207047): counted from 1, nested ones indented by the marker's width.
        ("<ol><li>One</li><li>Two<ol><li>a</li><li>b</li></ol></li></ol>", "1. One\n2. Two\n\n   1. a\n   2. b"),
        (
            "<ol>" + "<li>x</li>" * 9 + "<li>ten<ul><li>y</li></ul></li></ol>",
            "\n".join(f"{n}. x" for n in range(1, 10)) + "\n10. ten\n\n    * y",
        ),
        ('<ol start="3"><li>c</li><li>d</li></ol>', "3. c\n4. d"),
        ("<ul><li>Checked:<ol><li>a</li></ol></li></ul>", "* Checked:\n\n  1. a"),
        # Paragraphs and lists around each other; a paragraph of an item.
        ("Intro<ul><li>a</li></ul>Outro", "Intro\n\n* a\n\nOutro"),
        (
            "<p>Inclusion Criteria:</p><ul><li>a</li></ul><p>Exclusion Criteria:</p><ol><li>b</li></ol>",
            "Inclusion Criteria:\n\n* a\n\nExclusion Criteria:\n\n1. b",
        ),
        ("<ol><li><p>First</p><p>more</p></li><li>Second</li></ol>", "1. First\n\n   more\n2. Second"),
    ],
)
def test_lists(html, markdown):
    assert html_to_markdown(html) == markdown
    assert html_to_markdown(markdown) == markdown


@pytest.mark.parametrize(
    "html, markdown",
    [
        ("first<br>second", "first\n\nsecond"),
        ("<p>first<br/>second<br />third</p>", "first\n\nsecond\n\nthird"),
        ("first\nsecond", "first\n\nsecond"),  # the sample's raw newline (interventionModelDescription)
        ("first\r\nsecond", "first\n\nsecond"),
        ("<ul><li>a<br>b</li></ul>", "* a\n\n  b"),
        ("a<br><br><br>b", "a\n\nb"),
    ],
)
def test_line_breaks_become_paragraph_breaks(html, markdown):
    assert html_to_markdown(html) == markdown


@pytest.mark.parametrize(
    "html, markdown",
    [
        ("apalutamide and&#x2F;or", "apalutamide and/or"),
        ("apalutamide and&amp;#x2F;or", "apalutamide and/or"),  # escaped twice
        ("Age &lt;3 years", "Age \\<3 years"),  # v2: seed NCT06731192 `Age \<3 years`
        ("Age &amp;lt;3 years", "Age \\<3 years"),
        ("ANC &amp;amp;gt;= 1,500&#x2F;mm^3", "ANC \\>= 1,500/mm\\^3"),  # three times; NCT04267848
        ("106 Arm I &amp; 104 Arm II", "106 Arm I \\& 104 Arm II"),  # NCT01305200
        ("acid [DNA] index", "acid \\[DNA\\] index"),  # NCT00567567
        ("four* times daily", "four\\* times daily"),  # NCT01305200
        ("<p>1. Voluntary signing</p>", "1\\. Voluntary signing"),
        ("<ul><li>1. Voluntary signing</li></ul>", "* 1\\. Voluntary signing"),  # NCT06898385
        ("0.121 × Back pain", "0.121 × Back pain"),  # NCT02552212: no space, no escape
        ("<p>-Primary objectives:</p><p>UPDATE #7</p>", "-Primary objectives:\n\nUPDATE #7"),
        ("it&#x27;s &quot;so&quot; &copy; &#8805;2", 'it\'s "so" © ≥2'),
        ("RAINBO BLUE &Amp; TAPER", "RAINBO BLUE \\&Amp; TAPER"),  # not an entity (NCT06388018)
        ("Q&parameter R&D", "Q\\&parameter R\\&D"),  # no `;`: not a reference
        ("C:\\temp", "C:\\\\temp"),
    ],
)
def test_entities_and_escapes(html, markdown):
    assert html_to_markdown(html) == markdown
    assert html_to_markdown(markdown) == markdown


def test_a_value_without_html_blocks_is_read_as_v2_markdown():
    """Without `<p>`/`<ul>`…, a history value cannot be told from v2 Markdown, so its `* ` and
    `1. ` lines are list items: the price of leaving v2 Markdown unchanged. A one-paragraph
    history text starting `1. ` (v2 `1\\. …`) would come out as a list; none is known."""
    assert html_to_markdown("1. Voluntary signing") == "1. Voluntary signing"
    # …and a list right under its paragraph stays there, as in NCT03745326.
    assert html_to_markdown("Criteria:\n* a &amp; b\n* c&#x2F;d") == "Criteria:\n* a \\& b\n* c/d"


@pytest.mark.parametrize(
    "html, markdown",
    [
        ("<p></p><p>A</p><p> </p><p>\n</p>", "A"),
        ("<p>A</p><p></p><p>B</p>", "A\n\nB"),
        ("<ul><li></li><li>b</li></ul>", "*\n* b"),
        ("", ""),
        ("   ", ""),
        ("<p>  padded  </p>", "padded"),
    ],
)
def test_empty_paragraphs_and_blank_values(html, markdown):
    assert html_to_markdown(html) == markdown


@pytest.mark.parametrize(
    "html, markdown",
    [
        ('<p>advanced <mark class="hl-term">CRPC</mark>.</p><p>x</p>', "advanced CRPC.\n\nx"),
        ('Prostate Cancer (<mark class="hl-term">CRPC</mark>)', "Prostate Cancer (CRPC)"),
        ("<ul><li><mark>Age</mark> ≥ 18</li></ul>", "* Age ≥ 18"),
        ("<p><b>Bold</b> and <span>span</span></p>", "Bold and span"),  # other tags: text only
        ("<p>a<!-- note -->b</p>", "ab"),
    ],
)
def test_highlights_and_other_tags_leave_their_text(html, markdown):
    assert html_to_markdown(html) == markdown


@pytest.mark.parametrize(
    "history, v2",
    [
        (
            'Castrate-resistant Prostate Cancer (<mark class="hl-term">CRPC</mark>)',
            "Castrate-resistant Prostate Cancer (CRPC)",
        ),
        ("Lupus&#x2F;SLE &amp;amp; p&lt;0.05", "Lupus/SLE & p<0.05"),
        ("&lt;mark class=&quot;hl-term&quot;&gt;CRPC&lt;&#x2F;mark&gt;", "CRPC"),
        ("AT&T [Presentation] a*b <0.001", "AT&T [Presentation] a*b <0.001"),  # v2 text: no escapes
        ("RAINBO BLUE &Amp; TAPER", "RAINBO BLUE &Amp; TAPER"),
    ],
)
def test_text_fields_are_decoded_not_escaped(history, v2):
    assert unescape_text(history) == v2
    assert unescape_text(v2) == v2


def test_markdown_already_in_v2_form_is_unchanged():
    v2 = (
        "Inclusion Criteria:\n\n* Age \\>= 16 years\n* deoxyribonucleic acid \\[DNA\\] index\n\n"
        "  1. They have \\*not\\* had\n\n     more\n* 1\\. Voluntary\n\n\\*ACCEPTABLE REGIMENS\n\n"
        "Exclusion Criteria:\n\n1. None\n2. C:\\\\temp"
    )
    assert html_to_markdown(v2) == v2


def test_deep_nesting_is_flattened_not_an_error():
    """No input exhausts the recursion limit: past 100 levels an element gives its text only."""
    assert html_to_markdown("<span>" * 5000 + "x" + "</span>" * 5000) == "x"
    deep_list = html_to_markdown("<ul><li>" * 5000 + "x")
    assert deep_list.startswith("* * ") and deep_list.endswith("x")
    deep_markdown = "\n".join("  " * level + "* x" for level in range(3000))
    assert html_to_markdown(deep_markdown).startswith("* x\n  * x\n    * x")
