"""`trialwatch run` keeps track of every watched trial, against a real local ClinicalTrials.gov:
failed trials are re-checked whatever the registry's timestamp says, a trial the registry no
longer returns is reported once (critical) and its return too, and what a run costs in requests."""

import copy
import json
import math
import sqlite3
from pathlib import Path

import pytest

from clirun import tw as run_cli
from registry_server import RegistryServer, load_studies, synthetic_studies

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "NCT06731192.txt"
CONSTRUCTED = ROOT / "tests" / "fixtures" / "ctgov" / "constructed" / "NCT06731192.json"
STUDIES = load_studies()
WATCHED = sorted(STUDIES)
GONE = "NCT04267848"
OTHER = "NCT05594173"


def tw(db, server, *args):
    return run_cli(db, *args, url=server.url)


def at(server, timestamp):
    server.version = {"apiVersion": "2.0.5", "dataTimestamp": timestamp}


def query(db, sql, *params):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def requests_of(db, run=-1):
    return query(db, "select requests from runs order by id")[run][0]


@pytest.fixture
def watched(tmp_path):
    """The 25 real trials watched, a baseline recorded by a first clean run at 2025-06-01."""
    db = tmp_path / "tw.db"
    with RegistryServer(copy.deepcopy(STUDIES)) as server:
        at(server, "2025-06-01T09:00:00")
        assert tw(db, server, "watch", "add", *WATCHED).exit_code == 0
        first = tw(db, server, "run")
        assert first.exit_code == 0, first.output
        server.reset()
        yield db, server


# -- failed trials are re-checked whatever the timestamp says ----------------------------------------


def test_a_trial_that_failed_is_rechecked_at_the_next_run_with_an_unchanged_timestamp(watched):
    db, server = watched
    server.batch_drops = {OTHER}  # the batch leaves it out and asking for it alone fails
    server.fail(503, times=5, path=f"/api/v2/studies/{OTHER}")
    failed = tw(db, server, "run", "--force")
    assert failed.exit_code == 1 and f"{OTHER}: gave up after 5 tries" in failed.stdout
    server.batch_drops = set()
    server.reset()
    again = tw(db, server, "run")  # the timestamp has not moved since the last clean run
    assert again.exit_code == 0, again.output
    assert dict(server.hits) == {"/api/v2/version": 1, "/api/v2/studies": 1}
    assert server.log[1].params["filter.ids"] == OTHER
    assert query(db, "select outcome from checks where nct_id = ? order by id desc limit 1", OTHER) == [("unchanged",)]
    server.reset()
    assert tw(db, server, "run").exit_code == 0
    assert dict(server.hits) == {"/api/v2/version": 1}  # nothing pending any more: one request


def test_a_failed_listing_fails_its_trials_and_the_next_run_checks_them(watched):
    db, server = watched
    at(server, "2025-06-02T09:00:00")
    server.fail(503, times=5, path="/api/v2/studies")
    failed = tw(db, server, "run")
    assert failed.exit_code == 1
    assert query(db, "select count(*) from checks where outcome = 'failed' and run_id = 2") == [(25,)]
    server.reset()
    again = tw(db, server, "run", "--format", "json")  # same timestamp: the 25 failed are fetched
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout or "{}").get("failures", []) == []
    assert dict(server.hits) == {"/api/v2/version": 1, "/api/v2/studies": 1}
    assert len(server.log[1].params["filter.ids"].split(",")) == 25


def test_a_watched_trial_only_read_from_a_saved_page_is_fetched_at_the_next_run(watched):
    """Its page says nothing of what the registry serves now: a check of the current record does."""
    db, server = watched
    assert tw(db, server, "ingest", SEED).exit_code == 0
    server.studies["NCT06731192"] = json.loads(CONSTRUCTED.read_text())
    assert tw(db, server, "watch", "add", "NCT06731192").exit_code == 0
    server.reset()
    assert tw(db, server, "run").exit_code == 0  # the timestamp has not moved
    assert [seen.params.get("filter.ids") for seen in server.seen("/api/v2/studies")] == ["NCT06731192"]
    assert query(db, "select source_kind from checks where nct_id = 'NCT06731192' order by id") == [
        ("page text",),
        ("ctgov api",),
    ]


# -- a trial the registry no longer returns ------------------------------------------------------------


