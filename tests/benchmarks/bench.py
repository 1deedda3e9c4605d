"""trialwatch at registry scale: one command, every figure of the storage issue (and the earlier ones).

    python tests/benchmarks/bench.py --out bench.json

Builds a registry-shaped corpus from the 25 real study records in tests/fixtures/ctgov/studies
(deterministic: distinct NCT ids, mostly small records and now and then a big one, mean near
17 KB as in the real registry), written as a zip like ClinicalTrials.gov's bulk download, then
measures, on this machine:

1. parse + map throughput against plain `json.loads` of the same bytes;
2. a first import into a fresh database through the real command (`trialwatch ingest corpus.zip`):
   wall time, trials/s, peak memory of the process, database size against the raw JSON;
3. a second import where 2% of the trials changed (status and enrollment): wall time, trials/s,
   snapshots written (exactly the changed trials, checked), database growth per changed and per
   unchanged trial; then the same corpus again, every trial unchanged;
4. `trialwatch diff` and `trialwatch history` of one trial: whole process and in-process;
5. the diff of the largest record (1,148 sites) against an edited copy;
6. a watchlist refresh of 10,000 trials against a local registry server: requests and wall time;
7. a synthetic registry history (`--history-trials`, default 100,000, × `--versions`, default 7):
   every trial's next registry version bumps its last-update date and makes one to three of the
   edits versions make most (status, a date moved, enrollment, a site added, a criterion added,
   an outcome's time frame, the summary), each keeping the study's own formatting; imported
   version by version: database size, import time, growth per version, the projection for the
   whole registry (600,000 trials × 7.4 versions), and `diff`, `history`, `show --at` of one trial.

The last lines are the storage issue's table: each row before, now, and its target.

Prints a table and writes the figures as JSON (`--out`).  Not part of the test run (pytest
collects `test_*.py` only); tests/test_benchmark_smoke.py runs it at a tiny size.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from trialwatch.ingest.ctgov import map_study  # noqa: E402
from trialwatch.ingest.parse import parse_bytes  # noqa: E402
from trialwatch.snapshots.changes.diff import diff_records  # noqa: E402

STUDIES = ROOT / "tests" / "fixtures" / "ctgov" / "studies"
TARGET_MEAN = 17_000  # bytes: ClinicalTrials.gov's mean study JSON (10 GB / 600,000)
LARGEST = "NCT04267848"  # 1,148 sites
FIRST_ID = 70_000_001
SEED = 7
DAY1, DAY2, DAY3 = "2025-01-01T06:00:00+00:00", "2025-01-02T06:00:00+00:00", "2025-01-03T06:00:00+00:00"

TARGETS = {  # figure: (comparison, bound); the first eight are the rows of the storage issue's table
    "first_import.db_percent_of_raw": ("<=", 25),
    "growth.bytes_per_changed_version": ("<=", 2048),
    "unchanged_import.bytes_per_unchanged": ("<=", 40),
    "first_import.times_json_loads": ("<=", 4),
    "unchanged_import.times_json_loads": ("<=", 2),
    "history.projected_registry_gb": ("<=", 20),
    "history.slowest_read_ms": ("<=", 300),
    "imports.peak_rss_mb": ("<=", 500),
    "diff.in_process_ms": ("<=", 20),
    "largest_diff.ms": ("<=", 200),
    "watchlist.requests": ("<=", 10),
}
# The issue's table: row → (figures it is read from, "before" as the issue measured it).
ISSUE_ROWS = [
    ("database after first import", "first_import.db_percent_of_raw", "83% of raw JSON"),
    ("growth per changed version", "growth.bytes_per_changed_version", "~15-23 KB"),
    ("growth per unchanged check", "unchanged_import.bytes_per_unchanged", "176 B"),
    ("first import, x json.loads", "first_import.times_json_loads", "8.6x"),
    ("re-import unchanged, x json.loads", "unchanged_import.times_json_loads", "~3.9x"),
    ("history: projected full registry (GB)", "history.projected_registry_gb", "~65 GB"),
    ("diff/history/show --at, slowest (ms)", "history.slowest_read_ms", "259 ms"),
    ("peak memory (MB)", "imports.peak_rss_mb", "243 MB"),
]


# -- the corpus --------------------------------------------------------------------------


def load_templates() -> list[tuple[str, bytes]]:
    out = []
    for path in sorted(STUDIES.glob("*.json")):
        data = path.read_bytes()
        out.append((json.loads(data)["protocolSection"]["identificationModule"]["nctId"], data))
    return out


def size_weights(sizes: list[int], mean: float = TARGET_MEAN) -> list[float]:
    """Weights ∝ size^-a, `a` chosen so the weighted mean size is `mean`: the small records
    (most of the registry) often, the big ones with results now and then."""

    def weighted_mean(a):
        weights = [size**-a for size in sizes]
        return sum(w * s for w, s in zip(weights, sizes, strict=True)) / sum(weights)

    low, high = 0.0, 8.0
    for _ in range(80):
        middle = (low + high) / 2
        low, high = (middle, high) if weighted_mean(middle) > mean else (low, middle)
    return [size**-high for size in sizes]


def _sub(data: bytes, pattern: bytes, make) -> bytes:
    """`data` with the first match of `pattern` (two groups: what precedes the value, the value)
    given a new value by `make(old value)`: an edit that keeps the study's own formatting, as the
    registry's next version would."""
    match = re.search(pattern, data)
    if not match:
        return data
    return data[: match.start(2)] + make(match.group(2)) + data[match.end(2) :]


