"""`trialwatch backfill`: the registry's version history on the trial's timeline, against a real
local ClinicalTrials.gov (tests/registry_server.py) and a real SQLite file."""

import copy
import json
import sqlite3

import pytest

from clirun import tw as run_cli
from registry_server import FIXTURES, RegistryServer
from trialwatch.ingest.http import Registry
from trialwatch.ingest.registry import HistorySource
from trialwatch.snapshots.jobs.backfill import backfill, backfill_many
from trialwatch.snapshots.store.store import Store

NCT = "NCT05147467"
OTHER = "NCT03281889"
LIST_PATH = f"/api/int/studies/{NCT}"


def _study(nct_id):
    return json.loads((FIXTURES / "studies" / f"{nct_id}.json").read_text(encoding="utf-8"))


def _dated(study, date):
    status = study["protocolSection"]["statusModule"]
    status["lastUpdateSubmitDate"] = date
    status["lastUpdatePostDateStruct"] = {"date": date, "type": "ACTUAL"}
    return study


def make_versions():
    """Six versions of NCT05147467 (the recorded study is where it ends, but for v5's status):
    [(date, moduleLabels, study)], oldest first."""
    base = _study(NCT)
    sites = base["protocolSection"]["contactsLocationsModule"]["locations"]

    def edit(previous, date, change):
        study = copy.deepcopy(previous)
        change(study["protocolSection"])
        return _dated(study, date)

    def v0(p):
        p["statusModule"].update(
            overallStatus="NOT_YET_RECRUITING",
            startDateStruct={"date": "2021-12", "type": "ESTIMATED"},
            primaryCompletionDateStruct={"date": "2024-03", "type": "ESTIMATED"},
        )
        p["designModule"]["enrollmentInfo"] = {"count": 60, "type": "ESTIMATED"}
        p["contactsLocationsModule"]["locations"] = copy.deepcopy(sites[:9])

    steps = [
        ("2021-11-24", [], v0),
        (
            "2021-12-20",
            ["Study Status", "Contacts/Locations"],
            lambda p: p["statusModule"].update(overallStatus="RECRUITING"),
        ),
        (
            "2022-01-10",
            ["Study Status"],
            lambda p: p["statusModule"].update(startDateStruct={"date": "2021-12-28", "type": "ACTUAL"}),
        ),
        (
            "2022-06-01",
            ["Study Design"],
            lambda p: p["designModule"].update(enrollmentInfo={"count": 75, "type": "ESTIMATED"}),
        ),
        (
            "2023-02-14",
            ["Study Status"],
            lambda p: p["statusModule"].update(primaryCompletionDateStruct={"date": "2024-09", "type": "ESTIMATED"}),
        ),
        (
            "2024-01-22",
            ["Study Status", "Contacts/Locations"],
            lambda p: (
                p["statusModule"].update(overallStatus="ACTIVE_NOT_RECRUITING"),
                p["contactsLocationsModule"].update(locations=copy.deepcopy(sites)),
            ),
        ),
    ]
    versions, study = [], base
    for date, labels, change in steps:
        study = edit(study, date, change)
        versions.append((date, labels, study))
    return versions


def serve_history(server, nct_id, versions):
    """Put a version set on the server: the list, each version, and the last as the current record."""
    server.histories[nct_id] = {
        "study": versions[-1][2],
        "history": {
            "changes": [
                {
                    "version": n,
                    "date": date,
                    "status": study["protocolSection"]["statusModule"]["overallStatus"],
                    "moduleLabels": labels,
                }
                for n, (date, labels, study) in enumerate(versions)
            ]
        },
    }
    for n, (_, _, study) in enumerate(versions):
        server.history_versions[(nct_id, n)] = study
    server.studies[nct_id] = versions[-1][2]


def other_versions():
    """Two versions of NCT03281889: enrollment 16, then 20."""
    first = _dated(_study(OTHER), "2018-01-02")
    first["protocolSection"]["designModule"]["enrollmentInfo"] = {"count": 16, "type": "ESTIMATED"}
    return [("2018-01-02", [], first), ("2019-05-06", ["Study Design"], _dated(_study(OTHER), "2019-05-06"))]


VERSIONS = make_versions()


@pytest.fixture
def server():
    with RegistryServer() as running:
        serve_history(running, NCT, VERSIONS)
        serve_history(running, OTHER, other_versions())
        yield running


