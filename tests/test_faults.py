"""Faults: a misbehaving registry, processes killed at random moments, a reader during writes.

Every test here runs the real thing: `trialwatch run` and `trialwatch ingest` (in process
through click, or as real processes to be killed), a real local ClinicalTrials.gov
(tests/registry_server.py) and real SQLite files.

The registry faults run `trialwatch run` in process with the CLI's own client, its 5 tries a
request and its retry rules, but waiting 0.05 s (not 1 s) before the first retry and 1 s (not
30 s) for an answer, so that the file runs in seconds: `fast_registry` below.

The figures the README's Reliability section quotes (faults injected, kills attempted, and the
floors asserted for kills landing mid-work and reads during a write) are checked against
tests/figures.json when the module ends (tests/figures.py).
"""

from __future__ import annotations

import copy
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import trialwatch.cli
from clirun import tw as run_cli
from dbcheck import consistent, ingest_state, write_corpus
from figures import check, floor
from registry_server import RegistryServer, load_studies, synthetic_studies

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "NCT06731192.txt"
EDITED = ROOT / "tests" / "fixtures" / "edits" / "NCT06731192.edited.txt"
STUDIES = load_studies()
WATCHED = sorted(STUDIES)
VERSION = {"apiVersion": "2.0.5", "dataTimestamp": "2025-06-01T09:00:00"}
MAX_TRIES = 5  # the CLI's: Registry(max_tries=5)

BATCH = "/api/v2/studies"
VERSION_PATH = "/api/v2/version"
POISONED = "NCT03281889"  # a trial whose record the registry cannot serve
ONE = "NCT05147467"  # left out of batch answers, so it is fetched alone: a fault for one trial
ONE_PATH = f"/api/v2/studies/{ONE}"
MISSING = "NCT02999999"  # sorts mid-batch; the registry lacks it until the next run
MISSING_PATH = f"/api/v2/studies/{MISSING}"

FIGURES: Counter = Counter()


@pytest.fixture(scope="module", autouse=True)
def figures(request):
    """The counts and floors the README quotes (tests/figures.py)."""
    yield FIGURES
    check(request, FIGURES)


# -- helpers ------------------------------------------------------------------------------


def tw(db, url, *args):
    return run_cli(db, *args, url=url)


@pytest.fixture
def fast_registry(monkeypatch):
    """The CLI's registry client with its waits shortened: first retry after 0.05 s, answers within 1 s."""
    made = []
    original = trialwatch.cli.open_registry

    def open_fast(ctx):
        registry = original(ctx)
        registry.backoff, registry.timeout = 0.05, 1.0
        made.append(registry)
        return registry

    monkeypatch.setattr(trialwatch.cli, "open_registry", open_fast)
    return made