STATUS = rb'("overallStatus"\s*:\s*")([A-Z_]+)'
ENROLLMENT = rb'("enrollmentInfo"\s*:\s*\{\s*"count"\s*:\s*)(\d+)'
LAST_UPDATE = rb'("lastUpdatePostDateStruct"\s*:\s*\{\s*"date"\s*:\s*")([0-9-]+)'
PRIMARY_COMPLETION = rb'("primaryCompletionDateStruct"\s*:\s*\{\s*"date"\s*:\s*")([0-9-]+)'


def changed_study(data: bytes) -> bytes:
    """The study with its status and enrollment changed (as a registry update would), its
    formatting kept."""
    data = _sub(data, STATUS, lambda old: b"COMPLETED" if old == b"ACTIVE_NOT_RECRUITING" else b"ACTIVE_NOT_RECRUITING")
    return _sub(data, ENROLLMENT, lambda old: str(int(old) + 25).encode())


def _later(days: int):
    def make(old: bytes) -> bytes:
        text = old.decode()
        day = datetime.date.fromisoformat(text if len(text) == 10 else f"{text[:7]}-01")
        return (day + datetime.timedelta(days=days)).isoformat()[: len(text)].encode()

    return make


# One registry version's edits (each version bumps the last-update date and makes one to three of
# these, drawn at random): what ClinicalTrials.gov versions change most, after the dates.
VERSION_EDITS = [
    (
        "status",
        lambda d, r: _sub(d, STATUS, lambda _: r.choice([b"RECRUITING", b"ACTIVE_NOT_RECRUITING", b"COMPLETED"])),
    ),
    ("primary completion moved", lambda d, r: _sub(d, PRIMARY_COMPLETION, _later(r.choice([31, 92, 183])))),
    ("enrollment", lambda d, r: _sub(d, ENROLLMENT, lambda old: str(int(old) + r.randint(-20, 60)).encode())),
    (
        "site added",
        lambda d, r: _sub(
            d,
            rb'("locations"\s*:\s*\[)()',
            lambda _: (
                b'{"facility": "Site %d", "status": "RECRUITING", "city": "Lyon", "country": "France"}, '
                % r.randint(1, 999)
            ),
        ),
    ),
    (
        "criterion added",
        lambda d, r: _sub(
            d, rb'("eligibilityCriteria"\s*:\s*")()', lambda _: b"* Participation in another trial within 30 days\\n"
        ),
    ),
    (
        "outcome time frame",
        lambda d, r: _sub(d, rb'("timeFrame"\s*:\s*")()', lambda _: b"Up to %d weeks; " % r.choice([12, 24, 52])),
    ),
    (
        "summary edited",
        lambda d, r: _sub(d, rb'("briefSummary"\s*:\s*")()', lambda _: b"This study was amended. "),
    ),
]


