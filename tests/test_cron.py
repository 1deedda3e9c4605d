"""cron/: the crontab line is a valid daily schedule; the wrapper works as cron runs it."""

import os
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from croniter import croniter

from registry_server import RegistryServer, load_studies

ROOT = Path(__file__).resolve().parent.parent
CRON = ROOT / "cron"


def test_the_crontab_entry_is_a_valid_daily_schedule_after_the_registry_refresh():
    lines = [
        line for line in (CRON / "trialwatch.crontab").read_text().splitlines() if line and not line.startswith("#")
    ]
    env = dict(line.split("=", 1) for line in lines if "=" in line.split()[0])
    assert {"MAILTO", "TRIALWATCH_DB"} <= set(env)
    jobs = [line for line in lines if "=" not in line.split()[0]]
    assert len(jobs) == 1
    fields = jobs[0].split()
    schedule, command = " ".join(fields[:5]), fields[5]
    assert croniter.is_valid(schedule)
    runs = croniter(schedule, datetime(2026, 1, 5))
    first, second = runs.get_next(datetime), runs.get_next(datetime)
    assert (second - first).days == 1 and 13 <= first.hour <= 16
    assert command.endswith("cron/trialwatch-run")


def test_the_systemd_units_name_the_wrapper_and_a_daily_time():
    assert "ExecStart=/opt/trialwatch/cron/trialwatch-run" in (CRON / "trialwatch.service").read_text()
    assert "OnCalendar=*-*-* 14:30:00 UTC" in (CRON / "trialwatch.timer").read_text()


def test_the_wrapper_run_as_cron_would_refreshes_the_watchlist(tmp_path):
    studies = load_studies()
    db = tmp_path / "data" / "tw.db"
    db.parent.mkdir()
    trialwatch = Path(sys.executable).parent / "trialwatch"
    with RegistryServer(studies, version={"apiVersion": "2.0.5", "dataTimestamp": "2025-06-01T09:00:00"}) as server:
        env = {
            "TRIALWATCH_DB": str(db),
            "TRIALWATCH_CTGOV_URL": server.url,
            "TRIALWATCH_RATE": "1000",
        }
        subprocess.run(
            [str(trialwatch), "watch", "add", *sorted(studies)[:5]],
            env=dict(os.environ, **env),
            check=True,
            capture_output=True,
        )
        result = cron_run(tmp_path, **env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout == ""  # a first run of manually watched trials is a baseline: no news, no mail
        with sqlite3.connect(db) as conn:
            assert conn.execute("select count(*) from snapshots").fetchone()[0] == 5
            assert conn.execute("select exit_status from runs").fetchall() == [(0,)]
        log = (tmp_path / "data" / "tw.log").read_text()
        assert "trialwatch run" in log and "exit 0" in log
        # The exit code is passed on: a trial the registry lacks makes the run exit 1.
        subprocess.run(
            [str(trialwatch), "watch", "add", "NCT09999999"],
            env=dict(os.environ, **env),
            check=True,
            capture_output=True,
        )
        result = cron_run(tmp_path, **env)
        assert result.returncode == 1 and "NCT09999999" in result.stdout


def cron_run(tmp_path, **env):
    """The wrapper as cron runs it: a minimal environment, no terminal, no standard input."""
    trialwatch = Path(sys.executable).parent / "trialwatch"
    cron_env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "SHELL": "/bin/sh", "LOGNAME": "tw"}
    cron_env.update(TRIALWATCH_BIN=str(trialwatch), **env)
    return subprocess.run(
        [str(CRON / "trialwatch-run")],
        env=cron_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cron_mails_a_failure_that_comes_before_any_report(tmp_path):
    """cron mails stdout: a bad registry URL or a database that cannot be opened must reach it."""
    db = tmp_path / "tw.db"
    bad_url = cron_run(tmp_path, TRIALWATCH_DB=str(db), TRIALWATCH_CTGOV_URL="http:///nowhere")
    assert bad_url.returncode == 2
    assert "trialwatch run failed (exit 2)" in bad_url.stdout and "is not an http(s) registry URL" in bad_url.stdout
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not a database, though its name says so" * 100)
    broken = cron_run(tmp_path, TRIALWATCH_DB=str(corrupt), TRIALWATCH_CTGOV_URL="http://127.0.0.1:9")
    assert broken.returncode != 0 and "trialwatch run failed" in broken.stdout and "corrupt.db" in broken.stdout
    log = (tmp_path / "corrupt.log").read_text()
    assert "corrupt.db" in log  # the log keeps it too


def test_the_crontab_install_steps_use_a_private_temporary_file():
    steps = (CRON / "trialwatch.crontab").read_text()
    assert "/tmp/crontab" not in steps and "mktemp" in steps
