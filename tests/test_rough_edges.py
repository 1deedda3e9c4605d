"""The rough edges found by trying trialwatch as a new user: each one line, the right exit code."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from clirun import tw

ROOT = Path(__file__).resolve().parent.parent
STUDIES = ROOT / "tests" / "fixtures" / "ctgov" / "studies"
SEED = ROOT / "seeds" / "NCT06731192.txt"


def script() -> list[str]:
    found = Path(sys.executable).with_name("trialwatch")
    return [str(found)] if found.exists() else [sys.executable, "-m", "trialwatch"]


def test_a_closed_pipe_is_exit_0_and_quiet(tmp_path):
    db = tmp_path / "tw.db"
    assert tw(db, "ingest", STUDIES / "NCT02513394.json").exit_code == 0
    for args in (["show", "NCT02513394", "--format", "json"], ["parse", str(STUDIES / "NCT02513394.json")], ["--help"]):
        process = subprocess.Popen([*script(), "--db", str(db), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        process.stdout.read(10)
        process.stdout.close()  # the reader is gone: `| head -c 10`
        stderr = process.stderr.read().decode()
        assert process.wait(timeout=60) == 0, (args, stderr)
        assert stderr == "", args


def test_the_first_readme_command_ends_saying_there_are_no_changes_yet(tmp_path):
    db = tmp_path / "tw.db"
    assert tw(db, "ingest", SEED).exit_code == 0
    out = tw(db, "diff", "NCT06731192").stdout
    assert out.startswith("NCT06731192 Human Umbilical Cord Mesenchymal Stem Cells for Alport…: 1 snapshot since ")
    assert out.endswith("; no changes yet\n")


def test_watch_commands_say_what_they_did(tmp_path):
    db = tmp_path / "tw.db"
    assert tw(db, "watch", "add", "NCT06731192").exit_code == 0
    assert tw(db, "watch", "add", "--search", "query.cond=Alport", "--name", "alport").exit_code == 0
    csv = tw(db, "watch", "list", "--format", "csv").stdout.splitlines()
    assert csv[0].startswith("kind,nct_id,title,status,note,search,query")
    assert csv[1].startswith("trial,NCT06731192,") and csv[2].startswith("search,,,,,alport,query.cond=Alport,")
    removed = tw(db, "watch", "remove", "NCT06731192")
    assert (
        removed.exit_code == 0 and removed.stderr == "1 trial no longer watched (NCT06731192); their snapshots stay\n"
    )
    gone = tw(db, "watch", "remove", "--search", "alport")
    assert gone.stderr == "saved search 'alport' removed; the trials it brought stay watched\n"


def test_search_mistakes_are_named_for_what_they_are(tmp_path):
    db = tmp_path / "tw.db"
    for query, message in (
        ("", "'' is an empty search"),
        ("query.cnd=x", "did you mean 'query.cond'?"),
        ("query.foo=x", "unknown ClinicalTrials.gov search parameter 'query.foo'"),
        ("postFilter.x=1", "unknown ClinicalTrials.gov search parameter 'postFilter.x'"),
    ):
        result = tw(db, "watch", "add", "--search", query)
        assert result.exit_code == 2 and message in result.stderr, query
        assert "not neither" not in result.stderr and len(result.stderr.splitlines()) == 1
    assert "did you mean" not in tw(db, "watch", "add", "--search", "query.foo=x").stderr
    assert "did you mean" not in tw(db, "watch", "add", "--search", "postFilter.x=1").stderr
    assert not db.exists()


def test_show_json_is_parse(tmp_path):
    db = tmp_path / "tw.db"
    for name in ("NCT04267848", "NCT02513394", "NCT03418623"):
        assert tw(db, "ingest", STUDIES / f"{name}.json").exit_code == 0
        assert tw(db, "show", name, "--format", "json").stdout == tw(db, "parse", STUDIES / f"{name}.json").stdout


def test_environment_values_are_blamed_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIALWATCH_RATE", "abc")
    result = tw(tmp_path / "tw.db", "watch", "list")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: TRIALWATCH_RATE: 'abc' is not") and "--rate" not in result.stderr


def test_an_unreachable_registry_is_named_once(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    url = f"http://127.0.0.1:{port}"
    run = tw(tmp_path / "tw.db", "run", url=url)
    assert run.exit_code == 1 and run.stdout.count(f"{url}/api/v2/version") == 1
    ingest = tw(tmp_path / "tw.db", "ingest", "NCT04267848", url=url)
    assert "batch of 1 trial (NCT04267848)" in ingest.stderr


def test_serve_on_a_busy_port_is_one_line(tmp_path):
    db = tmp_path / "tw.db"
    assert tw(db, "ingest", SEED).exit_code == 0
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = tw(db, "serve", "--port", port)
    assert result.exit_code == 2
    assert result.stderr == f"Error: port {port} on 127.0.0.1 is in use: give another with --port\n"