def next_version(data: bytes, version: int, rng: random.Random) -> bytes:
    """The registry's next version of a study: updated `version` * 30 days later, with one to three edits."""
    data = _sub(data, LAST_UPDATE, _later(30))
    for _, edit in rng.sample(VERSION_EDITS, rng.randint(1, 3)):
        data = edit(data, rng)
    return data


def build_corpus(workdir: Path, trials: int, changed_fraction: float) -> dict:
    """corpus.zip (the first download) and corpus2.zip (the next one: `changed_fraction` of the
    trials changed); returns what was built."""
    templates = load_templates()
    weights = size_weights([len(data) for _, data in templates])
    rng = random.Random(SEED)
    picks = rng.choices(range(len(templates)), weights=weights, k=trials)
    changed = set(rng.sample(range(trials), round(trials * changed_fraction)))
    raw_bytes = 0
    changed_ids = []
    with (
        zipfile.ZipFile(workdir / "corpus.zip", "w", zipfile.ZIP_DEFLATED) as first,
        zipfile.ZipFile(workdir / "corpus2.zip", "w", zipfile.ZIP_DEFLATED) as second,
    ):
        for number, pick in enumerate(picks):
            old_id, template = templates[pick]
            nct_id = f"NCT{FIRST_ID + number:08d}"
            data = template.replace(old_id.encode(), nct_id.encode())
            raw_bytes += len(data)
            name = f"ctg-studies/{nct_id}.json"
            first.writestr(name, data)
            if number in changed:
                changed_ids.append(nct_id)
                data = changed_study(data)
            second.writestr(name, data)
    counts = {nct: picks.count(i) for i, (nct, _) in enumerate(templates)}
    with_results = sum(picks.count(i) for i, (_, data) in enumerate(templates) if b'"resultsSection"' in data)
    return {
        "trials": trials,
        "raw_json_bytes": raw_bytes,
        "mean_bytes": round(raw_bytes / trials),
        "zip_bytes": (workdir / "corpus.zip").stat().st_size,
        "changed": len(changed_ids),
        "changed_ids": changed_ids,
        "records_with_results_percent": round(100 * with_results / trials, 1),
        "template_counts": counts,
    }


def members(zip_path: Path, limit: int) -> list[bytes]:
    with zipfile.ZipFile(zip_path) as archive:
        return [archive.read(info) for info in archive.infolist()[:limit]]


# -- measuring ---------------------------------------------------------------------------


def best_rate(func, items, repeat: int = 3) -> float:
    best = min(timed(func, items) for _ in range(repeat))
    return len(items) / best


def timed(func, items) -> float:
    start = time.perf_counter()
    for item in items:
        func(item)
    return time.perf_counter() - start


def trialwatch_command() -> list[str]:
    script = Path(sys.executable).with_name("trialwatch")
    return [str(script)] if script.exists() else [sys.executable, "-m", "trialwatch"]


def tree_rss_kb(pid: int) -> tuple[int, int]:
    """Resident memory of a process and its children (the archive reader), in KiB: the sum of
    their RSS now, and the largest high-water mark (VmHWM) of any one of them so far."""
    total, largest, pids = 0, 0, [pid]
    while pids:
        current = pids.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(status.split("VmRSS:")[1].split()[0]) if "VmRSS:" in status else 0
            largest = max(largest, int(status.split("VmHWM:")[1].split()[0]) if "VmHWM:" in status else 0)
            for task in Path(f"/proc/{current}/task").iterdir():
                pids += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue
    return total, largest