def tw(db, server, *args):
    return run_cli(db, *args, url=server.url)


def query(db, sql, *params):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def version_hits(server, nct_id=NCT):
    return sorted(
        int(path.rsplit("/", 1)[1])
        for path, count in server.hits.items()
        for _ in range(count)
        if path.startswith(f"/api/int/studies/{nct_id}/history/")
    )


def by_snapshot(db, server, nct_id=NCT):
    """The trial's changes (diff --format json) grouped by observed date: [(date, [change…])]."""
    changes = json.loads(tw(db, server, "diff", nct_id, "--format", "json").stdout)
    groups = {}
    for change in changes:
        groups.setdefault(change["observed_at"][:10], []).append(change)
    return list(groups.items())


def test_each_version_is_a_snapshot_dated_by_the_registry_with_its_meaning(tmp_path, server):
    db = tmp_path / "tw.db"
    result = tw(db, server, "backfill", NCT)
    assert result.exit_code == 0, result.output
    assert "1 trial: 6 versions fetched (1 new, 5 changed, 0 unchanged), 0 already stored, 0 failed" in result.stderr
    assert server.hits[LIST_PATH] == 1 and version_hits(server) == [0, 1, 2, 3, 4, 5]

    history = json.loads(tw(db, server, "history", NCT, "--format", "json").stdout)
    assert [(h["observed_at"], h["source_kind"], h["source_version"]) for h in history] == [
        (f"{date}T00:00:00+00:00", "ctgov history", n) for n, (date, _, _) in enumerate(VERSIONS)
    ]
    assert [h["last_updated"] for h in history] == [date for date, _, _ in VERSIONS]
    assert [
        json.loads(labels) for (labels,) in query(db, "select module_labels from snapshots order by observed_utc")
    ] == [labels for _, labels, _ in VERSIONS]
    assert query(db, "select source_ref, outcome from checks order by id")[-1] == (
        f"{server.url}/api/int/studies/{NCT}/history/5",
        "changed",
    )

    groups = by_snapshot(db, server)
    assert [date for date, _ in groups] == [date for date, _, _ in VERSIONS[1:]]
    fields = [sorted(change["field"] for change in changes) for _, changes in groups]
    assert fields == [
        ["status"],
        ["start_date"],
        ["enrollment"],
        ["primary_completion_date"],
        ["locations", "locations", "status"],
    ]
    (status,), (start,), (enrollment,), (completion,), last = (changes for _, changes in groups)
    assert (status["old"], status["new"]) == ("NOT_YET_RECRUITING", "RECRUITING")
    assert (start["became_actual"], start["precision_changed"], start["shift_days"]) == (True, True, 0)
    assert (start["old_type"], start["new_type"]) == ("ESTIMATED", "ACTUAL")
    assert "moved" not in start["summary"]
    assert (enrollment["old"]["count"], enrollment["new"]["count"], enrollment["percent_change"]) == (60, 75, 25.0)
    assert completion["shift_days"] == 184 and "moved 184 days later" in completion["summary"]
    assert [(c["old"], c["new"]) for c in last if c["field"] == "status"] == [("RECRUITING", "ACTIVE_NOT_RECRUITING")]
    assert sorted(c["summary"] for c in last if c["field"] == "locations") == [
        "Site added: 'Institute of blood transfusion of Chinese Academy of Medical Sciences, Tianjin, China'",
        "Site added: 'The First Affiliated Hospital of Zhejiang University School of Medicine, Hanzhou, China'",
    ]


def test_a_second_backfill_asks_only_for_the_list_then_only_for_new_versions(tmp_path, server):
    db = tmp_path / "tw.db"
    assert tw(db, server, "backfill", NCT).exit_code == 0
    server.reset()
    again = tw(db, server, "backfill", NCT)
    assert again.exit_code == 0
    assert dict(server.hits) == {LIST_PATH: 1}
    assert "0 versions fetched" in again.stderr and "6 already stored" in again.stderr
    # The registry posts a seventh version: only that one is fetched.
    completed = _dated(copy.deepcopy(VERSIONS[-1][2]), "2024-12-30")
    completed["protocolSection"]["statusModule"]["overallStatus"] = "COMPLETED"
    serve_history(server, NCT, [*VERSIONS, ("2024-12-30", ["Study Status"], completed)])
    server.reset()
    assert tw(db, server, "backfill", NCT).exit_code == 0
    assert server.hits[LIST_PATH] == 1 and version_hits(server) == [6]
    assert query(db, "select count(*) from snapshots") == [(7,)]
    assert by_snapshot(db, server)[-1][1][0]["new"] == "COMPLETED"


