"""A full disk and a read-only database: a clean message, exit 1, nothing corrupted.

Both are simulated with a small tmpfs (mounting needs root, as in CI; elsewhere these skip).
"""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from dbcheck import consistent, write_corpus

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "NCT06731192.txt"
EDITED = ROOT / "tests" / "fixtures" / "edits" / "NCT06731192.edited.txt"


@pytest.fixture
def small_fs(tmp_path):
    mount = tmp_path / "mnt"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"a small tmpfs cannot be mounted here (needs root): {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def tw(db, *args):
    return subprocess.run(
        [sys.executable, "-m", "trialwatch", "--db", str(db), *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def fill(folder: Path) -> Path:
    """Take every free byte of the filesystem."""
    filler = folder / "filler"
    out = open(filler, "wb")
    try:
        while True:
            out.write(b"\0" * 65536)
            out.flush()
    except OSError:
        pass
    try:
        out.close()
    except OSError:  # the last chunk, written in part, cannot be flushed either: the disk is full
        pass
    return filler


def test_a_full_disk_is_a_clean_failure_and_corrupts_nothing(small_fs, tmp_path):
    db = small_fs / "tw.db"
    assert tw(db, "ingest", SEED).returncode == 0
    pages = tmp_path / "pages"
    write_corpus(pages, 60, EDITED)
    filler = fill(small_fs)
    result = tw(db, "ingest", pages)
    assert result.returncode == 1, result.stderr
    assert ("full" in result.stderr or "disk I/O error" in result.stderr) and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    filler.unlink()
    consistent(db)
    assert tw(db, "ingest", pages).returncode == 0
    consistent(db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from snapshots").fetchone()[0] == 61


def test_a_read_only_database_is_a_clean_failure(small_fs):
    db = small_fs / "tw.db"
    assert tw(db, "ingest", SEED).returncode == 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    result = tw(db, "ingest", EDITED)
    assert result.returncode == 1, result.stderr
    assert "read" in result.stderr.lower() and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    subprocess.run(["mount", "-o", "remount,rw", str(small_fs)], check=True)
    consistent(db)
    assert os.path.getsize(db) > 0