def run_cli(args: list[str], cwd: Path, *, sample: bool = False) -> dict:
    """Run trialwatch as its own process: wall time, exit code; with `sample`, peak memory read
    from /proc every 50 ms: of the sum over it and its children, and of the largest one alone.
    Not `ru_maxrss` from wait4: the child is started by vfork, and Linux hands the exec'd process
    the high-water mark of the memory it replaced, this benchmark's own (hundreds of MB by the
    history step: the corpora it parsed, the ZipInfo of the 7 archives it wrote), whatever
    trialwatch itself used."""
    out, err = cwd / "cli.out", cwd / "cli.err"
    env = {**os.environ, "TRIALWATCH_DB": str(cwd / "bench.db")}
    start = time.perf_counter()
    peak_tree = peak_largest = 0
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        process = subprocess.Popen(trialwatch_command() + args, cwd=cwd, stdout=stdout, stderr=stderr, env=env)
        while True:
            pid, status, _ = os.wait4(process.pid, os.WNOHANG if sample else 0)
            if pid:
                break
            tree, largest = tree_rss_kb(process.pid)
            peak_tree, peak_largest = max(peak_tree, tree), max(peak_largest, largest)
            time.sleep(0.05)
    wall = time.perf_counter() - start
    code = process.returncode = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"trialwatch {' '.join(args)} exited {code}: {err.read_text()[-2000:]}")
    return {
        "wall_s": wall,
        "peak_rss_mb": max(peak_largest, peak_tree) / 1024,
        "peak_rss_largest_process_mb": peak_largest / 1024,
        "stderr": err.read_text().strip()[-300:],
        "stdout": out.read_text(),
    }