def test_a_vanished_trial_is_reported_once_as_critical_and_its_return_too(watched):
    db, server = watched
    record = server.studies.pop(GONE)
    at(server, "2025-06-02T09:00:00")
    gone = tw(db, server, "run", "--format", "json")
    assert gone.exit_code == 0, gone.output  # an answer, not a failure
    report = json.loads(gone.stdout)
    assert [(c["nct_id"], c["field"], c["severity"], c["summary"]) for c in report["changes"]] == [
        (GONE, "in_registry", "critical", "No longer in the registry")
    ]
    assert report["failures"] == []
    # One listing of the 25 ids; the one it lacks asked for alone (404).
    assert dict(server.hits) == {"/api/v2/version": 1, "/api/v2/studies": 1, f"/api/v2/studies/{GONE}": 1}
    assert server.log[1].params["fields"] == "NCTId,LastUpdatePostDate"
    text = tw(db, server, "changes", "--nct", GONE).stdout
    assert "critical" in text and "No longer in the registry" in text

    # Still gone: the listing confirms it at no cost, and it is not reported again.
    server.reset()
    at(server, "2025-06-03T09:00:00")
    again = tw(db, server, "run")
    assert (again.exit_code, again.stdout) == (0, "")
    assert dict(server.hits) == {"/api/v2/version": 1, "/api/v2/studies": 1}
    assert query(db, "select count(*) from changes where field = 'in_registry'") == [(1,)]
    assert query(db, "select outcome from checks where nct_id = ? order by id desc limit 1", GONE) == [("unchanged",)]

    # Back: reported as such, and nothing else changed.
    server.studies[GONE] = record
    server.reset()
    at(server, "2025-06-04T09:00:00")
    back = tw(db, server, "run", "--format", "json")
    assert back.exit_code == 0, back.output
    assert [(c["nct_id"], c["summary"]) for c in json.loads(back.stdout)["changes"]] == [(GONE, "Back in the registry")]
    assert [s.params.get("filter.ids") for s in server.seen("/api/v2/studies")][1] == GONE
    assert query(db, "select count(*) from changes where field = 'in_registry'") == [(2,)]


def test_a_vanished_trial_in_a_full_check_is_recorded_as_absent_not_failed(watched):
    db, server = watched
    del server.studies[GONE]
    at(server, "2025-06-02T09:00:00")
    result = tw(db, server, "run", "--force", "--format", "json")
    assert result.exit_code == 0, result.output
    assert [c["summary"] for c in json.loads(result.stdout)["changes"]] == ["No longer in the registry"]
    record = json.loads(tw(db, server, "show", GONE, "--format", "json").stdout)
    assert record["in_registry"] is False


def test_a_trial_the_registry_never_returned_is_a_failure_not_a_vanishing(watched):
    db, server = watched
    assert tw(db, server, "watch", "add", "NCT09999999").exit_code == 0
    result = tw(db, server, "run")
    assert result.exit_code == 1
    assert "NCT09999999: ClinicalTrials.gov has no such trial (HTTP 404)" in result.stdout
    assert query(db, "select count(*) from snapshots where nct_id = 'NCT09999999'") == [(0,)]


def test_a_record_without_an_update_date_is_still_checked(watched):
    """The date filter the run used before (`filter.advanced=AREA[LastUpdatePostDate]…`) drops
    records lacking the field: a change to one was never seen."""
    db, server = watched
    status = server.studies[OTHER]["protocolSection"]["statusModule"]
    del status["lastUpdatePostDateStruct"]
    status["overallStatus"] = "SUSPENDED"
    at(server, "2025-06-02T09:00:00")
    result = tw(db, server, "run", "--format", "json")
    assert result.exit_code == 0, result.output
    assert [(c["nct_id"], c["field"]) for c in json.loads(result.stdout)["changes"]] == [(OTHER, "status")]


# -- what a run costs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [2500])
def test_requests_per_run(tmp_path, count):
    template = {
        "protocolSection": {
            "identificationModule": {"nctId": "NCT90000001", "briefTitle": "A trial"},
            "statusModule": {
                "overallStatus": "RECRUITING",
                "lastUpdatePostDateStruct": {"date": "2025-05-20", "type": "ACTUAL"},
            },
        },
        "hasResults": False,
    }
    studies = synthetic_studies(count, template=template)
    db = tmp_path / "tw.db"
    with RegistryServer(studies) as server:
        at(server, "2025-06-01T09:00:00")
        assert tw(db, server, "watch", "add", *studies).exit_code == 0
        assert tw(db, server, "run").exit_code == 0
        batches = math.ceil(count / 1000)
        assert requests_of(db) == 1 + batches

        # The timestamp has not moved and nothing is pending: one request.
        server.reset()
        assert tw(db, server, "run").stdout == ""
        assert requests_of(db) == 1 == sum(server.hits.values())

        # Moved, nothing changed: the version, then one listing per 1,000 watched trials.
        server.reset()
        at(server, "2025-06-02T09:00:00")
        assert tw(db, server, "run").stdout == ""
        assert requests_of(db) == 1 + batches == sum(server.hits.values())
        assert requests_of(db) <= 1 + 2 * batches
        assert all(seen.params.get("fields") == "NCTId,LastUpdatePostDate" for seen in server.log[1:])

        # Moved, one changed: the listing, then that one in a batch of one.
        server.reset()
        changed = sorted(studies)[1234]
        status = server.studies[changed]["protocolSection"]["statusModule"]
        server.studies[changed]["protocolSection"]["statusModule"] = {
            **status,
            "overallStatus": "COMPLETED",
            "lastUpdatePostDateStruct": {"date": "2025-06-02", "type": "ACTUAL"},
        }
        at(server, "2025-06-03T09:00:00")
        result = tw(db, server, "run", "--format", "json")
        assert [(c["nct_id"], c["field"]) for c in json.loads(result.stdout)["changes"]] == [(changed, "status")]
        assert requests_of(db) == 1 + batches + 1
