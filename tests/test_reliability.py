"""Reliability, second pass: what an attacker (or bad luck) tried, and the promises that now hold.

- Secrets in URLs are used for the request, never stored, printed or mailed.
- Memory is bounded for any input: devices, pipes, zip members that inflate past what they
  declare, JSON nested or shaped to explode, huge HTML, huge HTTP bodies; peak under 500 MB.
- Bad input is one line (control characters escaped) and exit 2, nothing created: malformed ids
  and URLs, absurd rates, empty inputs.
- Children die with their parent.
Figures the README quotes are counted here and checked against tests/figures.json.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from clirun import tw
from figures import check
from registry_server import RegistryServer, load_studies
from trialwatch.snapshots.store.codec import register

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "NCT06731192.txt"
STUDY = ROOT / "tests" / "fixtures" / "ctgov" / "studies" / "NCT04267848.json"
PEAK_MB = 500
FIGURES: Counter = Counter()


@pytest.fixture(scope="module", autouse=True)
def figures(request):
    """The counts the README quotes (tests/figures.py): inputs tried under the memory bound."""
    yield FIGURES
    check(request, FIGURES)


def peak(args, cwd=ROOT, timeout=120, env=None) -> tuple[subprocess.CompletedProcess, int]:
    """Run `trialwatch *args` in a process of its own; (result, its peak memory in MB: the largest
    of it and its children).  Every input run so stays under PEAK_MB."""
    probe = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "sys.stdout.write(done.stdout); sys.stderr.write(done.stderr)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, file=sys.stderr)\n"
        "sys.exit(done.returncode)\n"
    )
    command = [sys.executable, "-c", probe, sys.executable, "-m", "trialwatch", *map(str, args)]
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    *lines, megabytes = result.stderr.splitlines()
    result.stderr = "\n".join(lines) + ("\n" if lines else "")
    assert int(megabytes) < PEAK_MB, (args, megabytes)
    FIGURES["inputs tried under the memory bound"] += 1
    return result, int(megabytes)


def one_line(result) -> str:
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    return result.stderr


# -- memory is bounded, for any input --------------------------------------------------------------


def test_a_device_or_a_pipe_is_refused_not_read(tmp_path):
    db = tmp_path / "tw.db"
    result, megabytes = peak(["--db", db, "parse", "/dev/zero"])
    assert result.returncode == 2 and "not a regular file" in one_line(result) and megabytes < PEAK_MB
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    result, _ = peak(["--db", db, "ingest", fifo], timeout=30)  # would block forever if opened
    assert result.returncode == 2 and "not a regular file" in one_line(result) and not db.exists()
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "zero.txt").symlink_to("/dev/zero")
    (folder / "seed.txt").write_bytes(SEED.read_bytes())
    result, megabytes = peak(["--db", db, "ingest", folder], timeout=60)
    assert result.returncode == 1 and "zero.txt: not a regular file" in result.stderr and megabytes < PEAK_MB
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from snapshots").fetchone() == (1,)


def _bomb(path: Path, members: int, declared: int, inflated: int) -> None:
    """A zip whose members declare `declared` bytes but inflate to `inflated` (zeros), plus one real study."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(members):
            archive.writestr(f"bomb{i:02d}.json", b"0" * inflated)
        archive.writestr("NCT04267848.json", STUDY.read_bytes())
    data = bytearray(path.read_bytes())
    pos = 0
    while (pos := data.find(b"PK\x01\x02", pos)) >= 0:  # central directory: declared size
        if data[pos + 46 : pos + 50] == b"bomb":
            data[pos + 24 : pos + 28] = declared.to_bytes(4, "little")
        pos += 4
    path.write_bytes(bytes(data))


def test_zip_members_that_inflate_past_their_declared_size_fail_alone_in_bounded_memory(tmp_path):
    zipped = tmp_path / "bomb.zip"
    _bomb(zipped, members=60, declared=1000, inflated=30 * 1024 * 1024)
    assert zipped.stat().st_size < 2 * 1024 * 1024  # 60 members of 30 MB in under 2 MB
    result, megabytes = peak(["--db", tmp_path / "tw.db", "ingest", zipped], timeout=300)
    assert result.returncode == 1 and result.stderr.count("inflates past its declared 1,000 bytes") == 60
    assert megabytes < PEAK_MB, megabytes
    with sqlite3.connect(tmp_path / "tw.db") as conn:
        assert conn.execute("select nct_id from snapshots").fetchall() == [("NCT04267848",)]