def db_stats(db: Path) -> dict:
    """Size of the database (checkpointed) and where its bytes are, from dbstat."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    by_name = dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall())
    # Bytes the b-trees use (cells and their headers; not the free space left in pages): growth by
    # a few rows shows here even when it fits in pages the database had (32 KB pages).
    used = conn.execute("SELECT sum(pgsize - unused) FROM dbstat").fetchone()[0]
    columns = conn.execute("SELECT count(*), sum(length(record)), sum(length(raw)) FROM snapshots").fetchone()
    counts = {
        table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("trials", "snapshots", "checks", "changes")
    }
    conn.close()
    return {
        "bytes": (pages - free) * page_size,
        "used_bytes": used,
        "file_bytes": db.stat().st_size,
        "record_bytes": columns[1] or 0,
        "raw_bytes": columns[2] or 0,
        "tables": by_name,
        "rows": counts,
    }


def import_corpus(workdir: Path, corpus: str, observed: str, trials: int) -> dict:
    run = run_cli(["ingest", corpus, "--observed-at", observed], workdir, sample=True)
    stats = db_stats(workdir / "bench.db")
    return {
        "wall_s": round(run["wall_s"], 2),
        "trials_per_s": round(trials / run["wall_s"]),
        "peak_rss_mb": round(run["peak_rss_mb"], 1),
        "peak_rss_largest_process_mb": round(run["peak_rss_largest_process_mb"], 1),
        "summary": run["stderr"],
        "db": stats,
    }


def median_ms(func, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        samples.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(samples), 2)


# -- the six measurements ----------------------------------------------------------------


def measure_parse(workdir: Path, sample: int) -> dict:
    datas = members(workdir / "corpus.zip", sample)
    loads_rate = best_rate(json.loads, datas)
    parse_rate = best_rate(lambda data: parse_bytes(data, "x.json"), datas)
    return {
        "records": len(datas),
        "mean_bytes": round(sum(map(len, datas)) / len(datas)),
        "json_loads_per_s": round(loads_rate),
        "parse_map_per_s": round(parse_rate),
        "times_json_loads": round(loads_rate / parse_rate, 2),
    }


def measure_imports(workdir: Path, corpus: dict, loads_rate: float) -> dict:
    trials, changed = corpus["trials"], corpus["changed"]
    first = import_corpus(workdir, "corpus.zip", DAY1, trials)
    first["db_percent_of_raw"] = round(100 * first["db"]["bytes"] / corpus["raw_json_bytes"], 1)
    first["times_json_loads"] = round(loads_rate / first["trials_per_s"], 2)

    second = import_corpus(workdir, "corpus2.zip", DAY2, trials)
    written = second["db"]["rows"]["snapshots"] - first["db"]["rows"]["snapshots"]
    assert written == changed, f"second import wrote {written} snapshots for {changed} changed trials"
    second["snapshots_written"] = written
    second["growth_bytes"] = second["db"]["used_bytes"] - first["db"]["used_bytes"]

    third = import_corpus(workdir, "corpus2.zip", DAY3, trials)
    assert third["db"]["rows"]["snapshots"] == second["db"]["rows"]["snapshots"], "unchanged import wrote snapshots"
    third["growth_bytes"] = third["db"]["used_bytes"] - second["db"]["used_bytes"]
    per_unchanged = third["growth_bytes"] / trials
    third["bytes_per_unchanged"] = round(per_unchanged, 1)
    third["times_json_loads"] = round(loads_rate / third["trials_per_s"], 2)
    second["bytes_per_unchanged"] = round(per_unchanged, 1)
    second["bytes_per_changed"] = round((second["growth_bytes"] - (trials - changed) * per_unchanged) / max(changed, 1))
    second["record_raw_bytes_per_changed"] = round(
        (
            second["db"]["record_bytes"]
            + second["db"]["raw_bytes"]
            - first["db"]["record_bytes"]
            - first["db"]["raw_bytes"]
        )
        / max(changed, 1)
    )
    return {"first_import": first, "second_import": second, "unchanged_import": third}


def measure_reads(workdir: Path, nct_id: str, repeat: int) -> dict:
    from trialwatch.snapshots.reports.render import render_changes, render_history
    from trialwatch.snapshots.store.store import Store

    whole = {}
    for command in ("diff", "history"):
        run_cli([command, nct_id], workdir)  # warm the page cache
        whole[command] = round(
            statistics.median(run_cli([command, nct_id], workdir)["wall_s"] * 1000 for _ in range(repeat)), 1
        )
    store = Store(str(workdir / "bench.db"), create=False)
    out = {
        "trial": nct_id,
        "changes": len(store.changes([nct_id])),
        "diff_whole_process_ms": whole["diff"],
        "history_whole_process_ms": whole["history"],
        "diff_in_process_ms": median_ms(lambda: render_changes(store.changes([nct_id]), "text"), repeat * 4),
        "history_in_process_ms": median_ms(lambda: render_history(store.history(nct_id), "text"), repeat * 4),
        "open_store_ms": median_ms(lambda: Store(str(workdir / "bench.db"), create=False).close(), repeat),
    }
    store.close()
    return out


HISTORY_FIRST_ID = 80_000_001
REGISTRY_TRIALS = 600_000  # ClinicalTrials.gov, 2025
REGISTRY_VERSIONS = 7.4  # versions per trial, on average


def build_history(workdir: Path, trials: int, versions: int) -> dict:
    """history-1.zip … history-N.zip: every trial's 1st … Nth registry version (next_version)."""
    templates = load_templates()
    weights = size_weights([len(data) for _, data in templates])
    rng = random.Random(SEED + 1)
    picks = rng.choices(range(len(templates)), weights=weights, k=trials)
    archives = [
        zipfile.ZipFile(workdir / f"history-{n}.zip", "w", zipfile.ZIP_DEFLATED) for n in range(1, versions + 1)
    ]
    raw_bytes = 0
    try:
        for number, pick in enumerate(picks):
            old_id, template = templates[pick]
            nct_id = f"NCT{HISTORY_FIRST_ID + number:08d}"
            data = template.replace(old_id.encode(), nct_id.encode())
            raw_bytes += len(data)
            for version, archive in enumerate(archives):
                if version:
                    data = next_version(data, version, rng)
                archive.writestr(f"ctg-studies/{nct_id}.json", data)
    finally:
        for archive in archives:
            archive.close()
    return {"trials": trials, "versions": versions, "raw_json_bytes_first": raw_bytes}