def closed_port_url() -> str:
    """A URL nothing listens on (the port was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def rows(db, sql, params=()):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def count_now(db, sql) -> int:
    """A count read while another process writes; 0 while the database or its schema does not exist yet."""
    if not Path(db).exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute(sql).fetchone()[0]
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return 0


# -- registry faults at the `trialwatch run` level -----------------------------------------


@dataclass
class Fault:
    name: str
    inject: Callable[[RegistryServer], None]
    exit_code: int
    failed: set = field(default_factory=set)  # trials that fail ({None}: the registry itself)
    reasons: tuple = ()  # in checks.error and in the report
    hits: dict = field(default_factory=dict)  # path → requests expected
    drop: str | None = None  # a trial the batch answers leave out (fetched alone)
    watch_missing: bool = False  # also watch a trial the registry lacks
    unreachable: bool = False  # point the run at a closed port
    min_seconds: float = 0.0  # a Retry-After honoured takes at least this long


ALL = set(WATCHED)
FAULTS = [
    Fault(
        "429-storm-retry-after-recovers",
        lambda s: s.fail(429, times=2, retry_after=1, path=BATCH),
        0,
        hits={BATCH: 3},
        min_seconds=2.0,
    ),
    Fault(
        "429-storm-never-ends",
        lambda s: s.fail(429, times=99, retry_after=0, path=BATCH),
        1,
        ALL,
        (f"gave up after {MAX_TRIES} tries", "HTTP 429"),
        {BATCH: MAX_TRIES},
    ),
    Fault("503-burst-recovers", lambda s: s.fail(503, times=4, path=BATCH), 0, hits={BATCH: 5}),
    Fault(
        "503-for-one-trial",
        lambda s: s.fail(503, times=99, path=ONE_PATH),
        1,
        {ONE},
        (f"gave up after {MAX_TRIES} tries", "HTTP 503"),
        {BATCH: 1, ONE_PATH: MAX_TRIES},
        drop=ONE,
    ),
    Fault(
        "connection-reset-recovers",
        lambda s: s.cut_short(times=2, declare_full_length=True, path=BATCH),
        0,
        hits={BATCH: 3},
    ),
    Fault(
        "connection-reset-for-one-trial",
        lambda s: s.cut_short(times=99, declare_full_length=True, path=ONE_PATH),
        1,
        {ONE},
        (f"gave up after {MAX_TRIES} tries", "answer cut short: connection closed after"),
        {BATCH: 1, ONE_PATH: MAX_TRIES},
        drop=ONE,
    ),
    Fault("slower-than-timeout-recovers", lambda s: s.slow(2.5, times=1, path=BATCH), 0, hits={BATCH: 2}),
    Fault(
        "slower-than-timeout-always",
        lambda s: s.slow(1.5, times=99, path=BATCH),
        1,
        ALL,
        (f"gave up after {MAX_TRIES} tries", "no answer within 1 s"),
        {BATCH: MAX_TRIES},
    ),
    Fault(
        "body-cut-short-for-one-trial-recovers",  # a bad answer is asked for once more
        lambda s: s.cut_short(times=1, path=ONE_PATH),
        0,
        hits={BATCH: 1, ONE_PATH: 2},
        drop=ONE,
    ),
    Fault(
        "body-cut-short-for-one-trial-twice",
        lambda s: s.cut_short(times=2, path=ONE_PATH),
        1,
        {ONE},
        ("answer is not JSON",),
        {BATCH: 1, ONE_PATH: 2},
        drop=ONE,
    ),
    Fault(
        "html-error-page-status-200-recovers",
        lambda s: s.html(times=1, path=BATCH),
        0,
        hits={BATCH: 2},
    ),
    Fault(
        "one-trial-never-served-fails-alone",  # every answer holding it is HTML: the batch splits down to it
        lambda s: s.poisoned.add(POISONED),
        1,
        {POISONED},
        ("answer is not JSON", "text/html"),
    ),
    Fault(
        "404-mid-batch",
        lambda s: None,
        1,
        {MISSING},
        ("ClinicalTrials.gov has no such trial (HTTP 404)",),
        {BATCH: 1, MISSING_PATH: 1},
        watch_missing=True,
    ),
    Fault(
        "registry-unreachable-closed-port",
        lambda s: None,
        1,
        {None},
        ("registry unreachable", f"gave up after {MAX_TRIES} tries", "Connection refused"),
        unreachable=True,
    ),
    Fault(
        "registry-version-503-always",
        lambda s: s.fail(503, times=99, retry_after=0, path=VERSION_PATH),
        1,
        {None},
        ("registry unreachable", "HTTP 503"),
        {VERSION_PATH: MAX_TRIES, BATCH: 0},
    ),
]


def tries_per_request(server) -> Counter:
    return Counter((seen.path, tuple(sorted(seen.params.items()))) for seen in server.log)


def _pending(server) -> int:
    return sum(fault.times for fault in server._faults)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_a_registry_fault_is_bounded_recorded_reported_and_the_next_run_recovers(tmp_path, fast_registry, fault):
    db = tmp_path / "tw.db"
    with RegistryServer(copy.deepcopy(STUDIES), version=VERSION) as server:
        watched = sorted(WATCHED + ([MISSING] if fault.watch_missing else []))
        assert tw(db, server.url, "watch", "add", *watched).exit_code == 0
        if fault.drop:
            server.batch_drops.add(fault.drop)
        fault.inject(server)
        injected = _pending(server)

        started = time.monotonic()
        result = tw(db, closed_port_url() if fault.unreachable else server.url, "run")
        elapsed = time.monotonic() - started
        served = (
            injected
            + server.poison_served
            - _pending(server)
            + (MAX_TRIES if fault.unreachable else 0)
            + (server.hits[MISSING_PATH] if fault.watch_missing else 0)
        )  # refused connections; 404 answers
        FIGURES["fault cases"] += 1
        FIGURES["faults injected"] += served

        # Exit 1 where something failed, 0 where the retries recovered; never a traceback.
        assert [registry.max_tries for registry in fast_registry] == [MAX_TRIES]  # the CLI's own bound
        assert result.exit_code == fault.exit_code, result.output
        assert "Traceback" not in result.output
        assert served >= 1
        # Bounded retries: at most 5 tries of any request (a path asked with the same parameters).
        assert max(tries_per_request(server).values(), default=0) <= MAX_TRIES, dict(server.hits)
        for path, expected in fault.hits.items():
            assert server.hits[path] == expected, (path, dict(server.hits))
        assert elapsed >= fault.min_seconds  # Retry-After honoured, not the 0.05 s backoff
        assert elapsed < 20

        # The failure recorded in `checks` with its reason; the other trials stored.
        failed = dict(rows(db, "select nct_id, error from checks where outcome = 'failed'"))
        assert set(failed) == fault.failed
        for error in failed.values():
            assert "\n" not in error and all(reason in error for reason in fault.reasons), error
        stored = [n for (n,) in rows(db, "select nct_id from snapshots order by nct_id")]
        assert stored == ([] if None in fault.failed else sorted(set(watched) - fault.failed))
        run = rows(db, "select exit_status, failures, finished_utc is not null from runs")
        assert run == [(fault.exit_code, len(fault.failed), 1)]

        # A clear report: the Failed section names the trial, or the registry.
        if fault.exit_code:
            section = result.stdout.split("\nFailed\n", 1)[1]
            lines = section.strip().splitlines()
            assert len(lines) == len(fault.failed)
            for nct_id in fault.failed:
                named = "registry unreachable" if nct_id is None else f"{nct_id}: "
                assert any(line.strip().startswith(named) for line in lines), section
            assert all(reason in section for reason in fault.reasons)
        else:
            assert "Failed" not in result.stdout

        # The next run (the fault gone) recovers, with no duplicate snapshot.
        server.reset()
        server.batch_drops.clear()
        server.poisoned.clear()
        if fault.watch_missing:
            server.studies.update(synthetic_studies(1, STUDIES[ONE], first=int(MISSING[3:])))
        again = tw(db, server.url, "run")
        assert again.exit_code == 0, again.output
        assert all(n <= MAX_TRIES for n in server.hits.values())
        per_trial = dict(rows(db, "select nct_id, count(*) from snapshots group by nct_id"))
        assert per_trial == dict.fromkeys(watched, 1)
        latest = rows(
            db,
            "select c.nct_id, c.outcome from checks c where c.id = "
            "(select max(id) from checks d where d.nct_id = c.nct_id)",
        )
        assert {nct_id for nct_id, outcome in latest if outcome == "failed"} == set()
        consistent(db)


# -- processes killed at random moments ------------------------------------------------------


def run_state(db):
    """A run's state without times (observed times differ between two runs)."""
    with sqlite3.connect(db) as conn:
        return (
            sorted(conn.execute("select nct_id, content_hash, change_count from snapshots")),
            sorted(conn.execute("select nct_id, field, kind, summary from changes")),
            sorted(conn.execute("select nct_id, status, snapshot_count from trials")),
        )


