"""`trialwatch run`: the scheduled job, against a real local ClinicalTrials.gov."""

import copy
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from clirun import tw as run_cli
from registry_server import RegistryServer, load_studies
from trialwatch.cli import cli

ROOT = Path(__file__).resolve().parent.parent
CONSTRUCTED = json.loads((ROOT / "tests/fixtures/ctgov/constructed/NCT06731192.json").read_text())
STUDIES = load_studies()
WATCHED = sorted(STUDIES)
SEARCH = "query.cond=Alport syndrome&filter.overallStatus=NOT_YET_RECRUITING"


def tw(db, server, *args):
    return run_cli(db, *args, url=server.url)


def tw_process(db, server, *args, **kwargs):
    env = dict(os.environ, TRIALWATCH_DB=str(db), TRIALWATCH_CTGOV_URL=server.url, TRIALWATCH_RATE="1000")
    return subprocess.Popen(
        [sys.executable, "-m", "trialwatch", *map(str, args)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def registry(timestamp="2025-06-01T09:00:00"):
    studies = copy.deepcopy(STUDIES)
    studies["NCT06731192"] = copy.deepcopy(CONSTRUCTED)
    return RegistryServer(studies, version={"apiVersion": "2.0.5", "dataTimestamp": timestamp})


def edit(study, updated="2025-06-02", **status_fields):
    status = study["protocolSection"]["statusModule"]
    status["lastUpdatePostDateStruct"] = {"date": updated, "type": "ACTUAL"}
    status.update(status_fields)
    return study


def count(db, sql):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchone()[0]


@pytest.fixture
def watched_db(tmp_path):
    """25 watched trials and one saved search, a baseline recorded by a first run."""
    db = tmp_path / "tw.db"
    with registry() as server:
        assert tw(db, server, "watch", "add", *WATCHED, "--note", "portfolio").exit_code == 0
        assert tw(db, server, "watch", "add", "--search", SEARCH, "--name", "alport").exit_code == 0
        first = tw(db, server, "run")
        assert first.exit_code == 0, first.output
        assert sum(server.hits.values()) == 3  # version, the search, one batch of 25
        yield db, server, first


def test_first_run_records_a_baseline(watched_db):
    db, server, first = watched_db
    assert count(db, "select count(*) from snapshots") == 26
    assert count(db, "select count(*) from changes") == 0
    assert count(db, "select count(*) from watchlist") == 26
    assert "NCT06731192" in first.stdout and "matches 'alport'" in first.stdout  # the search's match is new
    run = json.loads(
        json.dumps(
            dict(
                zip(
                    ["trials_checked", "snapshots_written", "changes", "new_trials", "failures", "exit_status"],
                    sqlite3.connect(db)
                    .execute(
                        "select trials_checked, snapshots_written, changes, new_trials, failures, exit_status from runs"
                    )
                    .fetchone(),
                    strict=True,
                )
            )
        )
    )
    assert run == {
        "trials_checked": 26,
        "snapshots_written": 26,
        "changes": 0,
        "new_trials": 1,
        "failures": 0,
        "exit_status": 0,
    }
    listed = json.loads(tw(db, server, "watch", "list", "--format", "json").stdout)
    assert len(listed["trials"]) == 26 and listed["searches"][0]["last_match_count"] == 1
    assert {t["search"] for t in listed["trials"] if t["nct_id"] == "NCT06731192"} == {"alport"}


def test_an_unchanged_registry_costs_one_request_and_prints_nothing(watched_db):
    db, server, _ = watched_db
    server.reset()
    result = tw(db, server, "run")
    assert (result.exit_code, result.stdout) == (0, "")
    assert dict(server.hits) == {"/api/v2/version": 1}
    assert count(db, "select count(*) from runs") == 2


def test_real_changes_and_a_new_match_are_reported_and_only_they(watched_db):
    db, server, _ = watched_db
    server.reset()
    covid = edit(server.studies["NCT04267848"], overallStatus="ACTIVE_NOT_RECRUITING")
    covid["protocolSection"]["designModule"]["enrollmentInfo"] = {"count": 1300, "type": "ACTUAL"}
    slipped = edit(server.studies["NCT05594173"])
    old_pcd = slipped["protocolSection"]["statusModule"]["primaryCompletionDateStruct"]["date"]
    slipped["protocolSection"]["statusModule"]["primaryCompletionDateStruct"]["date"] = "2031-06-30"
    newcomer = copy.deepcopy(CONSTRUCTED)
    newcomer["protocolSection"]["identificationModule"]["nctId"] = "NCT06999999"
    newcomer["protocolSection"]["identificationModule"]["briefTitle"] = "Another Alport syndrome trial"
    server.studies["NCT06999999"] = edit(newcomer)
    server.version = {"apiVersion": "2.0.5", "dataTimestamp": "2025-06-02T09:00:00"}

    result = tw(db, server, "run", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [t["nct_id"] for t in report["new_trials"]] == ["NCT06999999"]
    assert [(c["nct_id"], c["field"]) for c in report["changes"]] == [
        ("NCT04267848", "status"),
        ("NCT04267848", "enrollment"),
        ("NCT05594173", "primary_completion_date"),
    ]
    status, enrollment, pcd = report["changes"]
    assert (status["old"], status["new"]) == ("RECRUITING", "ACTIVE_NOT_RECRUITING")
    assert (enrollment["old"], enrollment["new"]) == (
        {"count": 1210, "type": "ESTIMATED"},
        {"count": 1300, "type": "ACTUAL"},
    )
    assert pcd["old"]["date"] == old_pcd and pcd["new"]["date"] == "2031-06-30" and pcd["shift_days"] > 30
    # Only what can have changed was fetched: version, search, one listing of the 25 watched
    # ids (id and last update date only), then the two updated in full.
    assert dict(server.hits) == {"/api/v2/version": 1, "/api/v2/studies": 3}
    search, listing, updated = server.seen("/api/v2/studies")
    assert "query.cond" in search.params
    assert listing.params["fields"] == "NCTId,LastUpdatePostDate" and len(listing.params["filter.ids"].split(",")) == 25
    assert updated.params["filter.ids"] == "NCT04267848,NCT05594173" and "fields" not in updated.params

    text = tw(db, server, "changes", "--format", "json").stdout
    listed = json.loads(text)  # newest first: the snapshot stored last in the run comes first
    assert [(c["nct_id"], c["field"]) for c in listed] == [
        ("NCT05594173", "primary_completion_date"),
        ("NCT04267848", "status"),
        ("NCT04267848", "enrollment"),
    ]
    assert (
        json.loads(
            tw(db, server, "changes", "--severity", "notable", "--nct", "NCT05594173", "--format", "json").stdout
        )[0]["field"]
        == "primary_completion_date"
    )
    assert tw(db, server, "changes", "--since", "soon").exit_code == 2

    # The text report: new trials, then changes by trial, each with its summary line.
    server.version = {"apiVersion": "2.0.5", "dataTimestamp": "2025-06-03T09:00:00"}
    assert tw(db, server, "run").stdout == ""  # moved timestamp, nothing changed: nothing printed


def test_the_text_report(tmp_path):
    db = tmp_path / "tw.db"
    with registry() as server:
        tw(db, server, "watch", "add", "NCT04267848")
        tw(db, server, "run")
        edit(server.studies["NCT04267848"], overallStatus="TERMINATED", whyStopped="Sponsor decision")
        server.version = {"apiVersion": "2.0.5", "dataTimestamp": "2025-06-02T09:00:00"}
        out = tw(db, server, "run").stdout
        assert (
            "Changes\n  NCT04267848 Testing the Addition of a Type of Drug Called Immunotherapy…\n"
            "    critical  Status RECRUITING → TERMINATED"
        ) in out
        markdown = tw(db, server, "run", "--force", "--format", "markdown").stdout
        assert markdown == ""  # forced, but nothing new since


def test_a_404_is_a_failure_the_rest_is_stored_and_next_run_recovers(tmp_path):
    db = tmp_path / "tw.db"
    with registry() as server:
        tw(db, server, "watch", "add", "NCT04267848", "NCT09999999")
        result = tw(db, server, "run")
        assert result.exit_code == 1
        assert "Failed\n  NCT09999999: ClinicalTrials.gov has no such trial (HTTP 404)" in result.stdout
        server.studies["NCT09999999"] = edit(copy.deepcopy(CONSTRUCTED))
        server.studies["NCT09999999"]["protocolSection"]["identificationModule"]["nctId"] = "NCT09999999"
        assert tw(db, server, "run").exit_code == 0  # same timestamp, but the failed trial is retried
        assert count(db, "select count(*) from snapshots") == 2


def test_registry_unreachable_is_exit_1_and_a_clean_line(tmp_path):
    db = tmp_path / "tw.db"
    result = CliRunner().invoke(
        cli, ["--db", str(db), "--ctgov-url", "http://127.0.0.1:9", "--rate", "1000", "watch", "add", "NCT04267848"]
    )
    assert result.exit_code == 0
    proc = subprocess.run(
        [sys.executable, "-m", "trialwatch", "--db", str(db), "--ctgov-url", "http://127.0.0.1:9", "run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1 and "registry unreachable" in proc.stdout and "Traceback" not in proc.stderr


def test_bad_searches_are_exit_2(tmp_path):
    db = tmp_path / "tw.db"
    with registry() as server:
        result = tw(db, server, "watch", "add", "--search", "query.cond=asthma&filter.colour=blue")
        assert result.exit_code == 2 and "filter.colour" in result.stderr
        assert tw(db, server, "watch", "add", "--search", "pageSize=5").exit_code == 2
        assert tw(db, server, "watch", "remove", "NCT04267848").exit_code == 2
    assert not db.exists()


def test_two_runs_at_once_leave_one_writer(tmp_path):
    db = tmp_path / "tw.db"
    with registry() as server:
        tw(db, server, "watch", "add", *WATCHED)
        server.slow(3.0, times=1)
        first = tw_process(db, server, "run")
        time.sleep(1.0)
        runs_before = count(db, "select count(*) from runs")
        second = tw_process(db, server, "run")
        out, err = second.communicate(timeout=30)
        assert second.returncode == 75
        assert "another trialwatch run holds the database" in err and len(err.strip().splitlines()) == 1
        assert count(db, "select count(*) from runs") == runs_before
        assert first.wait(timeout=60) == 0
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert conn.execute("select count(*) from snapshots").fetchone()[0] == 25


def test_a_run_killed_midway_is_finished_by_the_next(tmp_path):
    db = tmp_path / "tw.db"
    with registry() as server:
        tw(db, server, "watch", "add", *WATCHED)
        server.page_size = 5  # five pages, each slow: the run is killed between them
        for _ in range(5):
            server.slow(0.6, times=1)
        proc = tw_process(db, server, "run")
        deadline = time.time() + 30
        while count(db, "select count(*) from snapshots") < 5 and time.time() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kept = count(db, "select count(*) from snapshots")
        assert 5 <= kept < 25
        assert count(db, "select count(*) from runs where finished_utc is null") == 1
        result = tw(db, server, "run")
        assert result.exit_code == 0
        assert count(db, "select count(*) from snapshots") == 25
        assert count(db, "select count(*) from changes") == 0
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_parser_warnings_of_a_run_are_counted_and_mailed():
    """A run whose inputs drew parser warnings reports it (cron mails it), even with nothing else new."""
    from trialwatch.snapshots.jobs.run import RunReport
    from trialwatch.snapshots.reports.render import render_run

    quiet = RunReport(run_id=7, started_utc="2026-11-29T14:30:00+00:00", trials_checked=3)
    assert render_run(quiet, "text") == ""
    drifted = RunReport(run_id=7, started_utc="2026-11-29T14:30:00+00:00", trials_checked=3, warnings=2)
    text = render_run(drifted, "text")
    assert "Warnings" in text and "2 parser warnings" in text and "checks.warnings of run 7" in text
    assert json.loads(render_run(drifted, "json"))["run"]["warnings"] == 2
