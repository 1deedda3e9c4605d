"""The registry-scale benchmark (tests/benchmarks/bench.py) runs, at a tiny size, and reports
every figure.  Its timings are not checked here: they are the benchmark's job, not a test's."""

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parent / "benchmarks" / "bench.py"


def test_benchmark_runs_small_and_reports_every_figure(tmp_path):
    out = tmp_path / "bench.json"
    run = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--trials",
            "300",
            "--watch",
            "1500",
            "--sample",
            "300",
            "--repeat",
            "2",
            "--history-trials",
            "200",
            "--versions",
            "3",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["corpus"]["trials"] == 300 and report["corpus"]["changed"] == 6
    assert 5_000 < report["corpus"]["mean_bytes"] < 60_000
    for key in ("json_loads_per_s", "parse_map_per_s", "times_json_loads"):
        assert report["parse"][key] > 0
    first, second, again = (report["imports"][k] for k in ("first_import", "second_import", "unchanged_import"))
    for key in ("wall_s", "trials_per_s", "peak_rss_mb", "db_percent_of_raw", "times_json_loads"):
        assert first[key] > 0
    assert second["snapshots_written"] == 6  # exactly the changed trials
    assert second["bytes_per_changed"] > 0 and second["bytes_per_unchanged"] >= 0
    assert again["trials_per_s"] > 0 and again["bytes_per_unchanged"] >= 0
    reads = report["reads"]
    for key in ("diff_whole_process_ms", "diff_in_process_ms", "history_whole_process_ms", "history_in_process_ms"):
        assert reads[key] > 0
    assert reads["changes"] >= 2  # status and enrollment
    assert report["largest_diff"]["sites"] == 1148 and report["largest_diff"]["ms"] > 0
    assert report["watchlist"]["requests"] == 2 and report["watchlist"]["trials"] == 1500
    history = report["history"]
    assert history["trials"] == 200 and history["versions"] == 3 and history["snapshots"] > 200
    assert history["projected_registry_gb"] > 0 and set(history["reads"]) == {
        "diff_whole_process_ms",
        "history_whole_process_ms",
        "show_at_whole_process_ms",
    }
    # Every row of the storage issue's table is a target the benchmark checks and prints.
    assert set(report["targets"]) >= {
        "first_import.db_percent_of_raw",
        "growth.bytes_per_changed_version",
        "unchanged_import.bytes_per_unchanged",
        "first_import.times_json_loads",
        "unchanged_import.times_json_loads",
        "history.projected_registry_gb",
        "history.slowest_read_ms",
        "imports.peak_rss_mb",
    }
    assert "first import" in run.stdout and "watchlist" in run.stdout and "storage issue" in run.stdout
