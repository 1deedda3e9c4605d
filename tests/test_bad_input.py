"""Bad input: fuzzed pages and API records, a matrix of bad command lines, SQL through every text input.

- Fuzz (hypothesis, derandomized): pages built from the seed's lines (shuffled, cut,
  duplicated, mixed with junk), the same wrapped in HTML, and the shared API records with
  fields deleted, nulled, retyped and nested wrongly, all through the bytes entry point
  `trialwatch.ingest.parse.parse_bytes`: records come out, or `InputError` with one line; never any
  other exception.  A handful go through `trialwatch ingest` as real processes.
- The bad-input matrix: each bad command line is exit 2, exactly one line on stderr naming
  the input and what is wrong, no traceback, and nothing written.
- Security: quotes and SQL through every text input that reaches the database are stored
  verbatim and harm nothing; SQL built with f-strings interpolates only audited names; no
  credentials or headers are stored.  (Datasette on 127.0.0.1 and read-only: test_datasette.py.)

The figures the README's Reliability section quotes are checked against tests/figures.json when the module ends.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import html
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from figures import check
from registry_server import FIXTURES, RegistryServer, load_studies
from trialwatch.cli import cli
from trialwatch.ingest.errors import InputError
from trialwatch.ingest.http import user_agent
from trialwatch.ingest.parse import parse_bytes
from trialwatch.snapshots.store.codec import register

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "NCT06731192.txt"
SEED_LINES = SEED.read_text(encoding="utf-8").splitlines()
STUDY_TEXTS = {path.stem: path.read_text(encoding="utf-8") for path in sorted((FIXTURES / "studies").glob("*.json"))}
FIGURES: Counter = Counter()
FUZZ = {"derandomize": True, "database": None, "deadline": None, "suppress_health_check": list(HealthCheck)}


@pytest.fixture(scope="module", autouse=True)
def figures(request):
    """The counts the README quotes (tests/figures.py): every fuzz case, bad command line and SQL input tried."""
    yield FIGURES
    check(request, FIGURES)


def one_line_input_error(data: bytes, ref: str, counter: str) -> None:
    """parse_bytes returns records, or raises InputError with one line (naming the input); nothing else."""
    FIGURES[counter] += 1
    try:
        parsed = parse_bytes(data, ref)
    except InputError as error:
        message = str(error)
        assert message and "\n" not in message and "\r" not in message, message
        assert ref in message, message
        return
    assert parsed and all(item.record["nct_id"] for item in parsed)


# -- fuzz: pages built from the seed's lines -------------------------------------------------

JUNK_LINES = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "NCT ID:",
            "NCT ID: NCT123",
            "NCT ID: NCT99999999",
            "Recruitment Status",
            "RECRUITING?",
            "Total Enrollment",
            "-1 participants",
            "99999999999999999999999 participants",
            "Study Start Date",
            "2025-13-45",
            "0000-00-00",
            "Inclusion Criteria",
            "Exclusion Criteria",
            "• ",
            "-",
            "Arms",
            "Ages Eligible",
            "Last Updated: soon",
            "Last Updated:",
            "{",
            "[",
            "<div>",
            "</html>",
            "Clinical Phase",
            "PHASE9/PHASE0",
            "\ufeff",
            "\u2028",
            "\x0c",
            "Sponsor",
            "Locations",
            "Study Results",
            "View results",
            "Results pending",
            "Primary Outcome",
            "Keywords",
        ]
    ),
)


def mangle_lines(data, lines: list[str]) -> list[str]:
    rng = random.Random(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    for op in data.draw(
        st.lists(st.sampled_from(["shuffle", "cut", "duplicate", "junk", "drop", "swap", "blank"]), max_size=6),
        label="ops",
    ):
        if op == "shuffle":
            rng.shuffle(lines)
        elif op == "cut" and lines:
            lines = lines[: rng.randrange(len(lines) + 1)]
        elif op == "duplicate" and lines:
            start = rng.randrange(len(lines))
            end = rng.randrange(start, len(lines) + 1)
            lines[end:end] = lines[start:end]
        elif op == "junk":
            for _ in range(rng.randrange(1, 6)):
                lines.insert(rng.randrange(len(lines) + 1), data.draw(JUNK_LINES, label="junk"))
        elif op == "drop" and lines:
            del lines[rng.randrange(len(lines))]
        elif op == "swap" and len(lines) > 1:
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "blank":
            lines = [line for line in lines if line.strip()]
    return lines


@settings(max_examples=400, **FUZZ)
@given(data=st.data())
def test_fuzzed_text_pages_parse_or_fail_with_one_line(data):
    lines = mangle_lines(data, list(SEED_LINES))
    ending = data.draw(st.sampled_from(["\n", "\r\n", "\r"]), label="line ending")
    one_line_input_error(ending.join(lines).encode("utf-8", "surrogatepass"), "x.txt", "fuzz text pages")


TAGS = ["p", "div", "li", "h2", "h3", "td", "th", "span", "b", "section", "br", "script", "nav", "pre", "a", "dt", "dd"]


def wrap_html(data, lines: list[str]) -> str:
    rng = random.Random(data.draw(st.integers(0, 2**32 - 1), label="markup seed"))
    parts = []
    for line in lines:
        tag = rng.choice(TAGS)
        text = html.escape(line) if rng.random() < 0.9 else line
        roll = rng.random()
        if tag == "br":
            parts.append(text + "<br>")
        elif roll < 0.75:
            parts.append(f"<{tag}>{text}</{tag}>")
        elif roll < 0.85:
            parts.append(f"<{tag}>{text}")  # never closed
        elif roll < 0.95:
            parts.append(f"</{tag}>{text}<{rng.choice(TAGS)} class='{rng.random()}' hidden")  # stray and broken tags
        else:
            parts.append(data.draw(st.text(max_size=40), label="junk"))
    body = "\n".join(parts)
    shell = data.draw(st.sampled_from(["document", "body", "div", "deep", "table"]), label="shell")
    if shell == "document":
        return (
            f"<!DOCTYPE html><html><head><title>x</title><script>var a='<p>';</script></head><body>{body}</body></html>"
        )
    if shell == "body":
        return f"<body>{body}"
    if shell == "div":
        return f"<div>{body}</div>"
    if shell == "deep":
        return "<div>" * 800 + body
    return "<table>" + "".join(f"<tr><td>{part}</td></tr>" for part in parts) + "</table>"


@settings(max_examples=250, **FUZZ)
@given(data=st.data())
def test_fuzzed_html_pages_parse_or_fail_with_one_line(data):
    lines = [line for line in SEED_LINES if line.strip()]
    if data.draw(st.booleans(), label="mangle"):
        lines = mangle_lines(data, lines)
    one_line_input_error(wrap_html(data, lines).encode("utf-8", "surrogatepass"), "x.html", "fuzz html pages")


# -- fuzz: the shared API records, as JSON bytes -------------------------------------------------

REPLACEMENTS = [
    None,
    "",
    "x",
    0,
    -1,
    1.5,
    True,
    False,
    [],
    {},
    [None],
    {"a": 1},
    "2025-13-45",
    10**30,
    [[[]]],
    {"date": 5, "type": []},
    "NCT123",
    -1e308,
]


def random_path(rng, doc) -> list:
    """A random path into the document, shallow nodes (whole modules) more often than deep ones."""
    path, node = [], doc
    while isinstance(node, (dict, list)) and node and (not path or rng.random() < 0.75):
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        path.append(key)
        node = node[key]
    return path


def mangle_study(data, doc):
    rng = random.Random(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    for _ in range(data.draw(st.integers(1, 8), label="mutations")):
        path = random_path(rng, doc)
        if not path:
            break
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        key, value = path[-1], parent[path[-1]]
        op = data.draw(
            st.sampled_from(["delete", "null", "retype", "in a list", "in an object", "unwrap", "move"]), label="op"
        )
        if op == "delete":
            del parent[key]
        elif op == "null":
            parent[key] = None
        elif op == "retype":
            parent[key] = copy.deepcopy(rng.choice(REPLACEMENTS))
        elif op == "in a list":
            parent[key] = [value]
        elif op == "in an object":
            parent[key] = {"value": value}
        elif op == "unwrap" and isinstance(value, (dict, list)) and value:
            parent[key] = value[0] if isinstance(value, list) else next(iter(value.values()))
        elif op == "move":  # nested wrongly: the value moves under another object of the study
            target = doc
            for step in random_path(rng, doc)[:-1]:
                target = target[step]
            if isinstance(target, dict) and target is not value:
                del parent[key]
                target[f"{key}"] = value
    return doc


@settings(max_examples=300, **FUZZ)
@given(data=st.data())
def test_fuzzed_api_records_as_json_bytes_map_or_fail_with_one_line(data):
    doc = mangle_study(data, json.loads(STUDY_TEXTS[data.draw(st.sampled_from(sorted(STUDY_TEXTS)), label="study")]))
    shape = data.draw(
        st.sampled_from(["study", "page", "list", "page of one object", "truncated", "bom"]), label="shape"
    )
    obj = {
        "study": doc,
        "page": {"studies": [doc], "nextPageToken": 3},
        "list": [doc, doc],
        "page of one object": {"studies": doc},
    }.get(shape, doc)
    body = json.dumps(obj, ensure_ascii=data.draw(st.booleans(), label="ascii")).encode("utf-8")
    if shape == "truncated":
        body = body[: data.draw(st.integers(1, max(1, len(body) - 1)), label="cut at")]
    elif shape == "bom":
        body = b"\xef\xbb\xbf" + body
    one_line_input_error(body, "x.json", "fuzz api records")


def test_an_api_file_the_mapping_rejects_is_named_in_its_error():
    doc = json.loads(STUDY_TEXTS["NCT00973089"])
    del doc["protocolSection"]["identificationModule"]
    with pytest.raises(InputError, match="nameless.json"):
        parse_bytes(json.dumps(doc).encode("utf-8"), "nameless.json")


# -- fuzz: a handful through `trialwatch ingest` -------------------------------------------------


def fuzzed_files(folder: Path) -> list[Path]:
    """Twelve mangled inputs made with a fixed seed (four text pages, four HTML pages, four API records)."""
    rng = random.Random(8)
    folder.mkdir()
    files = []
    for i in range(4):
        lines = list(SEED_LINES)
        if i % 2:
            rng.shuffle(lines)
        lines = lines[: rng.randrange(len(lines) // 3, len(lines) + 1)]
        lines.insert(rng.randrange(len(lines) + 1), "NCT ID: NCT123" if i == 3 else "\x0c junk \u2028 line")
        files.append(folder / f"page{i}.txt")
        files[-1].write_text("\n".join(lines), encoding="utf-8")
    for i in range(4):
        lines = [line for line in SEED_LINES if line.strip()][: 20 + 15 * i]
        body = "".join(
            f"<{tag}>{html.escape(line)}" for tag, line in zip(rng.choices(TAGS, k=len(lines)), lines, strict=True)
        )
        files.append(folder / f"page{i}.html")
        files[-1].write_text(("<html><body>" if i % 2 else "<div>") + body, encoding="utf-8")
    names = sorted(STUDY_TEXTS)
    for i, mangle in enumerate(
        [
            lambda d: d["protocolSection"].pop("identificationModule"),
            lambda d: d["protocolSection"]["statusModule"].update(overallStatus=["RECRUITING"], startDateStruct="2025"),
            lambda d: d["protocolSection"].update(
                designModule={"enrollmentInfo": {"count": "many"}}, armsInterventionsModule=7
            ),
            lambda d: d.update(protocolSection=[d["protocolSection"]]),
        ]
    ):
        doc = json.loads(STUDY_TEXTS[names[rng.randrange(len(names))]])
        mangle(doc)
        files.append(folder / f"study{i}.json")
        files[-1].write_text(json.dumps(doc), encoding="utf-8")
    return files


def tw_process(db, *args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "trialwatch", "--db", str(db), *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_fuzzed_files_through_trialwatch_ingest_are_exit_0_1_or_2_with_one_line_per_error(tmp_path):
    files = fuzzed_files(tmp_path / "fuzzed")
    db = tmp_path / "tw.db"
    expected = {}
    for path in files:
        try:
            parse_bytes(path.read_bytes(), str(path))
            expected[path] = 0
        except InputError:
            expected[path] = 2
    assert set(expected.values()) == {0, 2}  # the handful holds both kinds

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda path: tw_process(tmp_path / f"{path.name}.db", "ingest", path), files))
    for path, result in zip(files, results, strict=True):
        FIGURES["fuzz cli files"] += 1
        assert result.returncode == expected[path], (path, result.stderr)
        assert "Traceback" not in result.stderr
        if result.returncode == 2:
            assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ")
            assert str(path) in result.stderr
            assert not (tmp_path / f"{path.name}.db").exists()
        else:
            assert all(line.startswith((f"{path}: warning: ", "1 checked: ")) for line in result.stderr.splitlines())

    # The folder: the bad ones fail alone, one line each, the others are stored; exit 1.
    result = tw_process(db, "ingest", tmp_path / "fuzzed")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    failed_lines = [line for line in result.stderr.splitlines() if line.startswith("failed: ")]
    bad = sorted(str(path) for path, code in expected.items() if code == 2)
    assert sorted(line.split("failed: ", 1)[1].split(": ", 1)[0] for line in failed_lines) == bad
    with sqlite3.connect(db) as conn:
        assert sorted(r for (r,) in conn.execute("select source_ref from checks where outcome = 'failed'")) == bad
        assert conn.execute("select count(*) from checks where outcome != 'failed'").fetchone()[0] == len(files) - len(
            bad
        )


# -- the bad-input matrix through the real CLI ------------------------------------------------------

BAD_IDS = ["NCT123", "NCT06731192'--", "06731192"]
ID_COMMANDS = [
    ["diff", "{id}"],
    ["show", "{id}"],
    ["history", "{id}"],
    ["ingest", "{id}"],
    ["watch", "add", "{id}"],
    ["watch", "remove", "{id}"],
    ["backfill", "{id}"],
    ["changes", "--nct", "{id}"],
]
NOT_AN_ID = "is not an NCT id (NCT followed by 8 digits"


def _id_message(command: list[str], bad_id: str) -> str:
    if command[0] == "ingest" and not bad_id.upper().startswith("NCT"):
        return f"{bad_id}: no such file or folder"  # ingest takes paths too: not an id, so a file that is not there
    return f"{bad_id!r} {NOT_AN_ID}"


MATRIX = [
    (" ".join(c[:-1]) + f" {i}", [a.replace("{id}", i) for a in c], _id_message(c, i))
    for c in ID_COMMANDS
    for i in BAD_IDS
]
MATRIX += [
    # files
    ("ingest missing file", ["ingest", "{tmp}/no/such.txt"], "{tmp}/no/such.txt: no such file or folder"),
    ("parse missing file", ["parse", "{tmp}/no/such.txt"], "{tmp}/no/such.txt: no such file or folder"),
    ("ingest empty file", ["ingest", "{tmp}/empty.txt"], "{tmp}/empty.txt: empty file"),
    ("parse empty file", ["parse", "{tmp}/empty.txt"], "{tmp}/empty.txt: empty file"),
    ("ingest binary file", ["ingest", "{tmp}/binary.html"], "{tmp}/binary.html: binary file"),
    ("parse binary file", ["parse", "{tmp}/binary.html"], "{tmp}/binary.html: binary file"),
    ("ingest non-UTF-8 file", ["ingest", "{tmp}/latin1.txt"], "{tmp}/latin1.txt: not UTF-8 text"),
    ("parse non-UTF-8 file", ["parse", "{tmp}/latin1.txt"], "{tmp}/latin1.txt: not UTF-8 text"),
    ("ingest huge file", ["ingest", "{tmp}/huge.txt"], "{tmp}/huge.txt: 33,554,433 bytes, larger than the 33,554,432"),
    ("parse huge file", ["parse", "{tmp}/huge.txt"], "{tmp}/huge.txt: 33,554,433 bytes, larger than the 33,554,432"),
    ("ingest a good file and a bad one", ["ingest", str(SEED), "{tmp}/binary.html"], "{tmp}/binary.html: binary file"),
    ("parse a folder", ["parse", "{tmp}"], "'{tmp}' is a directory"),
    ("ingest an empty target", ["ingest", str(SEED), ""], "an empty target"),
    ("--db a folder", ["--db", "{tmp}", "watch", "list"], "'{tmp}' is a directory"),
    (
        "--db not a database",
        ["--db", "{tmp}/latin1.txt", "ingest", str(SEED)],
        "{tmp}/latin1.txt: cannot open the database",
    ),
    # dates and durations
    ("diff --since soon", ["diff", "NCT06731192", "--since", "soon"], "'soon' is neither a duration"),
    ("changes --since soon", ["changes", "--since", "soon"], "'soon' is neither a duration"),
    ("changes --since 7x", ["changes", "--since", "7x"], "'7x' is neither a duration"),
    ("changes --since empty", ["changes", "--since", ""], "'' is neither a duration"),
    ("changes --since 99999999999d", ["changes", "--since", "99999999999d"], "'99999999999d' is outside the dates"),
    ("diff --since past 9999", ["diff", "NCT06731192", "--since", "9999-12-31T23:59:59-23:59"], "is outside the dates"),
    (
        "show --at yesterday-ish",
        ["show", "NCT06731192", "--at", "yesterday-ish"],
        "'yesterday-ish' is not an ISO 8601 date",
    ),
    ("show --at 2025-02-30", ["show", "NCT06731192", "--at", "2025-02-30"], "'2025-02-30' is not an ISO 8601 date"),
    (
        "ingest --observed-at 2025-13-45",
        ["ingest", str(SEED), "--observed-at", "2025-13-45"],
        "'2025-13-45' is not an ISO 8601 date",
    ),
    ("ingest --observed-at empty", ["ingest", str(SEED), "--observed-at", ""], "'' is not an ISO 8601 date"),
    (
        "ingest --observed-at before year 1",
        ["ingest", str(SEED), "--observed-at", "0001-01-01T00:00:00+01:00"],
        "is outside the dates",
    ),
    (
        "changes --category colour",
        ["changes", "--category", "colour"],
        "Invalid value for '--category': 'colour' is not one of",
    ),
    # searches
    (
        "unknown search parameter",
        ["watch", "add", "--search", "query.colour=red"],
        "unknown ClinicalTrials.gov search parameter 'query.colour'",
    ),
    (
        "unknown filter among good ones",
        ["watch", "add", "--search", "query.cond=asthma&filter.colour=blue"],
        "'filter.colour'",
    ),
    ("search setting pageSize", ["watch", "add", "--search", "pageSize=5"], "trialwatch sets pageSize itself"),
    ("search without a value", ["watch", "add", "--search", "query.cond="], "is an empty search"),
    ("search that is not a query", ["watch", "add", "--search", "asthma"], "'asthma' is not a search"),
    ("ids and a search", ["watch", "add", "NCT06731192", "--search", "query.cond=x"], "give NCT ids or --search"),
    ("remove an unknown search", ["watch", "remove", "--search", "nosuch"], "no saved search is called 'nosuch'"),
    (
        "backfill --modules of commas",
        ["backfill", "NCT06731192", "--modules", ",,,"],
        "--modules: name at least one section",
    ),
    # URLs that are not http(s)
    ("ingest ftp URL", ["ingest", "ftp://x/y"], "ftp://x/y: only http and https URLs can be fetched"),
    ("ingest file URL", ["ingest", "file:///etc/passwd"], "file:///etc/passwd: only http and https URLs"),
    (
        "--ctgov-url file: ingest",
        ["--ctgov-url", "file:///etc", "ingest", "NCT06731192"],
        "'file:///etc' is not an http(s) registry URL",
    ),
    ("--ctgov-url file: run", ["--ctgov-url", "file:///etc", "run"], "'file:///etc' is not an http(s) registry URL"),
    (
        "--ctgov-url file: backfill",
        ["--ctgov-url", "file:///etc", "backfill", "NCT06731192"],
        "'file:///etc' is not an http(s)",
    ),
    (
        "--ctgov-url ftp: watch add --backfill",
        ["--ctgov-url", "ftp://x", "watch", "add", "NCT04267848", "--backfill"],
        "'ftp://x' is not an http(s) registry URL",
    ),
    ("--ctgov-url without a host", ["--ctgov-url", "http://", "run"], "'http://' is not an http(s) registry URL"),
    # rates
    ("--rate 0", ["--rate", "0", "run"], "Invalid value for '--rate': 0.0 is not in the range x>0"),
    (
        "--rate -1",
        ["--rate", "-1", "ingest", "NCT06731192"],
        "Invalid value for '--rate': -1.0 is not in the range x>0",
    ),
    ("--rate nan", ["--rate", "nan", "run"], "Invalid value for '--rate'"),
    ("--rate abc", ["--rate", "abc", "run"], "Invalid value for '--rate': 'abc' is not a valid float"),
]


NEEDS_DB = {"remove an unknown search"}  # without a database, that is what is wrong first


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.html").write_bytes(b"\x00\x01\x02\x89PNG\xff" * 100)
    (folder / "latin1.txt").write_bytes(
        SEED.read_text().replace("Syndrome", "Syndr\u00f4me").encode("latin-1", "replace")
    )
    with open(folder / "huge.txt", "wb") as huge:
        huge.truncate(32 * 1024 * 1024 + 1)  # sparse: one byte over the limit, nothing on disk
    return folder


@pytest.fixture(scope="module")
def template_db(tmp_path_factory):
    """A database with a trial, its changes, a watched trial and a saved search; checkpointed."""
    db = tmp_path_factory.mktemp("template") / "tw.db"
    edited = ROOT / "tests" / "fixtures" / "edits" / "NCT06731192.edited.txt"
    for args in (
        ["ingest", SEED, "--observed-at", "2025-01-02"],
        ["ingest", edited, "--observed-at", "2025-03-15"],
        ["watch", "add", "NCT06731192", "--note", "n"],
        ["watch", "add", "--search", "query.cond=x", "--name", "s"],
    ):
        result = CliRunner().invoke(cli, ["--db", str(db), *map(str, args)])
        assert result.exit_code == 0, result.output
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # all of it in the main file: a copy of that file is the database
    conn.close()
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0
    return db


def content_checksum(db: Path) -> str:
    """A checksum of everything the database holds (its schema and rows), and of its files."""
    digest = hashlib.sha256()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        for line in conn.iterdump():
            digest.update(line.encode("utf-8"))
    finally:
        conn.close()
    digest.update(db.read_bytes())
    return digest.hexdigest()


@pytest.mark.parametrize("name, args, message", MATRIX, ids=[case[0] for case in MATRIX])
def test_bad_input_is_exit_2_one_line_naming_it_and_nothing_written(
    tmp_path, bad_files, template_db, name, args, message
):
    existing = tmp_path / "existing.db"
    existing.write_bytes(template_db.read_bytes())
    with sqlite3.connect(f"file:{existing}?mode=ro", uri=True) as conn:  # the copy holds the data
        assert conn.execute("select count(*) from changes").fetchone()[0] == 5
    before = content_checksum(existing)
    fresh = tmp_path / "fresh.db"
    args = [arg.replace("{tmp}", str(bad_files)) for arg in args]
    message = message.replace("{tmp}", str(bad_files))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALWATCH_")}
    env["TRIALWATCH_CTGOV_URL"] = "http://127.0.0.1:9"  # nothing here may reach a registry: refused at once

    def attempt(db):
        if args[0] == "--db":  # the case is about --db itself
            return subprocess.run(
                [sys.executable, "-m", "trialwatch", *args],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=60,
                env=env,
            )
        return tw_process(db, *args, env=env)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(attempt, [fresh, existing]))
    FIGURES["bad command lines"] += 1
    FIGURES["bad command line runs"] += len(results)
    for db, result in zip((fresh, existing), results, strict=True):
        where = f"{name} with {'no' if db is fresh else 'an existing'} database"
        expected = "no such database" if db is fresh and name in NEEDS_DB else message
        assert result.returncode == 2, (where, result.stderr)
        assert expected in result.stderr, (where, result.stderr)
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, (where, result.stderr)
        assert "Traceback" not in result.stderr and result.stdout == "", where
    assert not fresh.exists()
    assert not Path(f"{fresh}.lock").exists()
    assert content_checksum(existing) == before


# -- SQL through every text input --------------------------------------------------------------------

SQL = [
    "'; DROP TABLE trials; --",
    '" OR 1=1 --',
    "NCT06731192'--",
    "Robert'); DROP TABLE snapshots;--",
    "x' OR '1'='1",
    "]; DROP TABLE [changes]; --",
]
TABLES = {
    "trials",
    "snapshots",
    "checks",
    "changes",
    "watchlist",
    "searches",
    "runs",
    "_sqlite_migrations",
    "trials_fts",
}


def tables(db) -> set[str]:
    with sqlite3.connect(db) as conn:
        # `checks` is a view over the compact check tables since m010
        return {name for (name,) in conn.execute("select name from sqlite_master where type in ('table', 'view')")}


def test_quotes_and_sql_through_every_text_input_are_stored_verbatim_and_harm_nothing(tmp_path):
    db = tmp_path / "tw.db"
    studies = load_studies()
    note, search_name, other_name = SQL[0], SQL[1], SQL[4]
    search = "query.cond=x'); DROP TABLE trials;--"
    title = "Robert'); DROP TABLE snapshots;-- \" OR 1=1 -- ]; DROP TABLE [changes]; --"
    page = tmp_path / "pages" / "a'; DROP TABLE x;--.txt"
    page.parent.mkdir()
    page.write_text(
        SEED.read_text().replace("Human Umbilical Cord Mesenchymal Stem Cells for Alport Syndrome", title, 1)
    )

    with RegistryServer(studies) as server:

        def tw(*args):
            result = CliRunner().invoke(
                cli, ["--db", str(db), "--ctgov-url", server.url, "--rate", "1000", *map(str, args)]
            )
            if result.exception and not isinstance(result.exception, SystemExit):
                raise result.exception
            FIGURES["sql inputs"] += 1
            return result

        assert tw("watch", "add", "NCT04267848", "--note", note).exit_code == 0
        assert tw("watch", "add", "NCT00973089", "--note", SQL[1]).exit_code == 0
        assert tw("watch", "add", "--search", search, "--name", search_name).exit_code == 0
        assert tw("watch", "add", "--search", f"query.cond={SQL[1]}", "--name", other_name).exit_code == 0
        assert tw("watch", "add", "--search", f"query.cond={SQL[5]}&filter.overallStatus=RECRUITING").exit_code == 0
        assert tw("ingest", page, "--observed-at", "2025-01-02").exit_code == 0
        assert tw("ingest", page.parent).exit_code == 0
        assert tw("run").exit_code == 0
        # The search went out as parameters, verbatim.
        sent = {seen.params.get("query.cond") for seen in server.seen("/api/v2/studies")}
        assert {"x'); DROP TABLE trials;--", SQL[1], SQL[5]} <= sent
        # Every text a reading command takes: refused cleanly or matched as plain text.
        for args in (
            ["diff", "NCT06731192", "--since", SQL[0]],
            ["changes", "--since", SQL[1]],
            ["changes", "--nct", SQL[2]],
            ["show", "NCT06731192", "--at", SQL[3]],
            ["diff", "NCT06731192", "--category", SQL[0]],
            ["history", SQL[2]],
            ["watch", "remove", "--search", SQL[4] + "x"],
            ["ingest", SEED, "--observed-at", SQL[0]],
        ):
            result = tw(*args)
            assert result.exit_code == 2 and "Traceback" not in result.output, (args, result.output)
        assert tw("watch", "remove", "--search", search_name).exit_code == 0  # exactly that one, by its name
        listed = json.loads(tw("watch", "list", "--format", "json").stdout)
        assert tw("history", "NCT06731192").exit_code == 0

    assert TABLES <= tables(db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        notes = dict(conn.execute("select nct_id, note from watchlist where note is not null"))
        assert notes == {"NCT04267848": note, "NCT00973089": SQL[1]}
        assert list(conn.execute("select name, query from searches order by name")) == sorted(
            [(other_name, f"query.cond={SQL[1]}"), (f"query.cond={SQL[5]}&filter.overallStatus=RECRUITING",) * 2]
        )
        assert conn.execute("select title from trials where nct_id = 'NCT06731192'").fetchone()[0] == title
        register(conn)  # records are stored compressed: trialwatch_record() reads them
        record = json.loads(
            conn.execute("select trialwatch_record(id) from snapshots where nct_id = 'NCT06731192'").fetchone()[0]
        )
        assert record["title"] == title
        refs = {r for (r,) in conn.execute("select source_ref from checks where nct_id = 'NCT06731192'")}
        assert refs == {str(page)}
        assert conn.execute("select count(*) from trials").fetchone()[0] == 2 + 1  # two watched, the page's trial
        search_hits = conn.execute(
            "select t.nct_id from trials_fts f join trials t on t.rowid = f.rowid where trials_fts match ?",
            ['"DROP TABLE snapshots"'],
        ).fetchall()
        assert search_hits == [("NCT06731192",)]
    assert {t["nct_id"] for t in listed["trials"]} == {"NCT04267848", "NCT00973089"}
    assert {s["name"] for s in listed["searches"]} == {
        other_name,
        f"query.cond={SQL[5]}&filter.overallStatus=RECRUITING",
    }


# -- static: SQL built with f-strings interpolates only audited names --------------------------------

SQL_WORDS = re.compile(
    r"\b(SELECT|INSERT INTO|UPDATE|DELETE FROM|CREATE|ALTER TABLE|PRAGMA|WHERE|VALUES|DROP)\b| IN \("
)

# file → the expressions its SQL f-strings may interpolate, each checked by hand (module-level
# UPPER_CASE constants are allowed everywhere):
AUDITED = {
    "snapshots/store/store.py": {
        # _TRIAL_UPDATE, _TRIAL_INSERT: column names of the constants TRIAL_COLUMNS and TRIAL_STATE; placeholders
        "', '.join((f'{c} = ?' for c in (*TRIAL_COLUMNS, *TRIAL_STATE)))",
        "', '.join(TRIAL_COLUMNS)",
        "', '.join(('?' for _ in TRIAL_COLUMNS))",
        # changes(): column names from a constant tuple; placeholders; "DESC" or ""
        "column",
        "', '.join(('?' for _ in values))",
        "order",
        # PRAGMA wal_autocheckpoint: an integer computed from a constant and the page size
        "WAL_CHECKPOINT_BYTES // page_size",
        # changes(): the column names of the constant timeline.CHANGE_COLUMNS
        "', '.join(CHANGE_COLUMNS)",
    },
    "snapshots/store/timeline.py": {
        # _CHANGE_INSERT: the column names of the constant CHANGE_COLUMNS; placeholders
        "', '.join(CHANGE_COLUMNS)",
        "', '.join(('?' for _ in CHANGE_COLUMNS))",
    },
    "snapshots/store/history.py": {
        # _HISTORY_UPSERT: the column names of the constant TRIAL_HISTORY_COLUMNS; placeholders
        "', '.join(TRIAL_HISTORY_COLUMNS)",
        "', '.join(('?' for _ in TRIAL_HISTORY_COLUMNS))",
    },
    "snapshots/store/runs.py": {
        # _FINISH: "name = ?" for the column names of the constant RUN_FIGURES
        "', '.join((f'{name} = ?' for name in RUN_FIGURES))",
    },
    "snapshots/store/migrations.py": {
        # migrations: names, JSON paths and view SQL from constants in the module
        "paths",
        "column",
        "value",
        "path",
        "_newest_carrying(path)",
        "joined('conditions')",
        "joined('keywords')",
        "names",
        "_newest_carrying('lead_sponsor', 'lead_sponsor.name')",
        "columns",
        "new_values",
        "old_values",
        "name",
        "sql.strip()",
        # m010_search_by_batch: the triggers' WHEN clause, a constant with new. or old.
        "new_indexed",
        "old_indexed",
    },
}
SOURCES = sorted(
    str(p.relative_to(ROOT)) for d in ("trialwatch", "ingest", "snapshots") for p in (ROOT / d).rglob("*.py")
)


def sql_fstrings(tree):
    """(line, interpolated expression) of every f-string that reads as SQL; and %/format-built SQL."""
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(
                part.value for part in node.values if isinstance(part, ast.Constant) and isinstance(part.value, str)
            )
            if SQL_WORDS.search(text):
                for part in node.values:
                    if isinstance(part, ast.FormattedValue):
                        yield node.lineno, ast.unparse(part.value)
        elif (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Mod)
            and isinstance(node.left, ast.Constant)
            and isinstance(node.left.value, str)
            and SQL_WORDS.search(node.left.value)
        ):
            yield node.lineno, "%-formatting"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "format"
            and isinstance(node.func.value, ast.Constant)
            and isinstance(node.func.value.value, str)
            and SQL_WORDS.search(node.func.value.value)
        ):
            yield node.lineno, ".format()"


def test_sql_is_parameterised_fstrings_interpolate_only_audited_names():
    found = Counter()
    unaudited = []
    for name in SOURCES:
        tree = ast.parse((ROOT / name).read_text(encoding="utf-8"))
        constants = {
            target.id
            for node in tree.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name) and target.id.isupper()
        }
        for line, expression in sql_fstrings(tree):
            found[name] += 1
            if expression not in AUDITED.get(name, set()) | constants:
                unaudited.append(f"{name}:{line}: {{{expression}}}")
    assert not unaudited, "SQL f-strings interpolating names nobody audited (use ? parameters):\n" + "\n".join(
        unaudited
    )
    assert found["snapshots/store/store.py"] >= 3 and found["snapshots/store/migrations.py"] >= 3  # the check sees them


# -- no credentials stored -----------------------------------------------------------------------------


def _decoded(value, encoding):
    if value is None or encoding is None:
        return value
    if encoding == "zlib":
        return zlib.decompress(value)
    import zstandard

    return zstandard.ZstdDecompressor().decompress(value)


def test_no_credentials_or_request_headers_are_stored(tmp_path):
    db = tmp_path / "tw.db"
    with RegistryServer(load_studies()) as server:
        server.pages["/clinical-trials/NCT06731192"] = (SEED.read_bytes(), "text/plain; charset=utf-8")
        for args in (
            ["watch", "add", "NCT04267848", "NCT00973089"],
            ["watch", "add", "--search", "query.cond=covid"],
            ["run"],
            ["ingest", "NCT00184067", server.url_for("/clinical-trials/NCT06731192")],
        ):
            result = CliRunner().invoke(cli, ["--db", str(db), "--ctgov-url", server.url, "--rate", "1000", *args])
            assert result.exit_code == 0, result.output
        sent = {seen.headers.get("User-Agent") for seen in server.log}
    agent = user_agent()
    assert sent == {agent}  # the client did send a User-Agent: the one header that could have leaked
    forbidden = [b"Authorization", b"Cookie", b"User-Agent", b"Bearer ", agent.encode(), b"Accept-Encoding"]  # as sent
    with sqlite3.connect(db) as conn:
        register(conn)
        for (table,) in conn.execute("select name from sqlite_master where type = 'table'").fetchall():
            columns = [row[1] for row in conn.execute(f"pragma table_info([{table}])")]
            for row in conn.execute(f"select * from [{table}]"):
                values = dict(zip(columns, row, strict=True))
                if table == "snapshots":
                    values["raw"] = _decoded(values["raw"], values["raw_encoding"])
                    if values["codec"] is not None:  # one compressed frame: read it as the record and input it holds
                        values["record"], values["raw"] = conn.execute(
                            "select trialwatch_record(?), trialwatch_raw(?)", [values["id"], values["id"]]
                        ).fetchone()
                for column, value in values.items():
                    data = value if isinstance(value, bytes) else str(value).encode("utf-8")
                    for word in forbidden:
                        assert word not in data, (table, column, word)
    for path in (db, Path(f"{db}-wal")):
        if path.exists():
            data = path.read_bytes()
            assert b"Authorization" not in data and b"Cookie" not in data
