"""Findings through the store and the command line: the findings table kept current by the jobs
that change timelines, `trialwatch findings` (read only, every format, --as-of, --refresh),
findings that newly hold as `trialwatch run` news, and the Datasette views and canned queries
over a database built from the 25 real records."""

from __future__ import annotations

import copy
import csv
import io
import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest
import yaml

from clirun import tw
from registry_server import RegistryServer, load_studies
from trialwatch.ingest.ctgov import map_study
from trialwatch.ingest.http import Registry
from trialwatch.ingest.registry import RegistrySource
from trialwatch.snapshots.findings.definitions import NAMES
from trialwatch.snapshots.findings.fdaaa import schedule
from trialwatch.snapshots.jobs.findings import compute, refresh
from trialwatch.snapshots.jobs.run import run
from trialwatch.snapshots.reports.render import render_run
from trialwatch.snapshots.store.store import Store

ROOT = Path(__file__).resolve().parent.parent
STUDIES = ROOT / "tests" / "fixtures" / "ctgov" / "studies"
METADATA = yaml.safe_load((ROOT / "snapshots" / "datasette" / "metadata.yml").read_text())["databases"]["trialwatch"]
OVERDUE = "NCT03281889"  # device trial, primary completion 2022-03-31 (estimated), still recruiting, no results


def query(db, sql, params=()):
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(sql, params)]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("findings") / "tw.db"
    result = tw(path, "ingest", STUDIES)
    assert result.exit_code == 0, result.output
    return path


def test_ingest_fills_the_findings_table_with_every_rule_of_every_trial(db):
    assert query(db, "select count(*) as n from findings")[0]["n"] == 25 * len(NAMES)
    assert query(db, "select count(distinct evaluated_on) as n from findings_state")[0]["n"] == 1
    store = Store(db)
    try:
        stored = store.findings.stored(OVERDUE)
        assert stored == compute(store, OVERDUE, date.fromisoformat(stored[0]["as_of"]["evaluated_on"]))
    finally:
        store.close()


def test_findings_lists_what_holds_and_all_lists_every_rule(db):
    holding = json.loads(tw(db, "findings", "--format", "json").stdout)
    assert holding and all(f["holds"] is True for f in holding)
    assert {"nct_id": OVERDUE, "finding": "results_overdue"} in [
        {k: f[k] for k in ("nct_id", "finding")} for f in holding
    ]
    every = json.loads(tw(db, "findings", OVERDUE, "--all", "--format", "json").stdout)
    assert [f["finding"] for f in every] == list(NAMES)
    overdue = next(f for f in every if f["finding"] == "results_overdue")
    assert overdue["value"]["due_date"] == "2023-03-31" and overdue["evidence"][0]["role"] == "current record"
    assert overdue["as_of"]["text"].startswith("no history before 2021-01-0")


def test_the_formats_and_the_finding_filter(db):
    text = tw(db, "findings", OVERDUE, "--finding", "results_overdue").stdout
    assert text.splitlines()[0].startswith(f"{OVERDUE} · no history before") and "results_overdue" in text
    assert "stale_status" not in text
    rows = list(csv.DictReader(io.StringIO(tw(db, "findings", "--all", "--format", "csv").stdout)))
    assert len(rows) == 25 * len(NAMES) and {"value", "evidence", "snapshot_ids", "evaluated_on"} <= set(rows[0])
    markdown = tw(db, "findings", OVERDUE, "--format", "markdown").stdout
    assert markdown.startswith(f"### {OVERDUE}") and "| results_overdue" in markdown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["NCT99999999"], "not in"),
        (["NCT123"], "NCT"),
        (["--as-of", "yesterday"], "--as-of"),
        (["--as-of", "2025-02-30"], "2025-02-30"),
        (["--finding", "nonsense"], "nonsense"),
        (["--shortfall-below", "0"], "shortfall"),
    ],
)
def test_bad_usage_is_one_line_exit_2_and_writes_nothing(db, args, message):
    before = db.read_bytes()
    result = tw(db, "findings", *args)
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert db.read_bytes() == before