def measure_history(workdir: Path, trials: int, versions: int, repeat: int) -> dict:
    """A synthetic registry history: `trials` trials × `versions` versions, imported version by
    version (a day apart, each version changing every trial); size, times, reads, projection."""
    built = build_history(workdir, trials, versions)
    sizes, imports = [], []
    db = workdir / "bench.db"
    db.unlink(missing_ok=True)
    for version in range(1, versions + 1):
        when = f"2024-{version:02d}-01T06:00:00+00:00"
        result = import_corpus(workdir, f"history-{version}.zip", when, trials)
        sizes.append(result["db"]["bytes"])
        imports.append(result)
        (workdir / f"history-{version}.zip").unlink()
    per_trial = sizes[0] / trials
    per_version = (sizes[-1] - sizes[0]) / (trials * (versions - 1)) if versions > 1 else 0.0
    projected = REGISTRY_TRIALS * (per_trial + (REGISTRY_VERSIONS - 1) * per_version)
    nct_id = f"NCT{HISTORY_FIRST_ID:08d}"
    reads = {}
    for name, args in (
        ("diff", ["diff", nct_id]),
        ("history", ["history", nct_id]),
        ("show_at", ["show", nct_id, "--at", "2024-04-15"]),
    ):
        run_cli(args, workdir)  # warm the page cache
        reads[f"{name}_whole_process_ms"] = round(
            statistics.median(run_cli(args, workdir)["wall_s"] * 1000 for _ in range(repeat)), 1
        )
    return {
        **built,
        "db_bytes": sizes[-1],
        "db_bytes_after_each_version": sizes,
        "snapshots": imports[-1]["db"]["rows"]["snapshots"],
        "import_s": round(sum(result["wall_s"] for result in imports), 1),
        "import_s_each": [result["wall_s"] for result in imports],
        "trials_per_s_changed": round(trials / statistics.median(r["wall_s"] for r in imports[1:]))
        if versions > 1
        else 0,
        "peak_rss_mb": max(result["peak_rss_mb"] for result in imports),
        "bytes_per_trial_first": round(per_trial),
        "bytes_per_version": round(per_version),
        "projected_registry_gb": round(projected / 1e9, 1),
        "reads": reads,
        "trial": nct_id,
    }


def edited_copy(record: dict) -> dict:
    """The largest record as a registry update might leave it: status, enrollment, a date moved,
    sites dropped, added and changed, an exclusion criterion added."""
    new = copy.deepcopy(record)
    new["status"] = "ACTIVE_NOT_RECRUITING"
    if new["enrollment"]:
        new["enrollment"]["count"] = (new["enrollment"]["count"] or 0) + 120
    new["primary_completion_date"] = {"date": "2027-06-30", "type": "ESTIMATED"}
    sites = new["locations"]
    del sites[10:20]
    for site in sites[100:400:3]:
        site["status"] = "COMPLETED"
    sites.extend(
        {"facility": f"New Site {n}", "city": "Lyon", "state": None, "country": "France", "status": "RECRUITING"}
        for n in range(5)
    )
    new["eligibility"]["exclusion"].append("Participation in another trial within 30 days")
    return new


def measure_largest_diff(repeat: int) -> dict:
    record = map_study(json.loads((STUDIES / f"{LARGEST}.json").read_bytes()))
    new = edited_copy(record)
    changes = diff_records(record, new)
    return {
        "trial": LARGEST,
        "sites": len(record["locations"]),
        "changes": len(changes),
        "ms": median_ms(lambda: diff_records(record, new), repeat),
    }