CHECKS = "select count(*) from checks"


def undisturbed(command, env, db) -> float:
    """Run `command` to its end (exit 0); returns the seconds from its first committed check to its exit."""
    before = count_now(db, CHECKS)
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first = None
    while proc.poll() is None:
        if first is None and count_now(db, CHECKS) > before:
            first = time.monotonic()
        time.sleep(0.01)
    assert proc.returncode == 0, proc.stderr.read()
    return time.monotonic() - (first or time.monotonic())


def kill_once(command, env, db, rng, *, window, early, total):
    """Start `command`, SIGKILL it at a random moment, check the database; returns how it landed.

    `early` kills come 0.02–0.4 s after the start (imports, opening, the schema); the others
    come a random time up to `window` seconds after the process committed its first check.  Landed mid-work: the process had committed some of its `total` checks, not all.
    """
    before = count_now(db, CHECKS)
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if early:
            time.sleep(rng.uniform(0.02, 0.4))
        else:
            deadline = time.monotonic() + 30
            while proc.poll() is None and count_now(db, CHECKS) <= before and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, window))
        alive = proc.poll() is None
        if alive:
            os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    FIGURES["kills attempted"] += 1
    done = count_now(db, CHECKS) - before
    if Path(db).exists():
        consistent(db)
    if not alive or done >= total:
        return "too late"
    return "mid-work" if done > 0 else "start-up"