def test_reading_writes_nothing_and_evaluates_stale_trials_afresh(tmp_path):
    path = tmp_path / "tw.db"
    tw(path, "ingest", STUDIES / f"{OVERDUE}.json")
    with sqlite3.connect(path) as conn:
        conn.execute("update findings set summary = 'stale' ")
        conn.execute("update findings_state set evaluated_on = '2020-01-01'")  # evaluated another day
    found = json.loads(tw(path, "findings", "--all", "--format", "json").stdout)
    assert "stale" not in {f["summary"] for f in found}
    assert query(path, "select evaluated_on from findings_state")[0]["evaluated_on"] == "2020-01-01"
    stored = tw(path, "findings", "--refresh")
    assert "1 trials' findings stored" in stored.stderr
    assert query(path, "select count(*) as n from findings where summary = 'stale'")[0]["n"] == 0


def test_as_of_reads_the_timeline_as_it_stood_that_day(tmp_path):
    study = json.loads((STUDIES / f"{OVERDUE}.json").read_text())
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    first.write_text(json.dumps(study))
    switched = copy.deepcopy(study)
    outcomes = switched["protocolSection"]["outcomesModule"]
    outcomes["primaryOutcomes"] = [{"measure": "Device-related serious adverse events", "timeFrame": "1 year"}]
    switched["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"] = {"date": "2021-06-01", "type": "ACTUAL"}
    switched["protocolSection"]["statusModule"]["lastUpdateSubmitDate"] = "2021-05-28"
    second.write_text(json.dumps(switched))
    path = tmp_path / "tw.db"
    assert tw(path, "ingest", first, "--observed-at", "2021-01-10").exit_code == 0
    assert tw(path, "ingest", second, "--observed-at", "2021-06-02").exit_code == 0
    now = {f["finding"]: f for f in json.loads(tw(path, "findings", OVERDUE, "--all", "--format", "json").stdout)}
    assert now["primary_outcome_changed"]["holds"] is True and now["primary_outcome_changed"]["class"] == "major"
    assert now["primary_outcome_changed"]["complete"] is False  # no version from before the 2018 start
    then = {
        f["finding"]: f
        for f in json.loads(tw(path, "findings", OVERDUE, "--all", "--as-of", "2021-03-01", "--format", "json").stdout)
    }
    assert then["primary_outcome_changed"]["holds"] is None  # one observation of the outcomes by then
    assert then["results_due"]["class"] == "not_yet_due" and now["results_due"]["class"] == "overdue"
    assert then["results_due"]["as_of"]["evaluated_on"] == "2021-03-01"


def test_refresh_evaluates_a_trial_again_only_when_its_timeline_or_the_day_changed(tmp_path):
    path = tmp_path / "tw.db"
    tw(path, "ingest", STUDIES / f"{OVERDUE}.json")
    store = Store(path)
    try:
        today = date.fromisoformat(query(path, "select evaluated_on from findings_state")[0]["evaluated_on"])
        assert refresh(store, on=today) == 0
        assert refresh(store, on=date(2030, 1, 1)) == 1  # another day: time-bound findings move
        assert refresh(store, on=date(2030, 1, 1)) == 0
        record = store.record_at(OVERDUE)
        record["status"] = "ACTIVE_NOT_RECRUITING"
        store.save(record, source_kind="ctgov api")
        assert refresh(store, [OVERDUE], on=date(2030, 1, 1)) == 1  # a new snapshot: a new timeline
    finally:
        store.close()


# -- run news ----------------------------------------------------------------------------------


