"""The command line end to end: real files, a real SQLite database, real processes."""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clirun import tw
from dbcheck import consistent, ingest_state, write_corpus

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "NCT06731192.txt"
EDITED = ROOT / "tests" / "fixtures" / "edits" / "NCT06731192.edited.txt"


def tw_process(db, *args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "trialwatch", "--db", str(db), *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        **kwargs,
    )


@pytest.fixture
def db(tmp_path):
    return tmp_path / "tw.db"


def count(db, sql):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchone()[0]


def test_parse_prints_the_record_and_touches_no_database(tmp_path):
    result = tw(tmp_path / "never.db", "parse", SEED)
    assert result.exit_code == 0
    record = json.loads(result.stdout)
    assert (record["nct_id"], record["status"], record["enrollment"]) == (
        "NCT06731192",
        "NOT_YET_RECRUITING",
        {"count": 40, "type": None},
    )
    assert not (tmp_path / "never.db").exists()


def test_seed_then_edited_copy_gives_exactly_those_changes(db):
    assert tw(db, "ingest", SEED, "--observed-at", "2025-01-02").exit_code == 0
    assert tw(db, "ingest", EDITED, "--observed-at", "2025-03-15T08:00:00Z").exit_code == 0
    changes = json.loads(tw(db, "diff", "NCT06731192", "--format", "json").stdout)
    summary = [(c["category"], c["field"], c["kind"], c["severity"]) for c in changes]
    assert summary == [
        ("status", "status", "changed", "notable"),
        ("dates", "start_date", "changed", "notable"),
        ("enrollment", "enrollment", "changed", "minor"),
        ("arms", "arms", "renamed", "notable"),
        ("eligibility", "eligibility.exclusion", "changed", "notable"),
    ]
    status, start, enrollment, arm, exclusion = changes
    assert {c["observed_at"] for c in changes} == {"2025-03-15T08:00:00+00:00"}
    assert (status["old"], status["new"]) == ("NOT_YET_RECRUITING", "RECRUITING")
    # Both pages show month dates as days: the move is measured by month, its precision unknown.
    assert (start["old"]["date"], start["new"]["date"], start["shift_days"], start["precision_changed"]) == (
        "2025-01-01",
        "2025-04-01",
        90,
        None,
    )
    assert (enrollment["old"]["count"], enrollment["new"]["count"], enrollment["percent_change"]) == (40, 38, -5.0)
    assert (arm["old"]["label"], arm["new"]["label"]) == ("MSC Theatment", "MSC Treatment")
    assert (exclusion["lines_added"], exclusion["lines_removed"]) == (["Received a kidney transplant."], [])
    for change in changes:
        assert change["nct_id"] == "NCT06731192" and change["summary"]

    text = tw(db, "diff", "NCT06731192").stdout
    assert "Status NOT_YET_RECRUITING → RECRUITING" in text
    assert "Start date 2025-01-01 → 2025-04-01: moved 90 days later" in text
    assert "Enrollment 40 → 38 (-5.0%)" in text
    assert "Arm renamed: 'MSC Theatment' → 'MSC Treatment'" in text
    assert "Exclusion criteria: 1 added: Received a kidney transplant." in text
    assert text.index("Status") < text.index("Start date") < text.index("Enrollment") < text.index("Arm renamed")

    markdown = tw(db, "diff", "NCT06731192", "--format", "markdown").stdout
    assert markdown.startswith(
        "### NCT06731192 Human Umbilical Cord Mesenchymal Stem Cells for Alport… · 2025-03-15T08:00:00+00:00 · 5 changes"
    )
    csv_out = tw(db, "diff", "NCT06731192", "--format", "csv").stdout.splitlines()
    assert csv_out[0].startswith("nct_id,observed_at,category,severity,field") and len(csv_out) == 6
    assert (
        json.loads(tw(db, "diff", "NCT06731192", "--category", "dates", "--format", "json").stdout)[0]["field"]
        == "start_date"
    )
    assert json.loads(tw(db, "diff", "NCT06731192", "--since", "2025-04-01", "--format", "json").stdout) == []


def test_same_page_twice_is_one_snapshot_and_two_checks(db):
    tw(db, "ingest", SEED)
    tw(db, "ingest", SEED)
    assert count(db, "select count(*) from snapshots") == 1
    assert count(db, "select count(*) from checks") == 2
    history = json.loads(tw(db, "history", "NCT06731192", "--format", "json").stdout)
    assert len(history) == 1 and history[0]["status"] == "NOT_YET_RECRUITING"


def test_history_and_show(db):
    tw(db, "ingest", SEED, "--observed-at", "2025-01-02")
    tw(db, "ingest", EDITED, "--observed-at", "2025-03-15")
    history = json.loads(tw(db, "history", "NCT06731192", "--format", "json").stdout)
    assert [
        (h["observed_at"], h["last_updated"], h["status"], h["enrollment"], h["change_count"]) for h in history
    ] == [
        ("2025-01-02T00:00:00+00:00", "2024-12-31", "NOT_YET_RECRUITING", {"count": 40, "type": None}, 0),
        ("2025-03-15T00:00:00+00:00", "2025-03-14", "RECRUITING", {"count": 38, "type": None}, 5),
    ]
    assert history[0]["source_kind"] == "page text" and history[0]["source_ref"].endswith("NCT06731192.txt")
    text = tw(db, "history", "NCT06731192").stdout
    assert "2025-03-15T00:00:00+00:00" in text and "RECRUITING" in text
    old = json.loads(tw(db, "show", "NCT06731192", "--at", "2025-02-01", "--format", "json").stdout)
    assert old == json.loads(tw(db, "parse", SEED).stdout)
    assert json.loads(tw(db, "show", "NCT06731192", "--format", "json").stdout)["status"] == "RECRUITING"
    shown = tw(db, "show", "NCT06731192").stdout
    assert "Status:                  RECRUITING" in shown
    assert "Primary completion date: (not carried by any source so far)" in shown