def test_the_current_record_ingested_afterwards_is_no_new_snapshot(tmp_path, server):
    db = tmp_path / "tw.db"
    assert tw(db, server, "backfill", NCT).exit_code == 0
    ingested = tw(db, server, "ingest", NCT)
    assert ingested.exit_code == 0 and "1 unchanged" in ingested.stderr
    assert query(db, "select count(*), max(source_version) from snapshots") == [(6, 5)]


def test_the_current_record_ingested_before_is_the_newest_version_not_a_second_snapshot(tmp_path, server):
    db = tmp_path / "tw.db"
    assert tw(db, server, "ingest", NCT).exit_code == 0
    result = tw(db, server, "backfill", NCT)
    assert result.exit_code == 0, result.output
    assert "(1 new, 4 changed, 1 unchanged)" in result.stderr
    history = json.loads(tw(db, server, "history", NCT, "--format", "json").stdout)
    assert len(history) == 6
    # The tool's own snapshot now starts where the registry says that state began.
    assert (history[-1]["source_kind"], history[-1]["observed_at"]) == ("ctgov api", "2024-01-22T00:00:00+00:00")
    assert sorted(c["field"] for c in by_snapshot(db, server)[-1][1]) == ["locations", "locations", "status"]
    server.reset()
    assert "0 versions fetched" in tw(db, server, "backfill", NCT).stderr
    assert version_hits(server) == []


@pytest.mark.parametrize(
    "modules, fetched, warned",
    [
        ("Study Status", [0, 1, 2, 4, 5], False),
        ("study design, Nonsense", [0, 3, 5], True),
    ],
)
def test_modules_fetch_first_last_and_the_versions_touching_them(tmp_path, server, modules, fetched, warned):
    db = tmp_path / "tw.db"
    result = tw(db, server, "backfill", NCT, "--modules", modules)
    assert result.exit_code == 0, result.output
    assert version_hits(server) == fetched
    assert [v for (v,) in query(db, "select source_version from snapshots order by observed_utc")] == fetched
    assert (
        "warning: --modules 'Nonsense' matches no version's sections (sections seen: "
        "Contacts/Locations, Study Design, Study Status)" in result.stderr
    ) == warned
    # A full backfill later fills the gaps alone, and the changes after each gap are recomputed.
    server.reset()
    assert tw(db, server, "backfill", NCT).exit_code == 0
    assert version_hits(server) == sorted(set(range(6)) - set(fetched))
    assert [sorted(c["field"] for c in changes) for _, changes in by_snapshot(db, server)] == [
        ["status"],
        ["start_date"],
        ["enrollment"],
        ["primary_completion_date"],
        ["locations", "locations", "status"],
    ]


def test_a_refused_list_fails_that_trial_alone_and_keeps_what_it_had(tmp_path, server):
    db = tmp_path / "tw.db"
    assert tw(db, server, "backfill", NCT).exit_code == 0
    server.fail(403, times=2, path=LIST_PATH)  # refused through both transports
    result = tw(db, server, "backfill", NCT, OTHER)
    assert result.exit_code == 1
    failures = [line for line in result.stderr.splitlines() if line.startswith("failed:")]
    assert len(failures) == 1 and NCT in failures[0] and "HTTP 403" in failures[0]
    assert "Traceback" not in result.output
    assert query(db, "select nct_id, count(*) from snapshots group by nct_id order by nct_id") == [(OTHER, 2), (NCT, 6)]
    assert query(db, "select source_ref from checks where outcome = 'failed'") == [
        (f"{server.url}/api/int/studies/{NCT}?history=true",)
    ]