def test_ingest_killed_at_random_moments_keeps_the_database_whole_and_finishing_gives_the_undisturbed_state(tmp_path):
    phases = [(tmp_path / "v1", SEED, "2025-01-02", 8), (tmp_path / "v2", EDITED, "2025-03-15", 7)]
    env = dict(os.environ)
    calm, killed = tmp_path / "calm.db", tmp_path / "killed.db"
    rng = random.Random(20260811)
    landed = Counter()
    for folder, source, when, kills in phases:
        write_corpus(folder, 200, source)
        command = [sys.executable, "-m", "trialwatch", "--db", str(calm), "ingest", str(folder), "--observed-at", when]
        window = undisturbed(command, env, calm) * 0.4  # a retry re-reads stored files faster: aim early

        command[command.index(str(calm))] = str(killed)
        for attempt in range(kills):
            landed[kill_once(command, env, killed, rng, window=window, early=attempt == 0, total=200)] += 1
        finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        assert finished.returncode == 0, finished.stderr
        consistent(killed)
    assert ingest_state(killed) == ingest_state(calm)
    assert sum(landed.values()) == 15 and landed["mid-work"] >= floor(FIGURES, "ingest kills mid-work", 10), landed


def _edit_for_phase_two(studies: dict) -> None:
    """Twelve trials change: status, enrollment or a primary completion date; updated 2025-06-02."""
    for index, nct_id in enumerate(sorted(studies)[::2][:12]):
        status = studies[nct_id]["protocolSection"]["statusModule"]
        status["lastUpdatePostDateStruct"] = {"date": "2025-06-02", "type": "ACTUAL"}
        if index % 3 == 0:
            status["overallStatus"] = "SUSPENDED" if status.get("overallStatus") != "SUSPENDED" else "RECRUITING"
        elif index % 3 == 1:
            design = studies[nct_id]["protocolSection"].setdefault("designModule", {})
            design["enrollmentInfo"] = {"count": 4321, "type": "ESTIMATED"}
        else:
            status["primaryCompletionDateStruct"] = {"date": "2031-06-30", "type": "ESTIMATED"}


