"""`trialwatch ingest` against a real local ClinicalTrials.gov (tests/registry_server.py)."""

import json
import sqlite3
from pathlib import Path

import pytest

from clirun import tw as run_cli
from registry_server import RegistryServer, load_studies

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "NCT06731192.txt"
CONSTRUCTED = ROOT / "tests" / "fixtures" / "ctgov" / "constructed" / "NCT06731192.json"
STUDIES = load_studies()


@pytest.fixture
def server():
    with RegistryServer(dict(STUDIES)) as running:
        yield running


def tw(db, server, *args):
    return run_cli(db, *args, url=server.url)


def show(db, server, nct_id):
    return json.loads(tw(db, server, "show", nct_id, "--format", "json").stdout)


def test_25_ids_cost_one_request_and_map_right(tmp_path, server):
    db = tmp_path / "tw.db"
    result = tw(db, server, "ingest", *sorted(STUDIES))
    assert result.exit_code == 0, result.output
    assert server.hits["/api/v2/studies"] == 1
    assert sum(server.hits.values()) == 1
    assert "25 checked: 25 new" in result.stderr
    covid = show(db, server, "NCT04267848")
    assert (covid["status"], covid["phases"], covid["enrollment"]) == (
        "RECRUITING",
        ["PHASE3"],
        {"count": 1210, "type": "ESTIMATED"},
    )
    assert len(covid["locations"]) == 1148
    withdrawn = show(db, server, "NCT00973089")
    assert (withdrawn["status"], withdrawn["enrollment"]) == ("WITHDRAWN", {"count": 0, "type": "ACTUAL"})
    assert show(db, server, "NCT00763412")["start_date"]["date"] == "2006-11"
    # Asking again changes nothing: 25 checks more, no snapshot.
    assert "25 unchanged" in tw(db, server, "ingest", *sorted(STUDIES)).stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from snapshots").fetchone()[0] == 25
        assert conn.execute("select count(*) from checks").fetchone()[0] == 50


def test_every_trial_is_stored_under_429s_and_503s(tmp_path, server):
    server.fail(429, times=2, retry_after=1)
    server.fail(503, times=2, retry_after=0)
    result = tw(tmp_path / "tw.db", server, "ingest", *sorted(STUDIES))
    assert result.exit_code == 0, result.output
    assert server.hits["/api/v2/studies"] == 5
    with sqlite3.connect(tmp_path / "tw.db") as conn:
        assert conn.execute("select count(*) from snapshots").fetchone()[0] == 25


def test_a_404_fails_that_trial_alone_and_names_it(tmp_path, server):
    ids = sorted(STUDIES)
    missing = "NCT09999999"
    result = tw(tmp_path / "tw.db", server, "ingest", *ids[:10], missing, *ids[10:])
    assert result.exit_code == 1
    assert f"{missing}: ClinicalTrials.gov has no such trial (HTTP 404)" in result.stderr
    assert "25 new" in result.stderr and "1 failed" in result.stderr
    with sqlite3.connect(tmp_path / "tw.db") as conn:
        assert conn.execute("select count(*) from snapshots").fetchone()[0] == 25
        assert conn.execute("select nct_id, error from checks where outcome = 'failed'").fetchall() == [
            (missing, f"{missing}: ClinicalTrials.gov has no such trial (HTTP 404)")
        ]


def test_an_answer_that_is_not_json_is_asked_again_then_stores_nothing_for_its_trial(tmp_path, server):
    server.html(times=1)  # once: asked again, served
    result = tw(tmp_path / "tw.db", server, "ingest", "NCT04267848", "NCT00973089")
    assert result.exit_code == 0, result.stderr
    server.poisoned.add("NCT00973089")  # never served: it fails, alone
    result = tw(tmp_path / "tw2.db", server, "ingest", "NCT04267848", "NCT00973089")
    assert result.exit_code == 1
    assert "not JSON" in result.stderr
    with sqlite3.connect(tmp_path / "tw2.db") as conn:
        assert conn.execute("select nct_id from snapshots").fetchall() == [("NCT04267848",)]
        failed = conn.execute("select nct_id from checks where outcome = 'failed' and error like '%not JSON%'")
        assert failed.fetchall() == [("NCT00973089",)]