@pytest.mark.parametrize(
    "args, message",
    [
        (["diff", "NCT123"], "'NCT123' is not an NCT id"),
        (["show", "06731192"], "is not an NCT id"),
        (["ingest", "no/such/file.txt"], "no/such/file.txt: no such file or folder"),
        (["ingest", SEED, "--observed-at", "yesterday-ish"], "'yesterday-ish' is not an ISO 8601 date"),
        (["diff", "NCT06731192", "--since", "soon"], "'soon' is neither a duration"),
        (["show", "NCT06731192", "--at", "yesterday-ish"], "'yesterday-ish' is not an ISO 8601 date"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(db, args, message):
    result = tw_process(db, *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not db.exists()


@pytest.mark.parametrize(
    "content", [b"", b"\x00\x01\x02binary\xff" * 50, b"Dear diary,\nnothing to see here.\n", b"\xff\xfe\xfa not utf8"]
)
def test_a_named_file_that_is_not_a_trial_page_is_exit_2(db, tmp_path, content):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    result = tw_process(db, "ingest", SEED, bad)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and str(bad) in result.stderr
    assert not db.exists()


def test_unknown_trial_and_missing_database_are_exit_2(db):
    result = tw_process(db, "diff", "NCT06731192")
    assert result.returncode == 2 and "no such database" in result.stderr and not db.exists()
    tw(db, "ingest", SEED)
    result = tw_process(db, "history", "NCT00000001")
    assert result.returncode == 2 and "NCT00000001: not in" in result.stderr


def test_a_bad_file_in_a_folder_fails_alone(db, tmp_path):
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "a.txt").write_bytes(SEED.read_bytes())
    (folder / "b.txt").write_text("not a trial page at all\n")
    (folder / "notes.md").write_text("ignored: not an input file type\n")
    result = tw_process(db, "ingest", folder)
    assert result.returncode == 1
    assert "b.txt" in result.stderr and "Traceback" not in result.stderr
    assert count(db, "select count(*) from snapshots") == 1
    assert count(db, "select count(*) from checks where outcome = 'failed'") == 1


def checks_in(db) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return conn.execute("select count(*) from checks").fetchone()[0]


def kill_after_checks(proc, db, checks: int) -> int:
    """SIGKILL `proc` once `db` holds more than `checks` check rows (1 if killed, 0 if it finished first)."""
    deadline = time.time() + 60
    while proc.poll() is None and time.time() < deadline:
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1) as conn:
                if conn.execute("select count(*) from checks").fetchone()[0] > checks:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait()
                    return 1
        except sqlite3.Error:  # not created yet, or its schema not made yet
            pass
        time.sleep(0.005)
    proc.wait()
    return 0


def test_killed_mid_ingest_leaves_a_consistent_database_and_finishing_gives_the_same_state(tmp_path):
    first, second = tmp_path / "v1", tmp_path / "v2"
    write_corpus(first, 150, SEED)
    write_corpus(second, 150, EDITED)
    calm = tmp_path / "calm.db"
    for folder, when in ((first, "2025-01-02"), (second, "2025-03-15")):
        assert tw_process(calm, "ingest", folder, "--observed-at", when).returncode == 0

    killed = tmp_path / "killed.db"
    rng = random.Random(20251125)
    kills = 0
    for folder, when in ((first, "2025-01-02"), (second, "2025-03-15")):
        for _ in range(3):
            proc = subprocess.Popen(
                [sys.executable, "-m", "trialwatch", "--db", str(killed), "ingest", str(folder), "--observed-at", when],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            kills += kill_after_checks(proc, killed, checks_in(killed) + rng.randint(1, 140))
            if killed.exists():
                consistent(killed)
        assert tw_process(killed, "ingest", folder, "--observed-at", when).returncode == 0
        consistent(killed)
    assert kills >= 4  # most land mid-work: the kill waits for trials to be committed, not for a clock
    assert ingest_state(killed) == ingest_state(calm)


def test_parser_warnings_are_kept_on_the_check_not_only_printed(db):
    """Under cron nobody reads stderr: a page whose layout drifted says so in the database."""
    cut = ROOT / "tests" / "fixtures" / "pages" / "NCT06731192.label-less.cut.txt"
    result = tw_process(db, "ingest", cut)
    assert result.returncode == 0 and "warning: page cut short" in result.stderr
    with sqlite3.connect(db) as conn:
        (warnings,) = conn.execute("select warnings from checks").fetchone()
    printed = [line.split("warning: ", 1)[1] for line in result.stderr.splitlines() if "warning: " in line]
    assert warnings.splitlines() == printed and any(w.startswith("page cut short") for w in printed)
    tw_process(db, "ingest", SEED)
    with sqlite3.connect(db) as conn:
        assert conn.execute("select warnings from checks order by id desc limit 1").fetchone() == (None,)