def test_run_killed_at_random_moments_keeps_the_database_whole_and_finishing_gives_the_undisturbed_state(tmp_path):
    calm, killed = tmp_path / "calm.db", tmp_path / "killed.db"
    rng = random.Random(20260812)
    landed = Counter()
    with RegistryServer(copy.deepcopy(STUDIES), version=VERSION, page_size=2) as server:
        for db in (calm, killed):
            assert tw(db, server.url, "watch", "add", *WATCHED).exit_code == 0
        env = dict(os.environ, TRIALWATCH_CTGOV_URL=server.url, TRIALWATCH_RATE="1000")

        def slow_pages():
            server.reset()
            server.slow(0.2, times=10_000, path=BATCH)  # 13 pages of 2 trials: a run of about 3 s

        for phase in (1, 2):
            if phase == 2:
                _edit_for_phase_two(server.studies)
                server.version = {**VERSION, "dataTimestamp": "2025-06-02T09:00:00"}
            slow_pages()
            # Kills come up to this long after the first check commits: 0.4 of an undisturbed run,
            # which also spends time starting up, so that kills land mid-work on a loaded machine too.
            window = (
                undisturbed([sys.executable, "-m", "trialwatch", "--db", str(calm), "run", "--quiet"], env, calm) * 0.4
            )
            total = rows(calm, "select count(*) from checks where run_id = (select max(id) from runs)")[0][0]
            command = [sys.executable, "-m", "trialwatch", "--db", str(killed), "run", "--quiet"]
            for attempt in range(5):
                slow_pages()
                outcome = kill_once(command, env, killed, rng, window=window, early=attempt == 0, total=total)
                landed[outcome] += 1
                if outcome == "mid-work":  # its run stays unfinished, so the next run is not skipped
                    assert rows(killed, "select finished_utc from runs order by id desc limit 1") == [(None,)]
            slow_pages()
            finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
            assert finished.returncode == 0, finished.stderr
            consistent(killed)
        assert run_state(killed) == run_state(calm)
        assert rows(calm, "select count(*) from changes")[0][0] >= 12
    assert sum(landed.values()) == 10 and landed["mid-work"] >= floor(FIGURES, "run kills mid-work", 6), landed


# -- a reader during writes --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_ingest_while_datasette_reads_never_locks_the_reader(tmp_path):
    pytest.importorskip("datasette", reason="Datasette is an optional extra: pip install -e '.[test]'")
    db = tmp_path / "watch.db"
    first, second = tmp_path / "v1", tmp_path / "v2"
    write_corpus(first, 200, SEED)
    write_corpus(second, 200, EDITED)
    tw_cmd = [sys.executable, "-m", "trialwatch", "--db", str(db)]
    assert (
        subprocess.run(
            [*tw_cmd, "ingest", SEED, "--observed-at", "2024-12-01"], cwd=ROOT, capture_output=True
        ).returncode
        == 0
    )

    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [*tw_cmd, "serve", "--port", str(port)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    queries = [
        "/watch/trials.json?_shape=array&_size=max",
        "/watch/changes.json?_shape=array&_size=50",
        "/watch/recent_changes.json?_shape=array&_size=20",
        "/watch.json?_shape=array&sql=select+count(*)+as+n+from+snapshots",
        "/watch/snapshots.json?_shape=array&_col=nct_id&_col=observed_utc&_size=100",
    ]
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(base + "/-/versions.json", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)

        statuses, bodies = Counter(), []
        for folder, when in ((first, "2025-01-02"), (second, "2025-03-15")):
            writer = subprocess.Popen(
                [*tw_cmd, "ingest", str(folder), "--observed-at", when],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            index = 0
            while writer.poll() is None:
                try:
                    with urllib.request.urlopen(base + queries[index % len(queries)], timeout=30) as response:
                        statuses[response.status] += 1
                        body = response.read().decode("utf-8")
                except urllib.error.HTTPError as error:
                    statuses[error.code] += 1
                    body = error.read().decode("utf-8", "replace")
                json.loads(body)
                bodies.append(body)
                index += 1
            out, err = writer.communicate()
            assert writer.returncode == 0, err
            assert "database is locked" not in err
        assert set(statuses) == {200}, statuses
        assert sum(statuses.values()) >= floor(FIGURES, "Datasette reads during a write", 50)
        assert not any("database is locked" in body for body in bodies)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    consistent(db)
    assert rows(db, "select count(*) from snapshots")[0][0] == 1 + 200 + 200
