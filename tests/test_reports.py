"""Words that stand alone: every report names each trial by id and short title, and a change of
text shows old → new in text and Markdown, shortened to what changed."""

from __future__ import annotations

import json

import pytest

from clirun import tw
from registry_server import RegistryServer, load_studies
from story import NCT, NEW_TIME_FRAME, OLD_TIME_FRAME, WHY_STOPPED, ingest_story
from trialwatch.snapshots.reports.words import as_markdown, as_text, details, short_title, word_diff

TITLE = "Human Umbilical Cord Mesenchymal Stem Cells for Alport Syndrome"
SHORT = "Human Umbilical Cord Mesenchymal Stem Cells for Alport…"


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("story")
    db = folder / "tw.db"
    ingest_story(db, folder / "files", tw)
    return db


def out(db, *args) -> str:
    result = tw(db, *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_short_titles_cut_at_a_word():
    assert short_title(TITLE) == SHORT
    assert short_title("Short one") == "Short one"
    assert len(short_title("word " * 40)) <= 61


def test_diff_names_the_trial_and_shows_changed_texts_old_to_new(db):
    text = out(db, "diff", NCT)
    headers = [line for line in text.splitlines() if line.startswith("NCT")]
    assert len(headers) == 5 and all(line.startswith(f"{NCT} {SHORT} · 2025-") for line in headers)
    # The primary outcome's time frame, not only "time_frame changed": the words that changed.
    assert f"time_frame {OLD_TIME_FRAME} → {NEW_TIME_FRAME}" in text  # short: the summary says it whole
    # A reworded eligibility criterion: the word-level difference.
    assert "No history of infectious diseases within [-1 week-] {+4 weeks+} before treatment;" in text
    # A long reason for stopping, cut in the summary, is shown whole below it.
    assert f"{{+{WHY_STOPPED}+}}" in text

    markdown = out(db, "diff", NCT, "--format", "markdown")
    assert markdown.startswith(f"### {NCT} {SHORT} · 2025-02-14T09:00:00+00:00")
    assert "  - No history of infectious diseases within ~~1 week~~ **4 weeks** before treatment;" in markdown

    changes = json.loads(out(db, "diff", NCT, "--format", "json"))
    assert {c["title"] for c in changes} == {TITLE}
    outcome = next(c for c in changes if c["field"] == "outcomes.primary")
    assert (outcome["old"]["time_frame"], outcome["new"]["time_frame"]) == (OLD_TIME_FRAME, NEW_TIME_FRAME)


def test_changes_and_history_name_the_trial(db):
    text = out(db, "changes", "--severity", "critical")
    assert text.splitlines()[0].startswith(f"{NCT} {SHORT} · 2025-09-30")
    history = out(db, "history", NCT)
    assert history.splitlines()[0] == f"{NCT}  {TITLE}"
    csv = out(db, "changes", "--format", "csv").splitlines()
    assert csv[0].endswith(",title") and csv[1].endswith(f",{TITLE}")


def test_diff_of_a_trial_seen_once_says_so(tmp_path):
    db = tmp_path / "tw.db"
    ingest_story(db, tmp_path / "files", tw, upto=1)
    assert out(db, "diff", NCT) == f"{NCT} {SHORT}: 1 snapshot since 2024-12-31; no changes yet\n"
    assert json.loads(out(db, "diff", NCT, "--format", "json")) == []
    ingest_story(db, tmp_path / "files", tw, upto=2)
    assert out(db, "diff", NCT, "--category", "outcomes") == (
        f"{NCT} {SHORT}: 2 snapshots since 2024-12-31; no changes match\n"
    )


def test_the_run_mail_names_trials_and_shows_text_changes(tmp_path):
    studies = load_studies()
    db = tmp_path / "tw.db"
    nct = "NCT04267848"
    with RegistryServer(studies) as server:
        assert tw(db, "watch", "add", nct, url=server.url).exit_code == 0
        assert tw(db, "run", url=server.url).exit_code == 0
        outcome = server.studies[nct]["protocolSection"]["outcomesModule"]["primaryOutcomes"][0]
        outcome["timeFrame"] = "Up to 5 years"
        server.version = {"apiVersion": "2.0.5", "dataTimestamp": "2026-06-02T09:00:00"}
        text = tw(db, "run", "--force", url=server.url).stdout
        assert "  NCT04267848 Testing the Addition of a Type of Drug Called Immunotherapy…\n" in text
        assert "time frame: [-From randomization to the first" in text and "{+Up to 5 years+}" in text
        outcome["description"] += " Assessed by blinded central review."
        markdown = tw(db, "run", "--force", "--format", "markdown", url=server.url).stdout
        assert "### NCT04267848 Testing the Addition of a Type of Drug Called Immunotherapy…\n" in markdown
        assert (
            "  - description: … randomization will be assessed as well. **Assessed by blinded central review.**"
            in markdown
        )
        outcome["timeFrame"] = "Up to 7 years"
        report = json.loads(tw(db, "run", "--force", "--format", "json", url=server.url).stdout)
        assert report["changes"][0]["title"].startswith("Testing the Addition")


def test_word_diff_keeps_what_changed_and_a_little_context():
    old = " ".join(f"w{i}" for i in range(100))
    new = old.replace("w50", "CHANGED")
    segments = word_diff(old, new)
    assert as_text(segments) == "… w44 w45 w46 w47 w48 w49 [-w50-] {+CHANGED+} w51 w52 w53 w54 w55 w56 …"
    assert as_markdown(word_diff("a *b* c d e f g h i j k l m n", "a *b* c d e f g h i j k l m z")).endswith(
        "~~n~~ **z**"
    )
    rewritten = word_diff("one two three four five six seven eight nine ten eleven twelve thirteen", "something else")
    assert rewritten[0][0] == "del" and rewritten[1] == ("ins", "something else")


def test_details_leave_codes_and_numbers_to_the_summary():
    status = {"field": "status", "category": "status", "kind": "changed", "old": "RECRUITING", "new": "COMPLETED"}
    assert details(status) == []
    date = {"field": "start_date", "category": "dates", "kind": "changed", "old": {"date": "2025"}, "new": {}}
    assert details(date) == []
    short = {"field": "acronym", "category": "identifiers", "kind": "changed", "old": "ABC", "new": "ABD"}
    assert details(short) == []  # the summary shows it whole