def measure_watchlist(workdir: Path, count: int) -> dict:
    from registry_server import RegistryServer, synthetic_studies
    from trialwatch.ingest.http import Registry
    from trialwatch.ingest.parse import Parsed
    from trialwatch.ingest.registry import fetch_trials
    from trialwatch.snapshots.store.store import Store

    template = json.loads((STUDIES / "NCT03418623.json").read_bytes())  # a small real record
    studies = synthetic_studies(count, template)
    store = Store(str(workdir / "watch.db"))
    with RegistryServer(studies) as server:
        registry = Registry(server.url, rate=None)
        start = time.perf_counter()
        fetched = list(fetch_trials(registry, list(studies)))
        fetch_s = time.perf_counter() - start
        for item in fetched:
            if isinstance(item, Parsed):
                store.save(item.record, source_kind=item.source_kind, source_ref=item.source_ref, raw=item.raw)
        total_s = time.perf_counter() - start
        requests = registry.requests_made
        hits = sum(server.hits.values())
    store.close()
    ok = sum(isinstance(item, Parsed) for item in fetched)
    assert ok == count, f"{count - ok} of {count} watched trials not fetched"
    return {
        "trials": count,
        "requests": requests,
        "server_hits": hits,
        "fetch_s": round(fetch_s, 2),
        "fetch_and_store_s": round(total_s, 2),
    }


# -- the report --------------------------------------------------------------------------


def figure(report: dict, dotted: str):
    section, key = dotted.split(".")
    reads, imports = report["reads"], report["imports"]
    history = report.get("history") or {}
    changed = [imports["second_import"]["bytes_per_changed"]]
    if history.get("versions", 0) > 1:
        changed.append(history["bytes_per_version"])
    sources = {
        "first_import": imports["first_import"],
        "unchanged_import": imports["unchanged_import"],
        "growth": {"bytes_per_changed_version": max(changed)},
        "imports": {
            "peak_rss_mb": max(
                [imports[k]["peak_rss_mb"] for k in ("first_import", "second_import", "unchanged_import")]
                + ([history["peak_rss_mb"]] if history else [])
            )
        },
        "history": {
            "projected_registry_gb": history.get("projected_registry_gb"),
            "slowest_read_ms": max(history["reads"].values()) if history else None,
        },
        "diff": {"in_process_ms": reads["diff_in_process_ms"], "whole_process_ms": reads["diff_whole_process_ms"]},
        "largest_diff": report["largest_diff"],
        "watchlist": report["watchlist"],
    }
    return sources[section][key]


def check_targets(report: dict) -> dict:
    out = {}
    for name, (op, bound) in TARGETS.items():
        value = figure(report, name)
        if value is None:
            continue
        met = {">=": value >= bound, "<=": value <= bound, "<": value < bound}[op]
        out[name] = {"value": value, "target": f"{op} {bound}", "met": met}
    return out