def test_a_page_url_is_fetched_and_parsed_like_a_saved_page(tmp_path, server):
    server.pages["/clinical-trials/NCT06731192"] = (SEED.read_bytes(), "text/plain; charset=utf-8")
    url = server.url_for("/clinical-trials/NCT06731192")
    db = tmp_path / "tw.db"
    result = tw(db, server, "ingest", url)
    assert result.exit_code == 0, result.output
    record = show(db, server, "NCT06731192")
    assert record == json.loads(tw(db, server, "parse", SEED).stdout)
    history = json.loads(tw(db, server, "history", "NCT06731192", "--format", "json").stdout)
    assert history[0]["source_ref"] == url


@pytest.mark.parametrize(
    "target, message",
    [
        ("NCT1234567", "is not an NCT id"),
        ("ftp://example.org/NCT06731192", "only http and https URLs"),
    ],
)
def test_bad_targets_are_exit_2_before_any_request(tmp_path, server, target, message):
    result = tw(tmp_path / "tw.db", server, "ingest", target)
    assert result.exit_code == 2 and message in result.stderr
    assert sum(server.hits.values()) == 0
    assert not (tmp_path / "tw.db").exists()


def test_a_page_then_the_api_record_reports_only_real_differences(tmp_path, server):
    """The page shows days where the registry holds months, and no types: none of that is a change."""
    db = tmp_path / "tw.db"
    api_study = json.loads(CONSTRUCTED.read_text())
    server.studies["NCT06731192"] = api_study
    tw(db, server, "ingest", SEED, "--observed-at", "2025-01-02")
    assert tw(db, server, "ingest", "NCT06731192").exit_code == 0
    history = json.loads(tw(db, server, "history", "NCT06731192", "--format", "json").stdout)
    assert [h["source_kind"] for h in history] == ["page text", "ctgov api"]
    assert json.loads(tw(db, server, "diff", "NCT06731192", "--format", "json").stdout) == []

    # A real difference is reported, and only it.
    changed = json.loads(CONSTRUCTED.read_text())
    changed["protocolSection"]["statusModule"]["overallStatus"] = "RECRUITING"
    changed["protocolSection"]["statusModule"]["startDateStruct"] = {"date": "2025-03-10", "type": "ACTUAL"}
    server.studies["NCT06731192"] = changed
    tw(db, server, "ingest", "NCT06731192")
    changes = json.loads(tw(db, server, "diff", "NCT06731192", "--format", "json").stdout)
    assert [(c["field"], c["summary"]) for c in changes] == [
        ("status", "Status NOT_YET_RECRUITING → RECRUITING"),
        (
            "start_date",
            "Start date 2025-01 (estimated) → 2025-03-10 (actual): moved 59 days later, precision month → day, became actual",
        ),
    ]


def test_api_json_files_are_read_by_parse_and_ingest(tmp_path):
    fixtures = ROOT / "tests" / "fixtures" / "ctgov"
    study = fixtures / "studies" / "NCT00973089.json"
    page = fixtures / "pages" / "studies_page.cyanheads_2025-06-17T11-16-37.json"
    page_ids = [s["protocolSection"]["identificationModule"]["nctId"] for s in json.loads(page.read_text())["studies"]]
    db = tmp_path / "tw.db"
    parsed = json.loads(run_cli(db, "parse", study).stdout)
    assert (parsed["nct_id"], parsed["status"], parsed["enrollment"]) == (
        "NCT00973089",
        "WITHDRAWN",
        {"count": 0, "type": "ACTUAL"},
    )
    several = json.loads(run_cli(db, "parse", page).stdout)
    assert [r["nct_id"] for r in several] == page_ids and len(page_ids) > 1
    result = run_cli(db, "ingest", study, page)
    assert result.exit_code == 0, result.output
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(distinct nct_id) from snapshots").fetchone()[0] == len(
            {"NCT00973089", *page_ids}
        )
        assert {row[0] for row in conn.execute("select source_kind from snapshots")} == {"ctgov api"}