def test_json_nested_too_deeply_or_shaped_to_explode_fails_alone(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    empties = tmp_path / "empties.json"
    empties.write_text("[" + ",".join(["{}"] * (10 * 1024 * 1024)) + "]")  # 30 MB of objects
    db = tmp_path / "tw.db"
    for bad, why in ((deep, "nested too deeply"), (empties, "JSON objects and lists, more than")):
        result, megabytes = peak(["--db", db, "ingest", bad])
        assert result.returncode == 2 and why in one_line(result) and megabytes < PEAK_MB, megabytes
        assert not db.exists()
    folder = tmp_path / "inputs"
    folder.mkdir()
    deep.rename(folder / "deep.json")
    (folder / "study.json").write_bytes(STUDY.read_bytes())
    result, _ = peak(["--db", db, "ingest", folder])
    assert result.returncode == 1 and "deep.json" in result.stderr and "Traceback" not in result.stderr
    zipped = tmp_path / "mixed.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("deep.json", "[" * 100_000 + "]" * 100_000)
        for study in sorted((ROOT / "tests" / "fixtures" / "ctgov" / "studies").glob("*.json")):
            archive.writestr(study.name, study.read_bytes())
    result, _ = peak(["--db", tmp_path / "zip.db", "ingest", zipped])
    assert result.returncode == 1 and "deep.json" in result.stderr and "Traceback" not in result.stderr
    with sqlite3.connect(tmp_path / "zip.db") as conn:
        assert conn.execute("select count(distinct nct_id) from snapshots").fetchone() == (25,)


def test_a_huge_html_page_is_refused_and_a_large_one_read_in_bounded_time_and_memory(tmp_path):
    page = (ROOT / "tests" / "fixtures" / "pages" / "NCT06731192.semantic.html").read_text(encoding="utf-8")
    end = page.index("</body>")
    filler = "<span>x</span><br>" * 1000 + "\n"
    large = tmp_path / "large.html"
    large.write_text(page[:end] + filler * (7 * 1024 * 1024 // len(filler)) + page[end:], encoding="utf-8")
    started = time.monotonic()
    result, megabytes = peak(["parse", large])
    assert result.returncode == 0 and megabytes < PEAK_MB and time.monotonic() - started < 60
    huge = tmp_path / "huge.html"
    huge.write_text(page[:end] + filler * (9 * 1024 * 1024 // len(filler)) + page[end:], encoding="utf-8")
    result, megabytes = peak(["parse", huge])
    assert result.returncode == 2 and "more than the 8,388,608 a trial page may be" in one_line(result)


def test_a_page_url_sending_gigabytes_is_read_no_further_than_the_cap(tmp_path):
    with RegistryServer({}) as server:
        server.endless("/clinical-trials/NCT06731192")  # a body that never ends
        result, megabytes = peak(
            [
                "--db",
                tmp_path / "tw.db",
                "--ctgov-url",
                server.url,
                "ingest",
                server.url_for("/clinical-trials/NCT06731192"),
            ]
        )
    assert result.returncode == 1 and "answer larger than 33,554,432 bytes" in result.stderr
    assert megabytes < PEAK_MB, megabytes


# -- secrets in URLs -------------------------------------------------------------------------------


def test_a_password_in_the_registry_url_is_used_and_never_stored_or_printed(tmp_path):
    db = tmp_path / "tw.db"
    with RegistryServer(load_studies()) as server:
        secret = server.url.replace("http://", "http://alice:s3cret@")
        server.pages["/clinical-trials/NCT06731192"] = (SEED.read_bytes(), "text/plain")
        page = server.url_for("/clinical-trials/NCT06731192").replace("http://", "http://bob:hunter2@") + "?token=t0k"
        results = [
            tw(db, "--ctgov-url", secret, "watch", "add", "NCT04267848", "NCT99999998"),
            tw(db, "--ctgov-url", secret, "run"),
            tw(db, "--ctgov-url", secret, "ingest", page, "NCT04267848"),
        ]
        sent = {seen.headers.get("Authorization") for seen in server.log}
    assert "Basic YWxpY2U6czNjcmV0" in sent  # alice:s3cret: the credentials were used
    printed = "".join(r.stdout + r.stderr for r in results)
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("tw.db*"))
    for secret_text in ("s3cret", "hunter2", "t0k", "alice:", "bob:"):
        assert secret_text not in printed and secret_text.encode() not in stored, secret_text
    assert "REDACTED" in stored.decode("latin-1")  # the key's place is kept, its value hidden


def test_a_redirect_to_another_host_is_refused_with_one_line_and_the_credentials_stay_home(tmp_path):
    db = tmp_path / "tw.db"
    with RegistryServer({}) as elsewhere, RegistryServer(load_studies()) as server:
        elsewhere.pages["/x"] = (SEED.read_bytes(), "text/plain")
        moved = elsewhere.url.replace("127.0.0.1", "localhost") + "/x"
        server.pages["/clinical-trials/NCT06731192"] = (moved.encode(), "redirect")
        server.pages["/here"] = (b"/clinical-trials/NCT06731192", "redirect")
        page = server.url_for("/here").replace("http://", "http://bob:hunter2@")
        result = tw(db, "ingest", page)
    assert result.exit_code == 1
    (line,) = [line for line in result.stderr.splitlines() if "redirected" in line]
    assert f"redirected to another host ({moved}); not followed" in line and "hunter2" not in result.stderr
    assert [seen.path for seen in server.log] == ["/here", "/clinical-trials/NCT06731192"]  # within the host: followed
    assert not elsewhere.log  # never asked, so never sent bob's password


# -- bad input: one line, exit 2, nothing created --------------------------------------------------

BAD = {
    "non-ASCII digits": (["watch", "add", "NCT０６７３１１９２"], "is not an NCT id"),
    "Arabic-Indic digits": (["diff", "NCT٠٦٧٣١١٩٢"], "is not an NCT id"),
    "URL with a broken IPv6 host": (["ingest", "http://[::1"], "is not an http(s) page URL"),
    "URL without a host": (["ingest", "http:///x"], "is not an http(s) page URL"),
    "registry URL without a host": (["--ctgov-url", "http:///x", "run"], "is not an http(s) registry URL"),
    "rate too small to mean anything": (["--rate", "1e-300", "ingest", "NCT04267848"], "rate must be"),
    "registry URL with a query string": (["--ctgov-url", "http://h/?api_key=k", "run"], "takes no query string"),
    "an empty database name": (["--db", "", "ingest", str(SEED)], "--db: an empty name"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_is_one_line_and_exit_2_and_creates_nothing(tmp_path, name):
    args, message = BAD[name]
    db = tmp_path / "tw.db"
    result, _ = peak(["--db", db, *args])
    assert result.returncode == 2 and message in one_line(result)
    assert not db.exists()
    FIGURES["malformed inputs refused"] += 1


@pytest.mark.parametrize("content", ["[]", '{"studies": []}', "zip"], ids=["empty-list", "empty-page", "empty-zip"])
def test_an_input_holding_no_trial_is_bad_input(tmp_path, content):
    path = tmp_path / ("empty.zip" if content == "zip" else "empty.json")
    if content == "zip":
        zipfile.ZipFile(path, "w").close()
    else:
        path.write_text(content)
    db = tmp_path / "tw.db"
    result, _ = peak(["--db", db, "ingest", path])
    assert result.returncode == 2 and "holds no" in one_line(result) and not db.exists()
    FIGURES["malformed inputs refused"] += 1


def test_a_file_name_cannot_forge_a_second_line_of_an_error(tmp_path):
    forged = tmp_path / "bad\nError: something else happened.txt"
    forged.write_text("not a trial page\n")
    result, _ = peak(["--db", tmp_path / "tw.db", "ingest", forged])
    assert result.returncode == 2
    assert one_line(result).startswith("Error: ") and "\\n" in result.stderr
    FIGURES["malformed inputs refused"] += 1


# -- children die with their parent ---------------------------------------------------------------


def test_the_zip_reader_dies_with_a_killed_import(tmp_path):
    zipped = tmp_path / "many.zip"
    study = STUDY.read_text(encoding="utf-8")
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(3000):
            archive.writestr(f"NCT9{i:07d}.json", study.replace("NCT04267848", f"NCT9{i:07d}"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "trialwatch", "--db", str(tmp_path / "tw.db"), "ingest", str(zipped)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _kill_and_see_its_children_end(proc, within=30, what="the reader process")
    proc.stdout.read()  # nothing holds the pipes open: reading ends
    proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()


def _kill_and_see_its_children_end(proc: subprocess.Popen, *, within: float, what: str) -> None:
    """Wait (up to `within` s) for `proc` to start a child, SIGKILL `proc`, and see every child end."""
    children: list[int] = []
    deadline = time.monotonic() + within
    while not children and time.monotonic() < deadline:
        children = _children(proc.pid)
        time.sleep(0.05)
    assert children, f"{what} never started"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in children)


def _children(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if f"\nPPid:\t{pid}\n" in text:
            found.append(int(status.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in state


def test_the_run_lock_holds_through_a_link_to_the_database(tmp_path):
    from trialwatch.snapshots.jobs.run import run_lock

    db = tmp_path / "tw.db"
    assert tw(db, "ingest", SEED).exit_code == 0
    link = tmp_path / "link.db"
    link.symlink_to(db)
    with run_lock(str(db)):
        result, _ = peak(["--db", link, "--ctgov-url", "http://127.0.0.1:9", "run"])
    assert result.returncode == 75 and "another trialwatch run holds the database" in result.stderr


def test_datasette_dies_with_a_killed_serve(tmp_path):
    db = tmp_path / "tw.db"
    assert tw(db, "ingest", SEED).exit_code == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "trialwatch", "--db", str(db), "serve", "--port", str(_free_port())],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _kill_and_see_its_children_end(proc, within=60, what="Datasette")


# -- two writers both finish --------------------------------------------------------------------


def _corpus_zip(path: Path, first: int, count: int) -> Path:
    """`count` trials made from the real records (ids NCT{first}…), zipped like the bulk download."""
    templates = [json.loads(p.read_bytes()) for p in sorted(STUDY.parent.glob("*.json"))]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for n in range(count):
            study = templates[n % len(templates)]
            nct_id = f"NCT{first + n:08d}"
            study["protocolSection"]["identificationModule"]["nctId"] = nct_id
            archive.writestr(f"{nct_id}.json", json.dumps(study))
    return path


def _cli(db, *args, url=None) -> subprocess.Popen:
    registry = ["--ctgov-url", url, "--rate", "1000"] if url else []
    return subprocess.Popen(
        [sys.executable, "-m", "trialwatch", "--db", str(db), *registry, *map(str, args)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _state(db) -> dict:
    """What two writers leave, without the instants they wrote: trials, snapshots, checks, changes."""
    with sqlite3.connect(db) as conn:
        register(conn)
        return {
            "trials": conn.execute(
                "select nct_id, status, snapshot_count, enrollment_count from trials order by nct_id"
            ).fetchall(),
            "snapshots": Counter(conn.execute("select nct_id, content_hash, source_kind from snapshots").fetchall()),
            "checks": Counter(conn.execute("select nct_id, source_kind, outcome from checks").fetchall()),
            "changes": Counter(conn.execute("select nct_id, field, old, new from changes").fetchall()),
            "runs": conn.execute("select count(*), count(finished_utc), sum(exit_status) from runs").fetchone(),
        }


def test_two_imports_and_a_run_write_at_once_and_all_finish_as_if_one_after_the_other(tmp_path):
    """Two `ingest`s of zips and a `run` into one database at the same time: every one finishes
    (none with "database is locked"), and the database holds what running them in turn gives."""
    zips = [_corpus_zip(tmp_path / "a.zip", 80_000_000, 1_500), _corpus_zip(tmp_path / "b.zip", 81_000_000, 1_500)]
    studies = load_studies()
    with RegistryServer(studies) as server:
        together, in_turn = tmp_path / "together.db", tmp_path / "in-turn.db"
        for db in (together, in_turn):
            assert tw(db, "watch", "add", *sorted(studies), url=server.url).exit_code == 0
        writers = [_cli(together, "ingest", zips[0]), _cli(together, "ingest", zips[1])]
        time.sleep(1.5)  # both imports are committing batches when the run starts
        writers.append(_cli(together, "run", "--force", url=server.url))
        for writer in writers:
            out, err = writer.communicate(timeout=300)
            assert writer.returncode == 0, err
            assert "locked" not in err
        for args in (["ingest", zips[0]], ["ingest", zips[1]], ["run", "--force"]):
            assert tw(in_turn, *args, url=server.url).exit_code == 0
    assert _state(together) == _state(in_turn)
    assert _state(together)["runs"] == (1, 1, 0)
    FIGURES["writers at once, all finished"] += len(writers)


# -- databases trialwatch must not write: newer, read-only, damaged -----------------------------


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_database_written_by_a_newer_trialwatch_is_refused_for_writing_and_still_read(tmp_path):
    db = tmp_path / "tw.db"
    assert tw(db, "ingest", SEED, "--observed-at", "2025-01-02").exit_code == 0
    with sqlite3.connect(db) as conn:  # what a later release's migration leaves
        conn.execute(
            "insert into _sqlite_migrations (migration_set, name, applied_at) values ('trialwatch', 'm099_later', '2027-01-01')"
        )
    before = _digest(db)
    for args in (["ingest", STUDY], ["run"], ["watch", "add", "NCT04267848"], ["reparse"]):
        result = tw(db, *args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.strip().splitlines() == [
            f"Error: {db}: written by a newer trialwatch (its schema has m099_later); upgrade trialwatch to write to it"
        ]
    assert _digest(db) == before
    shown = tw(db, "show", "NCT06731192", "--format", "json")  # reading it still works
    assert shown.exit_code == 0 and json.loads(shown.stdout)["nct_id"] == "NCT06731192"
    assert _digest(db) == before


def _on_read_only_media(place: Path) -> list[str]:
    """A command prefix that runs its command where `place` is a read-only mount (a mount
    namespace of its own: `unshare`), as on a read-only disk or share."""
    script = f'mount --bind "{place}" "{place}" && mount -o remount,bind,ro "{place}" && exec "$@"'
    prefix = ["unshare", "-m" if os.geteuid() == 0 else "-rm", "sh", "-c", script, "sh"]
    probe = subprocess.run([*prefix, "touch", str(place / "probe")], capture_output=True, text=True)
    if "Read-only file system" not in probe.stderr:
        pytest.skip(f"this machine cannot mount read-only in a namespace: {probe.stderr.strip()}")
    return prefix


def test_a_database_on_read_only_media_is_read_by_diff_show_history_and_serve(tmp_path):
    place = tmp_path / "media"
    place.mkdir()
    db = place / "tw.db"
    assert tw(db, "ingest", SEED, "--observed-at", "2025-01-02").exit_code == 0
    edited = ROOT / "tests" / "fixtures" / "edits" / "NCT06731192.edited.txt"
    assert tw(db, "ingest", edited, "--observed-at", "2025-03-15").exit_code == 0
    assert not (place / "tw.db-wal").exists()  # closed cleanly: the file holds everything
    before = _digest(db)
    command = [*_on_read_only_media(place), sys.executable, "-m", "trialwatch", "--db", str(db)]
    for args, expected in (
        (["diff", "NCT06731192"], "Status"),
        (["show", "NCT06731192", "--at", "2025-02-01"], "NCT06731192"),
        (["history", "NCT06731192"], "2025-03-15"),
    ):
        result = subprocess.run([*command, *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and expected in result.stdout, (args, result.stderr)
        assert result.stderr == ""
    written = subprocess.run([*command, "ingest", str(SEED)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert written.returncode == 1 and len(written.stderr.strip().splitlines()) == 1, written.stderr
    assert "read-only" in written.stderr or "readonly" in written.stderr
    port = _free_port()
    server = subprocess.Popen(
        [*command, "serve", "--port", str(port)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        page = _get(f"http://127.0.0.1:{port}/tw/trials.json?_shape=array", server)
        assert [row["nct_id"] for row in json.loads(page)] == ["NCT06731192"]
    finally:
        server.terminate()
        server.wait(timeout=15)
    assert _digest(db) == before


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, server: subprocess.Popen) -> bytes:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + 60
    while True:
        assert server.poll() is None, server.stdout.read() if server.stdout else ""
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return answer.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            assert time.monotonic() < deadline, "Datasette did not answer within 60 s"
            time.sleep(0.2)


def test_a_damaged_database_is_noticed_before_a_run_writes_anything(tmp_path):
    studies = load_studies()
    db = tmp_path / "tw.db"
    with RegistryServer(studies) as server:
        assert tw(db, "watch", "add", *sorted(studies), url=server.url).exit_code == 0
        assert tw(db, "run", url=server.url).exit_code == 0
        with sqlite3.connect(db) as conn:  # a page of an index the run never reads, hit by a bad sector
            page_size = conn.execute("pragma page_size").fetchone()[0]
            (root,) = conn.execute(
                "select rootpage from sqlite_master where name = 'idx_changes_category_observed_utc'"
            ).fetchone()
        with open(db, "r+b") as f:
            f.seek((root - 1) * page_size)
            f.write(b"\xff" * 64)
        before = _digest(db)
        server.reset()
        result = tw(db, "run", "--force", url=server.url)
        assert result.exit_code == 1, result.output
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith(f"Error: {db} is damaged (") and "the run wrote nothing" in line
        assert not server.hits  # not one request
        assert _digest(db) == before
        FIGURES["damaged databases refused before writing"] += 1