def test_a_missing_version_is_named_and_the_others_are_stored(tmp_path, server):
    db = tmp_path / "tw.db"
    del server.history_versions[(NCT, 3)]
    result = tw(db, server, "backfill", NCT)
    assert result.exit_code == 1
    assert f"failed: {NCT} version 3: ClinicalTrials.gov has no such version (HTTP 404)" in result.stderr
    assert "5 versions fetched" in result.stderr and "1 failed" in result.stderr
    assert [v for (v,) in query(db, "select source_version from snapshots order by observed_utc")] == [0, 1, 2, 4, 5]
    assert query(db, "select source_ref, error from checks where outcome = 'failed'") == [
        (
            f"{server.url}/api/int/studies/{NCT}/history/3",
            f"{NCT} version 3: ClinicalTrials.gov has no such version (HTTP 404)",
        )
    ]
    # Once the registry serves it, the next backfill fetches that version alone.
    server.history_versions[(NCT, 3)] = VERSIONS[3][2]
    server.reset()
    assert tw(db, server, "backfill", NCT).exit_code == 0
    assert version_hits(server) == [3]
    assert [sorted(c["field"] for c in changes) for _, changes in by_snapshot(db, server)][2:4] == [
        ["enrollment"],
        ["primary_completion_date"],
    ]


@pytest.mark.parametrize(
    "history, message",
    [
        (None, f"{NCT}: ClinicalTrials.gov has no version history for this trial (HTTP 404)"),
        ({"history": {"changes": []}}, f"{NCT}: ClinicalTrials.gov lists no versions of this trial"),
        ({"history": {"changes": [{"version": 0, "date": "27/09/2018"}]}}, f"{NCT} history: version 0 has no date"),
    ],
)
def test_a_trial_without_usable_history_is_one_clear_line(tmp_path, server, history, message):
    if history is None:
        del server.histories[NCT]
    else:
        server.histories[NCT] = history
    result = tw(tmp_path / "tw.db", server, "backfill", NCT)
    assert result.exit_code == 1
    assert f"failed: {message}" in result.stderr
    assert query(tmp_path / "tw.db", "select count(*) from snapshots") == [(0,)]


@pytest.mark.parametrize(
    "args, message",
    [
        (["NCT1234567"], "is not an NCT id"),
        ([NCT, "--modules", " , "], "name at least one section"),
    ],
)
def test_bad_usage_is_exit_2_before_any_request(tmp_path, server, args, message):
    result = tw(tmp_path / "tw.db", server, "backfill", *args)
    assert result.exit_code == 2 and message in result.stderr
    assert sum(server.hits.values()) == 0
    assert not (tmp_path / "tw.db").exists()


def test_the_library_reports_progress_and_results_per_trial(tmp_path, server):
    store = Store(str(tmp_path / "tw.db"))
    seen = []
    with Registry(server.url, rate=None) as registry:
        source = HistorySource(registry)
        results = backfill_many(
            store, source, [NCT, OTHER, NCT], progress=lambda phase, done, total: seen.append((phase, done, total))
        )
        assert seen == [("Listing versions", 1, 2), ("Listing versions", 2, 2)] + [
            ("Fetching versions", done, 8) for done in range(1, 9)
        ]
        assert [(r.nct_id, r.listed, r.fetched) for r in results] == [
            (NCT, [0, 1, 2, 3, 4, 5], {0: "new", 1: "changed", 2: "changed", 3: "changed", 4: "changed", 5: "changed"}),
            (OTHER, [0, 1], {0: "new", 1: "changed"}),
        ]
        again = backfill(store, source, NCT, modules=["Study Status"])
        assert (again.wanted, again.had, again.fetched, again.ok) == ([0, 1, 2, 4, 5], [0, 1, 2, 4, 5], {}, True)
    store.close()


def test_watch_add_backfill_fetches_the_history_now(tmp_path, server):
    db = tmp_path / "tw.db"
    result = tw(db, server, "watch", "add", NCT, "--backfill")
    assert result.exit_code == 0, result.output
    assert version_hits(server) == [0, 1, 2, 3, 4, 5]
    assert query(db, "select count(*) from snapshots where nct_id = ?", NCT) == [(6,)]
    assert query(db, "select backfill from watchlist") == [(2,)]
    # The first run finds the current record equal to the last version: no second snapshot, no news.
    server.version = {"apiVersion": "2.0.5", "dataTimestamp": "2025-06-01T09:00:00"}
    run = tw(db, server, "run")
    assert (run.exit_code, run.stdout) == (0, "")
    assert query(db, "select count(*) from snapshots where nct_id = ?", NCT) == [(6,)]
    assert version_hits(server) == [0, 1, 2, 3, 4, 5]  # a run does not backfill twice