def test_run_reports_findings_that_newly_hold_as_news(tmp_path):
    studies = {OVERDUE: load_studies()[OVERDUE]}
    with RegistryServer(
        copy.deepcopy(studies), version={"apiVersion": "2.0.5", "dataTimestamp": "2023-04-15T09:00:00"}
    ) as server:
        store = Store(tmp_path / "tw.db")
        source = RegistrySource(Registry(server.url, rate=None, backoff=0.01))
        store.watchlist.add([OVERDUE])
        before = run(store, source, now="2023-03-30T15:00:00+00:00")
        assert before.findings == []  # the first findings are the baseline: not yet due
        first = run(store, source, now="2023-04-15T15:00:00+00:00")
        assert [(n["finding"], n["severity"], n["headline"]) for n in first.findings] == [
            ("results_due", "notable", "results now due")
        ]
        assert store.findings.stored(OVERDUE)[5]["class"] == "due_in_grace"

        later = run(store, source, now="2023-05-01T15:00:00+00:00")  # nothing new in the registry, a day later
        assert later.skipped and [(n["finding"], n["severity"]) for n in later.findings] == [
            ("results_overdue", "critical")
        ]
        assert later.findings[0]["headline"] == "results now overdue"
        text = render_run(later, "text")
        assert "Findings" in text and "critical  results now overdue: no results 31 days after" in text
        assert json.loads(render_run(later, "json"))["findings"][0]["finding"] == "results_overdue"
        assert run(store, source, now="2023-05-01T16:00:00+00:00").findings == []  # reported once

        study = server.studies[OVERDUE]
        study["protocolSection"]["outcomesModule"]["primaryOutcomes"] = [
            {"measure": "Device success", "timeFrame": "30 days"}
        ]
        study["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"] = {"date": "2023-05-03", "type": "ACTUAL"}
        server.version = {"apiVersion": "2.0.5", "dataTimestamp": "2023-05-03T09:00:00"}
        switched = run(store, source, now="2023-05-03T15:00:00+00:00")
        news = {n["finding"]: n for n in switched.findings}
        assert news["primary_outcome_changed"]["headline"] == "primary outcome changed after start (major)"
        assert news["primary_outcome_changed"]["severity"] == "critical"
        markdown = render_run(switched, "markdown")
        assert "## Findings" in markdown and "- **critical** · primary outcome changed after start (major)" in markdown
        store.close()


# -- Datasette ---------------------------------------------------------------------------------