def table(report: dict) -> str:
    c, p, i, r, d, w = (report[k] for k in ("corpus", "parse", "imports", "reads", "largest_diff", "watchlist"))
    first, second, third = i["first_import"], i["second_import"], i["unchanged_import"]
    mb = 1024 * 1024
    rows = [
        (
            "corpus",
            f"{c['trials']:,} trials, mean {c['mean_bytes']:,} B, raw JSON {c['raw_json_bytes'] / mb:,.0f} MiB, "
            f"zip {c['zip_bytes'] / mb:,.0f} MiB, {c['records_with_results_percent']}% with results",
        ),
        (
            "1 parse",
            f"json.loads {p['json_loads_per_s']:,}/s; parse+map {p['parse_map_per_s']:,}/s "
            f"({p['times_json_loads']}x json.loads)",
        ),
        (
            "2 first import",
            f"{first['wall_s']} s, {first['trials_per_s']:,} trials/s ({first['times_json_loads']}x json.loads), "
            f"peak {first['peak_rss_mb']} MB",
        ),
        (
            "  database",
            f"{first['db']['bytes'] / mb:,.0f} MiB = {first['db_percent_of_raw']}% of raw JSON "
            f"(records and raw inputs {(first['db']['record_bytes'] + first['db']['raw_bytes']) / mb:,.0f} MiB)",
        ),
        (
            "3 2% changed",
            f"{second['wall_s']} s, {second['trials_per_s']:,} trials/s, {second['snapshots_written']:,} snapshots "
            f"(= changed), +{second['bytes_per_changed']:,} B per changed, "
            f"+{second['bytes_per_unchanged']} B per unchanged",
        ),
        (
            "  all unchanged",
            f"{third['wall_s']} s, {third['trials_per_s']:,} trials/s, +{third['bytes_per_unchanged']} B per check",
        ),
        ("4 diff", f"whole process {r['diff_whole_process_ms']} ms, in-process {r['diff_in_process_ms']} ms"),
        ("  history", f"whole process {r['history_whole_process_ms']} ms, in-process {r['history_in_process_ms']} ms"),
        ("5 largest diff", f"{d['trial']} ({d['sites']:,} sites, {d['changes']} changes): {d['ms']} ms"),
        (
            "6 watchlist",
            f"{w['trials']:,} trials: {w['requests']} requests, fetch {w['fetch_s']} s, "
            f"fetch+store {w['fetch_and_store_s']} s",
        ),
    ]
    h = report.get("history")
    if h:
        rows.append(
            (
                "7 history",
                f"{h['trials']:,} trials x {h['versions']} versions: {h['snapshots']:,} snapshots, "
                f"{h['db_bytes'] / mb:,.0f} MiB, imported in {h['import_s']} s "
                f"({h['trials_per_s_changed']:,} changed trials/s); {h['bytes_per_trial_first']:,} B per trial "
                f"+ {h['bytes_per_version']:,} B per version; projected registry ({REGISTRY_TRIALS:,} x "
                f"{REGISTRY_VERSIONS}) {h['projected_registry_gb']} GB",
            )
        )
        rows.append(
            ("  reads", ", ".join(f"{k.replace('_whole_process_ms', '')} {v} ms" for k, v in h["reads"].items()))
        )
    lines = [f"{name:<16} {text}" for name, text in rows]
    lines += [
        "",
        f"{'storage issue':<40} {'before':<16} {'now':<10} target",
    ]
    for label, name, before in ISSUE_ROWS:
        target = report["targets"].get(name)
        if target:
            verdict = "met" if target["met"] else "NOT MET"
            lines.append(f"{label:<40} {before:<16} {target['value']!s:<10} {target['target']}  {verdict}")
    lines.append("")
    for name, target in report["targets"].items():
        lines.append(
            f"{'met' if target['met'] else 'NOT MET':<8} {name:<40} {target['value']} (target {target['target']})"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=100_000, help="corpus size (default 100,000)")
    parser.add_argument("--changed", type=float, default=0.02, help="fraction changed in the second import")
    parser.add_argument("--watch", type=int, default=10_000, help="watchlist size (default 10,000)")
    parser.add_argument("--sample", type=int, default=10_000, help="records timed for parse throughput")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each timed read (median)")
    parser.add_argument("--history-trials", type=int, default=100_000, help="trials of the synthetic history (0: none)")
    parser.add_argument("--versions", type=int, default=7, help="versions of each trial in the synthetic history")
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    parser.add_argument(
        "--workdir", type=Path, help="keep the corpus and databases here (default: a temp dir, removed)"
    )
    args = parser.parse_args(argv)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="trialwatch-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "bench.db").unlink(missing_ok=True)
    try:
        started = time.perf_counter()
        corpus = build_corpus(workdir, args.trials, args.changed)
        report = {
            "machine": {
                "cpus": os.cpu_count(),
                "python": sys.version.split()[0],
                "sqlite": sqlite3.sqlite_version,
                "platform": sys.platform,
            }
        }
        report["corpus"] = {k: v for k, v in corpus.items() if k != "changed_ids"}
        report["parse"] = measure_parse(workdir, args.sample)
        report["imports"] = measure_imports(workdir, corpus, report["parse"]["json_loads_per_s"])
        report["reads"] = measure_reads(workdir, corpus["changed_ids"][0], args.repeat)
        report["largest_diff"] = measure_largest_diff(args.repeat)
        report["watchlist"] = measure_watchlist(workdir, args.watch)
        if args.history_trials:
            report["history"] = measure_history(workdir, args.history_trials, args.versions, args.repeat)
        report["targets"] = check_targets(report)
        report["bench_s"] = round(time.perf_counter() - started, 1)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    print(table(report))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
