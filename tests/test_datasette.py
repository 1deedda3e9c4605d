"""`trialwatch serve`: a real Datasette over a database the tool built, and a real browser on it.

The database: the 25 recorded studies ingested from a local ClinicalTrials.gov
(tests/registry_server.py), then a second import where a few studies changed (a status, a
primary completion date slipped 120 days, another one gaining day precision, enrollment cut
from an estimate to an actual half, results posted, a keyword added).  Before both, one trial
was seen from saved API files 40 and 20 days ago, its title corrected in between: the one
change older than a week.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner

from clirun import tw as run_cli
from registry_server import RegistryServer, load_studies
from trialwatch.cli import cli
from trialwatch.snapshots.datasette.serve import MISSING as DATASETTE_MISSING
from trialwatch.snapshots.store.codec import register
from trialwatch.snapshots.store.migrations import migrate, migrations

pytest.importorskip("datasette", reason="Datasette is an optional extra: pip install -e '.[test]'")
import yaml  # noqa: E402 - Datasette's dependency

ROOT = Path(__file__).resolve().parent.parent
METADATA = ROOT / "snapshots" / "datasette" / "metadata.yml"
CHROMIUM = Path("/usr/bin/chromium")
DB_NAME = "watch"  # not "trialwatch": serve must key the metadata by the database's own name

STATUS = "NCT04267848"  # RECRUITING → ACTIVE_NOT_RECRUITING, and a new keyword
SLIPPED = "NCT06008288"  # primary completion 2026-12-31 → +120 days
PRECISION = "NCT02513394"  # primary completion 2020-11 → 2020-11-30: a precision change, no slip
ENROLLMENT = "NCT06388018"  # enrollment 325 ESTIMATED → 162 ACTUAL
RESULTS = "NCT03418623"  # results posted
EARLY = "NCT00184067"  # seen from saved files 40 and 20 days ago, title corrected between
NEW_KEYWORD = "Zanzibarvaccinology"
SLIP_TO = (date(2026, 12, 31) + timedelta(days=120)).isoformat()


def _edit(study: dict, **changes) -> dict:
    study = copy.deepcopy(study)
    protocol = study["protocolSection"]
    if "status" in changes:
        protocol["statusModule"]["overallStatus"] = changes["status"]
    if "primary_completion" in changes:
        protocol["statusModule"]["primaryCompletionDateStruct"]["date"] = changes["primary_completion"]
    if "enrollment" in changes:
        protocol["designModule"]["enrollmentInfo"] = changes["enrollment"]
    if "keyword" in changes:
        protocol["conditionsModule"].setdefault("keywords", []).append(changes["keyword"])
    if "title" in changes:
        protocol["identificationModule"]["briefTitle"] = changes["title"]
    if "has_results" in changes:
        study["hasResults"] = changes["has_results"]
    return study


def tw(db, server, *args):
    result = run_cli(db, *args, url=server.url)
    assert result.exit_code == 0, result.output
    return result


def iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    folder = tmp_path_factory.mktemp("datasette")
    db = folder / f"{DB_NAME}.db"
    studies = load_studies()
    now = datetime.now(timezone.utc)
    with RegistryServer(studies) as server:
        early = folder / "early"
        early.mkdir()
        draft = early / "draft.json"
        draft.write_text(json.dumps(_edit(studies[EARLY], title="Continuation Booster Trial (draft title)")))
        final = early / "final.json"
        final.write_text(json.dumps(studies[EARLY]))
        tw(db, server, "ingest", draft, "--observed-at", iso(now - timedelta(days=40)))
        tw(db, server, "ingest", final, "--observed-at", iso(now - timedelta(days=20)))

        tw(db, server, "ingest", *sorted(studies))
        time.sleep(1.1)  # the second import is observed a second later
        server.studies[STATUS] = _edit(studies[STATUS], status="ACTIVE_NOT_RECRUITING", keyword=NEW_KEYWORD)
        server.studies[SLIPPED] = _edit(studies[SLIPPED], primary_completion=SLIP_TO)
        server.studies[PRECISION] = _edit(studies[PRECISION], primary_completion="2020-11-30")
        server.studies[ENROLLMENT] = _edit(studies[ENROLLMENT], enrollment={"count": 162, "type": "ACTUAL"})
        server.studies[RESULTS] = _edit(studies[RESULTS], has_results=True)
        result = tw(db, server, "ingest", *sorted(studies))
        assert "5 changed" in result.stderr
    return db


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def trialwatch_command() -> list[str]:
    script = Path(sys.executable).with_name("trialwatch")
    return [str(script)] if script.exists() else [sys.executable, "-m", "trialwatch"]


class Served:
    def __init__(self, base: str, log: Path):
        self.base = base
        self.log = log

    def url(self, path: str, **params) -> str:
        return self.base + path + ("?" + urllib.parse.urlencode(params) if params else "")

    def get(self, path: str, **params):
        with urllib.request.urlopen(self.url(path, **params), timeout=30) as response:
            return json.load(response)

    def rows(self, path: str, **params) -> list[dict]:
        return self.get(f"/{DB_NAME}/{path}.json", _shape="array", _size="max", **params)


@pytest.fixture(scope="module")
def served(database, tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*trialwatch_command(), "--db", str(database), "serve", "--port", str(port)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"trialwatch serve exited with {process.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(base + "/-/versions.json", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"Datasette did not answer within 60 s:\n{log.read_text()}")
                time.sleep(0.2)
        yield Served(base, log)
    finally:
        process.terminate()  # serve passes it on to Datasette
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# -- the server ----------------------------------------------------------------------------


def test_it_listens_on_localhost_only_and_shows_the_metadata(served):
    assert f"Uvicorn running on {served.base}" in served.log.read_text()
    metadata = served.get("/-/metadata.json")
    assert metadata["title"] == "trialwatch"
    assert list(metadata["databases"]) == [DB_NAME]
    database = served.get(f"/{DB_NAME}.json")
    assert {"trials", "snapshots", "changes", "check_log"} <= {t["name"] for t in database["tables"]}
    assert {"checks", "status_changes", "date_changes", "enrollment_changes", "recent_changes", "trial_timeline"} <= {
        v["name"] for v in database["views"]
    }


def test_tables(served, database):
    trials = served.rows("trials")
    assert len(trials) == 25
    covid = next(t for t in trials if t["nct_id"] == STATUS)
    assert covid["status"] == "ACTIVE_NOT_RECRUITING"
    assert covid["conditions"].startswith("Lung Non-Small Cell Carcinoma; Lung Non-Small Cell Squamous Carcinoma")
    assert NEW_KEYWORD in covid["keywords"]
    assert covid["sponsor"] == "National Cancer Institute (NCI)"
    assert covid["interventions"]

    snapshots = served.get(f"/{DB_NAME}/snapshots.json", _labels="on")
    assert snapshots["filtered_table_rows_count"] == 25 + 1 + 5
    assert snapshots["rows"][0]["nct_id"]["label"]  # the trial shown by its title

    changes = served.get(f"/{DB_NAME}/changes.json", _labels="on", _shape="array", field="status")
    assert len(changes) == 1
    assert changes[0]["nct_id"] == {"value": STATUS, "label": covid["title"]}
    assert changes[0]["summary"] == "Status RECRUITING → ACTIVE_NOT_RECRUITING"
    assert isinstance(changes[0]["snapshot_id"], dict) and changes[0]["snapshot_id"]["label"].endswith("+00:00")
    facets = served.get(f"/{DB_NAME}/changes.json")["facet_results"]
    assert {"category", "severity"} <= set(facets)


def test_views(served):
    status = served.rows("status_changes")
    assert [(r["nct_id"], r["old_status"], r["new_status"], r["severity"]) for r in status] == [
        (STATUS, "RECRUITING", "ACTIVE_NOT_RECRUITING", "notable")
    ]

    dates = {r["nct_id"]: r for r in served.rows("date_changes")}
    assert set(dates) == {SLIPPED, PRECISION}
    slip = dates[SLIPPED]
    assert (slip["field"], slip["old_date"], slip["new_date"], slip["shift_days"]) == (
        "primary_completion_date",
        "2026-12-31",
        SLIP_TO,
        120,
    )
    assert (slip["old_type"], slip["new_type"], slip["became_actual"], slip["precision_changed"]) == (
        "ESTIMATED",
        "ESTIMATED",
        0,
        0,
    )
    finer = dates[PRECISION]
    assert (finer["old_date"], finer["new_date"], finer["shift_days"], finer["precision_changed"]) == (
        "2020-11",
        "2020-11-30",
        0,
        1,
    )

    enrollment = served.rows("enrollment_changes")
    assert [
        (r["nct_id"], r["old_count"], r["new_count"], r["percent_change"], r["old_type"], r["new_type"])
        for r in enrollment
    ] == [(ENROLLMENT, 325, 162, -50.2, "ESTIMATED", "ACTUAL")]

    recent = served.rows("recent_changes")
    assert {r["nct_id"] for r in recent} == {STATUS, SLIPPED, PRECISION, ENROLLMENT, RESULTS, EARLY}
    assert recent[-1]["nct_id"] == EARLY and recent[-1]["field"] == "title"  # oldest last
    assert [r["observed_utc"] for r in recent] == sorted((r["observed_utc"] for r in recent), reverse=True)
    results = next(r for r in recent if r["nct_id"] == RESULTS)
    assert (results["summary"], results["category"], results["current_status"]) == (
        "Results posted",
        "results",
        "COMPLETED",
    )
    facets = served.get(f"/{DB_NAME}/recent_changes.json")["facet_results"]
    assert {"category", "severity", "current_status"} <= set(facets)

    timeline = served.rows("trial_timeline")
    assert len(timeline) == 31
    enrollment_timeline = served.rows("trial_timeline", nct_id=ENROLLMENT)
    assert [(r["enrollment_count"], r["enrollment_type"], r["status"]) for r in enrollment_timeline] == [
        (325, "ESTIMATED", "RECRUITING"),
        (162, "ACTUAL", "RECRUITING"),
    ]
    assert enrollment_timeline[0]["changes"] is None
    assert enrollment_timeline[1]["changes"].startswith("Enrollment 325 → 162 (-50.2%)")
    assert enrollment_timeline[1]["start_date"] and enrollment_timeline[1]["primary_completion_date"]


def test_canned_queries(served):
    recent = served.rows("changes_in_last_days")
    assert {r["nct_id"] for r in recent} == {STATUS, SLIPPED, PRECISION, ENROLLMENT, RESULTS}
    month = served.rows("changes_in_last_days", days=30)
    assert {r["nct_id"] for r in month} == {STATUS, SLIPPED, PRECISION, ENROLLMENT, RESULTS, EARLY}

    slipped = served.rows("primary_completion_slipped")
    assert [(r["nct_id"], r["first_seen_date"], r["primary_completion_date"], r["slip_days"]) for r in slipped] == [
        (SLIPPED, "2026-12-31", SLIP_TO, 120)
    ]
    assert served.rows("primary_completion_slipped", days=121) == []
    # 2020-11 → 2020-11-30 is the same month: no slip, however small the threshold.
    assert [r["nct_id"] for r in served.rows("primary_completion_slipped", days=0)] == [SLIPPED, PRECISION]
    assert [r["nct_id"] for r in served.rows("primary_completion_slipped", days=1)] == [SLIPPED]

    shortfalls = served.rows("enrollment_shortfalls")
    assert [
        (r["nct_id"], r["actual_enrollment"], r["largest_estimate"], r["percent_of_estimate"]) for r in shortfalls
    ] == [(ENROLLMENT, 162, 325, 49.8)]
    assert served.rows("enrollment_shortfalls", percent=40) == []

    overdue = served.rows("still_recruiting_after_primary_completion", as_of="2026-08-15")
    assert [(r["nct_id"], r["status"]) for r in overdue] == [
        ("NCT03281889", "RECRUITING"),
        ("NCT05147467", "RECRUITING"),
        ("NCT06171568", "NOT_YET_RECRUITING"),
    ]
    assert STATUS not in {r["nct_id"] for r in overdue}  # no longer recruiting
    # A month-precision date (NCT05147467: 2024-09) passes when its month ends.
    assert "NCT05147467" not in {
        r["nct_id"] for r in served.rows("still_recruiting_after_primary_completion", as_of="2024-09-30")
    }
    october = {r["nct_id"]: r for r in served.rows("still_recruiting_after_primary_completion", as_of="2024-10-01")}
    assert october["NCT05147467"]["days_overdue"] == 1
    assert "NCT03281889" in {
        r["nct_id"] for r in served.rows("still_recruiting_after_primary_completion")
    }  # as of today

    timeline = served.rows("trial_timeline_of", nct_id=STATUS.lower())
    assert list(timeline[0]) == ["date", "status", "enrollment", "start", "primary_completion", "completion", "changes"]
    assert [(r["status"], r["changes"]) for r in timeline][0] == ("RECRUITING", None)
    assert timeline[1]["changes"].splitlines() == [
        "Status RECRUITING → ACTIVE_NOT_RECRUITING",
        f"Keywords: added '{NEW_KEYWORD}'",
    ]
    assert timeline[0]["date"] == timeline[0]["date"][:10] and timeline[0]["enrollment"].endswith((" est.", " actual"))
    early = served.rows("trial_timeline_of", nct_id=EARLY)
    title = load_studies()[EARLY]["protocolSection"]["identificationModule"]["briefTitle"]
    assert early[1]["changes"].startswith(f"Title Continuation Booster Trial (draft title) → {title[:40]}")


def test_full_text_search_finds_trials_by_condition_keyword_intervention_and_sponsor(served):
    def found(term):
        return {r["nct_id"] for r in served.rows("trials", _search=term)}

    assert found("abdominoplasty") == {"NCT04207047"}  # a condition, not in the title
    assert found(NEW_KEYWORD) == {STATUS}  # added by the second import: triggers kept it current
    assert found("repaglinide") == {"NCT00763412"}  # an intervention
    assert "NCT00567567" in found("Children's Oncology Group")  # a sponsor
    assert found("dupilumab") == {"NCT02210780"}


def test_writes_are_refused(served, database):
    def post(path, data: bytes, content_type="application/x-www-form-urlencoded"):
        request = urllib.request.Request(
            served.base + path, data=data, method="POST", headers={"Content-Type": content_type}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    before = sqlite3.connect(database).execute("select count(*) from trials").fetchone()[0]
    insert = "insert into trials (nct_id, title) values ('NCT99999999', 'x')"
    assert post(f"/{DB_NAME}/trials", urllib.parse.urlencode({"nct_id": "NCT99999999"}).encode()) >= 400
    assert post(f"/{DB_NAME}", urllib.parse.urlencode({"sql": insert}).encode()) >= 400
    assert (
        post(f"/{DB_NAME}/trials/-/insert", json.dumps({"row": {"nct_id": "NCT99999999"}}).encode(), "application/json")
        >= 400
    )
    assert (
        post(f"/{DB_NAME}/-/create", json.dumps({"table": "x", "rows": [{"a": 1}]}).encode(), "application/json") >= 400
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        served.get(f"/{DB_NAME}.json", sql=insert)
    assert refused.value.code == 400
    with sqlite3.connect(database) as conn:
        assert conn.execute("select count(*) from trials").fetchone()[0] == before
        assert conn.execute("select count(*) from trials where nct_id = 'NCT99999999'").fetchone()[0] == 0
        assert "x" not in {row[0] for row in conn.execute("select name from sqlite_master")}


# -- a real browser --------------------------------------------------------------------------


def chromium(url: str, user_data: Path, *extra: str) -> str:
    result = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            f"--user-data-dir={user_data}",
            "--window-size=1400,1000",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed; .ci/run installs it")
def test_a_browser_shows_recent_changes_and_a_trial_timeline(served, tmp_path):
    title = next(t for t in served.rows("trials") if t["nct_id"] == STATUS)["title"]
    pages = {
        "recent_changes": served.url(f"/{DB_NAME}/recent_changes"),
        "timeline": served.url(f"/{DB_NAME}/trial_timeline_of", nct_id=STATUS),
    }
    doms = {}
    for name, url in pages.items():
        doms[name] = chromium(url, tmp_path / f"profile-{name}", "--dump-dom")
        shot = tmp_path / f"{name}.png"
        chromium(url, tmp_path / f"profile-{name}-shot", f"--screenshot={shot}")
        assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    recent = doms["recent_changes"]
    assert "Every change with its trial" in recent  # the view's description
    assert title in recent
    assert "Status RECRUITING → ACTIVE_NOT_RECRUITING" in recent
    assert "Results posted" in recent
    assert "moved 120 days later" in recent

    timeline = doms["timeline"]
    assert "Timeline of one trial" in timeline
    assert title not in timeline  # not repeated on every row: the trial's page names it
    assert "ACTIVE_NOT_RECRUITING" in timeline and "RECRUITING" in timeline
    assert "Status RECRUITING → ACTIVE_NOT_RECRUITING" in timeline


# -- without a server ------------------------------------------------------------------------


def test_without_datasette_serve_says_how_to_get_it(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "datasette" else real(name, *a))
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "tw.db"), "serve"])
    assert result.exit_code == 2
    assert result.stderr == DATASETTE_MISSING + "\n"
    assert DATASETTE_MISSING == "trialwatch serve needs Datasette: pip install '.[datasette]' in trialwatch's checkout"
    assert not (tmp_path / "tw.db").exists()


def test_serve_on_a_missing_database_is_exit_2(tmp_path):
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "missing.db"), "serve"])
    assert result.exit_code == 2 and "no such database" in result.stderr
    assert not (tmp_path / "missing.db").exists()


def test_metadata_path_points_at_the_shipped_file():
    result = CliRunner().invoke(cli, ["serve", "--metadata-path"])
    assert result.exit_code == 0
    path = Path(result.stdout.strip())
    assert path.samefile(METADATA)


def test_every_table_view_and_column_a_user_sees_is_described(database):
    metadata = yaml.safe_load(METADATA.read_text())
    assert metadata["title"] and metadata["description"]
    described = metadata["databases"]["trialwatch"]["tables"]
    conn = sqlite3.connect(database)
    register(conn)  # the views read records through trialwatch_record()
    names = [
        name
        for (name,) in conn.execute(
            "select name from sqlite_master where type in ('table', 'view') and name not like 'trials_fts%' "
            "and name not like 'sqlite_%' and name != '_sqlite_migrations'"
        )
    ]
    for name in names:
        assert described.get(name, {}).get("description"), f"{name} has no description"
        columns = [row[1] for row in conn.execute(f"pragma table_info([{name}])")]
        missing = [c for c in columns if not described[name].get("columns", {}).get(c)]
        assert not missing, f"{name}: columns without a description: {missing}"
    assert described["trials"]["label_column"] == "title"
    assert described["snapshots"]["label_column"] == "observed_utc"
    assert {"category", "severity"} <= set(described["changes"]["facets"])
    assert "status" in described["trials"]["facets"]
    queries = metadata["databases"]["trialwatch"]["queries"]
    assert len(queries) >= 5
    for name, query in queries.items():
        description = query.get("description_html") or query.get("description")
        assert query["title"] and description, name
        assert "`" not in description, f"{name}: backticks show literally in Datasette"
        assert not query.get("write"), name
        assert all(f":{param}" in query["sql"] for param in query["params"]), name


def test_an_upgraded_database_ends_like_a_fresh_one(database, tmp_path):
    """A database made before m003 gets the same schema, search columns and index."""
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old, isolation_level=None)
    db = sqlite_utils.Database(conn)
    migrations.apply(db, stop_before="m003_datasette")
    source = sqlite3.connect(database)
    register(source)  # records as an old release stored them: JSON text, the raw input apart
    as_stored_then = {"record": "trialwatch_record(id)", "raw": "trialwatch_raw(id)", "raw_encoding": "null"}
    for table in ("trials", "snapshots", "changes", "checks"):  # the columns the old schema has
        columns = [row[1] for row in conn.execute(f"pragma main.table_info({table})")]
        listed = ", ".join(as_stored_then.get(c, c) if table == "snapshots" else c for c in columns)
        rows = source.execute(f"select {listed} from {table}").fetchall()
        marks = ", ".join("?" for _ in columns)
        conn.executemany(f"insert into main.{table} ({', '.join(columns)}) values ({marks})", rows)
    source.close()
    migrate(db)

    def schema(connection):
        return sorted(
            connection.execute(
                "select type, name, sql from sqlite_master where name != '_sqlite_migrations'"
            ).fetchall(),
            key=str,
        )

    fresh = sqlite3.connect(database)
    assert schema(conn) == schema(fresh)
    assert (
        conn.execute("select * from trials order by nct_id").fetchall()
        == fresh.execute("select * from trials order by nct_id").fetchall()
    )
    search = (
        "select t.nct_id from trials_fts f join trials t on t.rowid = f.rowid "
        "where trials_fts match ? order by t.nct_id"
    )
    for term in ("abdominoplasty", NEW_KEYWORD, "repaglinide", "cancer"):
        assert conn.execute(search, [term]).fetchall() == fresh.execute(search, [term]).fetchall() != []


# -- trialwatch's pages: a trial's picture and links, feeds, readable pages at 1366 × 768 -------


def test_the_picture_and_feed_routes(served):
    with urllib.request.urlopen(served.url(f"/-/trialwatch/{DB_NAME}/{STATUS}/timeline.svg"), timeout=60) as answer:
        assert answer.headers["Content-Type"].startswith("image/svg+xml")
        svg = answer.read().decode()
    assert "status-0-RECRUITING" in svg and "status-1-ACTIVE_NOT_RECRUITING" in svg and "change-0-notable" in svg
    for path in (f"/-/trialwatch/{DB_NAME}/NCT00000001/timeline.svg", "/-/trialwatch/nodb/feed.atom"):
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(served.url(path), timeout=30)
        assert missing.value.code == 404

    import feedparser

    def feed(**params):
        with urllib.request.urlopen(served.url(f"/-/trialwatch/{DB_NAME}/feed.atom", **params), timeout=60) as answer:
            assert answer.headers["Content-Type"].startswith("application/atom+xml")
            parsed = feedparser.parse(answer.read())
        assert not parsed.bozo and parsed.version == "atom10"
        return parsed

    notable = feed(all="1", severity="notable")
    assert notable.feed.title == "trialwatch: notable changes of every trial"
    assert {e.link for e in notable.entries} >= {served.url(f"/{DB_NAME}/trials/{STATUS}")}
    assert [e.id for e in feed(all="1", severity="notable").entries] == [e.id for e in notable.entries]
    one = feed(nct=STATUS)
    assert len(one.entries) == 2 and all(e.title.startswith(f"{STATUS} Testing the Addition") for e in one.entries)
    assert feed().entries == []  # the watched trials: none in this database
    with pytest.raises(urllib.error.HTTPError) as bad:
        urllib.request.urlopen(served.url(f"/-/trialwatch/{DB_NAME}/feed.atom", severity="grave"), timeout=30)
    assert bad.value.code == 400


VISIBLE = """(selector => Array.from(document.querySelectorAll(selector)).filter(e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth;
}).map(e => e.innerText || e.getAttribute('src') || e.id))"""


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed; .ci/run installs it")
def test_at_1366_by_768_the_pages_show_what_matters_without_scrolling(served, tmp_path):
    from browser import Browser

    title = next(t for t in served.rows("trials") if t["nct_id"] == STATUS)["title"]
    browser = Browser(tmp_path / "profile", 1366, 768)
    try:

        def look(path: str, name: str) -> None:
            browser.open(served.url(path))
            browser.screenshot(tmp_path / f"{name}.png")
            assert browser.evaluate("document.documentElement.scrollWidth <= innerWidth"), f"{name} scrolls sideways"

        def visible(selector: str) -> list:
            return browser.evaluate(f"{VISIBLE}({json.dumps(selector)})")

        # The trial's page: which trial, its links, and its picture, all in the first screen.
        look(f"/{DB_NAME}/trials/{STATUS}", "trial")
        assert visible(".trialwatch-trial h1") == [f"{STATUS}: {title}"]
        assert {"Timeline", "Timeline picture (SVG)", "Feed of its changes (Atom)"} <= set(
            visible(".trialwatch-links a")
        )
        assert browser.evaluate("document.querySelector('img.trialwatch-picture').naturalWidth") >= 900
        top = browser.evaluate("document.querySelector('img.trialwatch-picture').getBoundingClientRect().top")
        assert top < 300  # the picture starts in the first screen

        # The picture itself, as a browser renders it.
        look(f"/-/trialwatch/{DB_NAME}/{STATUS}/timeline.svg", "picture")
        assert browser.evaluate("document.documentElement.tagName") == "svg"
        assert browser.evaluate("document.getElementById('status-1-ACTIVE_NOT_RECRUITING').getBBox().width") > 100

        # Its timeline: date, status, enrollment, dates and the changes, no title column, no sideways scroll.
        look(f"/{DB_NAME}/trial_timeline_of?nct_id={STATUS}", "timeline")
        headers = visible("table.rows-and-columns th")
        assert headers == ["date", "status", "enrollment", "start", "primary_completion", "completion", "changes"]
        cells = visible("table.rows-and-columns td.col-changes")
        assert any("Status RECRUITING → ACTIVE_NOT_RECRUITING" in cell for cell in cells)
        assert not browser.evaluate("document.body.innerText.includes('`')")

        # A table page opens with rows; the column descriptions are folded, one click away.
        look(f"/{DB_NAME}/changes", "changes")
        first_row = "document.querySelector('table.rows-and-columns tbody tr').getBoundingClientRect().top"
        assert browser.evaluate(first_row) < 700, "no row of changes in the first screen"
        assert visible("details.trialwatch-columns summary") == ["What the 20 columns mean"]
        assert not browser.evaluate("document.querySelector('details.trialwatch-columns').open")

        # The home page links to where to start, in this database.
        look("/", "home")
        hrefs = browser.evaluate(
            "Array.from(document.querySelectorAll('.metadata-description a')).map(a => a.pathname)"
        )
        assert {f"/{DB_NAME}/recent_changes", f"/{DB_NAME}/trials", f"/-/trialwatch/{DB_NAME}/feed.atom"} <= set(hrefs)
    finally:
        browser.close()