def test_a_search_saved_with_backfill_backfills_its_new_matches_at_the_run(tmp_path, server):
    db = tmp_path / "tw.db"
    server.version = {"apiVersion": "2.0.5", "dataTimestamp": "2025-06-01T09:00:00"}
    condition = VERSIONS[-1][2]["protocolSection"]["conditionsModule"]["conditions"][0]
    assert (
        tw(db, server, "watch", "add", "--search", f"query.cond={condition}", "--name", "s", "--backfill").exit_code
        == 0
    )
    result = tw(db, server, "run", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [t["nct_id"] for t in report["new_trials"]] == [NCT]
    assert report["backfilled"] == [{"nct_id": NCT, "versions": 6}] and report["run"]["versions_backfilled"] == 6
    assert query(db, "select count(*) from snapshots where nct_id = ?", NCT) == [(6,)]
    assert query(db, "select nct_id, backfill from watchlist") == [(NCT, 2)]
    assert query(db, "select count(*) from changes where nct_id = ?", NCT)[0][0] > 0
    assert query(db, "select versions_backfilled from runs") == [(6,)]


def test_a_run_that_backfilled_says_so(tmp_path, server):
    """Even with nothing else new: the report names the trial and the versions, so cron mails it."""
    db = tmp_path / "tw.db"
    server.version = {"apiVersion": "2.0.5", "dataTimestamp": "2025-06-01T09:00:00"}
    server.fail(403, times=2, path=LIST_PATH)  # refused through both transports: it waits for the run
    assert tw(db, server, "watch", "add", NCT, "--backfill").exit_code == 1
    text = tw(db, server, "run")
    assert text.exit_code == 0, text.output
    assert "Backfilled\n  backfilled 6 versions of NCT05147467 from the registry's history\n" in text.stdout
    quiet = tw(db, server, "run", "--format", "markdown")
    assert quiet.stdout == ""  # nothing more to backfill, nothing changed


def test_a_refused_backfill_at_a_run_is_a_failure_and_is_tried_again(tmp_path, server):
    db = tmp_path / "tw.db"
    server.version = {"apiVersion": "2.0.5", "dataTimestamp": "2025-06-01T09:00:00"}
    server.fail(403, times=2, path=LIST_PATH)  # refused through both transports
    result = tw(db, server, "watch", "add", NCT, "--backfill")
    assert result.exit_code == 1 and NCT in result.stderr
    assert query(db, "select backfill from watchlist") == [(1,)]
    result = tw(db, server, "run")
    assert result.exit_code == 0, result.output
    assert query(db, "select backfill from watchlist") == [(2,)]
    assert query(db, "select count(*) from snapshots where nct_id = ?", NCT) == [(6,)]


def test_watch_add_backfill_works_on_the_trials_it_names_only(tmp_path, server):
    """Another trial's pending backfill is neither retried nor reported by `watch add X --backfill`."""
    db = tmp_path / "tw.db"
    server.fail(403, times=2, path=f"/api/int/studies/{OTHER}")
    waiting = tw(db, server, "watch", "add", OTHER, "--backfill")
    assert waiting.exit_code == 1 and OTHER in waiting.stderr
    server.reset()
    server.fail(503, times=50, path=f"/api/int/studies/{OTHER}")  # were it asked, it would fail again
    result = tw(db, server, "watch", "add", NCT, "--backfill")
    assert result.exit_code == 0, result.output
    assert OTHER not in result.output
    assert "history: 6 versions fetched for 1 trial" in result.stderr
    assert {path for path in server.hits if OTHER in path} == set()
    assert query(db, "select nct_id, backfill from watchlist order by nct_id") == [(OTHER, 1), (NCT, 2)]
    server.reset()
    server.version = {"apiVersion": "2.0.5", "dataTimestamp": "2025-06-01T09:00:00"}
    run = tw(db, server, "run")  # the run does the pending one
    assert run.exit_code == 0, run.output
    assert "backfilled 2 versions of NCT03281889" in run.stdout and NCT not in run.stdout.split("Backfilled")[1]
    assert query(db, "select nct_id, backfill from watchlist order by nct_id") == [(OTHER, 2), (NCT, 2)]