def test_the_findings_pages_list_every_definition_made_from_the_code():
    import html
    import subprocess
    import sys

    from trialwatch.snapshots.findings.definitions import DEFINITIONS

    checked = subprocess.run(
        [sys.executable, "-m", "cogapp", "--check", "snapshots/datasette/metadata.yml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, "run `cog -r snapshots/datasette/metadata.yml`\n" + checked.stdout + checked.stderr
    for table in ("findings", "findings_holding"):
        page = METADATA["tables"][table]["description_html"]
        for definition in DEFINITIONS:
            assert html.escape(definition.definition, quote=False) in page and definition.name in page, (
                table,
                definition.name,
            )


def test_every_findings_view_answers_and_says_how_its_finding_is_defined(db):
    from trialwatch.snapshots.findings.definitions import BY_NAME

    views = {
        "outcome_switches": "primary_outcome_changed",
        "retroactively_prospective_trials": "retroactively_prospective",
        "slippage_distribution": "primary_completion_slippage",
        "overdue_results_by_sponsor": "results_due",
    }
    for view, finding in views.items():
        description = " ".join(METADATA["tables"][view]["description"].split())
        assert BY_NAME[finding].definition in description, view
        query(db, f"select * from [{view}]")
    holding = query(db, "select * from findings_holding")
    assert {row["finding"] for row in holding} >= {"results_overdue", "registered_retrospectively"}
    by_sponsor = {row["sponsor"]: row for row in query(db, "select * from overdue_results_by_sponsor")}
    assert sum(row["applicable_trials"] for row in by_sponsor.values()) == 16  # as checked by hand
    assert sum(row["overdue"] for row in by_sponsor.values()) == 4  # NCT00184067, NCT03281889, NCT03418623, NCT04207047


@pytest.mark.parametrize(
    ("name", "params", "expected"),
    [
        ("results_overdue_on", {"as_of": "2026-11-29"}, {"NCT00184067", "NCT03281889", "NCT03418623", "NCT04207047"}),
        ("results_overdue_on", {"as_of": "2020-01-01"}, "overdue on 2020-01-01"),
        ("findings_of", {"nct_id": OVERDUE.lower()}, None),
        ("slipped_since_registration", {"days": ""}, set()),
        ("enrollment_below_first_estimate", {"percent": ""}, set()),
    ],
)
def test_the_canned_queries_answer(db, name, params, expected):
    rows = query(db, METADATA["queries"][name]["sql"], params)
    if name == "findings_of":
        assert [row["finding"] for row in rows] == list(NAMES)
    elif isinstance(expected, str):  # the rule itself, on each current record, on that day
        day = date.fromisoformat(params["as_of"])
        records = {p.stem: map_study(json.loads(p.read_text())) for p in STUDIES.glob("*.json")}
        overdue = {nct for nct, record in records.items() if schedule(record, day)["status"] == "overdue"}
        assert {row["nct_id"] for row in rows} == overdue and len(overdue) == 5
    else:
        assert {row["nct_id"] for row in rows} == expected


def test_a_backfill_gives_the_findings_of_the_whole_history(tmp_path):
    from test_backfill import NCT, VERSIONS, serve_history

    path = tmp_path / "tw.db"
    with RegistryServer() as server:
        serve_history(server, NCT, VERSIONS)
        assert tw(path, "backfill", NCT, url=server.url).exit_code == 0
    assert query(path, "select count(*) as n from findings where nct_id = ?", [NCT])[0]["n"] == len(NAMES)
    found = {f["finding"]: f for f in json.loads(tw(path, "findings", NCT, "--all", "--format", "json").stdout)}
    checked = query(path, "select max(checked_utc) as at from checks")[0]["at"][:10]  # the version list, read today
    for finding in found.values():
        assert finding["as_of"]["text"] == f"history from registration (2021-11-24) to {checked}"
    slip = found["primary_completion_slippage"]
    assert (slip["holds"], slip["days"], slip["complete"]) == (True, 184, True)  # 2024-03 → 2024-09
    assert slip["value"]["postponements"] == 1 and slip["value"]["first_shown_in"] == "v0 2021-11-24"
    enrolled = found["enrollment_vs_first_estimate"]
    assert (enrolled["holds"], enrolled["percent"]) == (False, 125.0)  # 75 of the first 60
    retro = found["registered_retrospectively"]
    assert (retro["holds"], retro["class"], retro["complete"]) == (False, "prospective", True)  # 2021-11-24 vs 2021-12
    churn = found["site_churn"]
    assert (churn["holds"], churn["class"]) == (False, "sites_added")
    assert churn["value"]["first_sites"] == 9 and churn["value"]["sites_removed"] == 0


def test_what_counts_as_news():
    from trialwatch.snapshots.jobs.findings import newly_holding

    def finding(name, cls, holds=True):
        return {
            "nct_id": OVERDUE,
            "finding": name,
            "class": cls,
            "holds": holds,
            "summary": "…",
            "days": None,
            "percent": None,
            "value": {"timing": "after_start"},
        }

    assert newly_holding(set(), [finding("primary_outcome_changed", "minor")])[0]["severity"] == "notable"
    escalated = newly_holding({("primary_outcome_changed", "minor")}, [finding("primary_outcome_changed", "major")])
    assert [(n["headline"], n["severity"]) for n in escalated] == [
        ("primary outcome changed after start (major)", "critical")
    ]
    assert (
        newly_holding({("primary_completion_slippage", "slipped")}, [finding("primary_completion_slippage", "slipped")])
        == []
    )
    assert (
        newly_holding({("results_due", "due_in_grace")}, [finding("results_due", "overdue")]) == []
    )  # a class, not news
    assert newly_holding(set(), [finding("results_due", "reported_on_time")]) == []  # deadline passed after results
    assert newly_holding(set(), [finding("site_churn", "sites_added", holds=False)]) == []
