"""How long findings take and how much room they need: `python tests/benchmarks/findings_bench.py`.

Stores N one-snapshot trials made from the 25 recorded studies (distinct ids), then evaluates
and stores every trial's findings (`jobs.findings.refresh`), and reports the time per trial
and the bytes the findings tables take (SQLite's dbstat).  The README's figures come from it.
"""

from __future__ import annotations

import argparse
import copy
import json
import sqlite3
import tempfile
import time
from datetime import date
from pathlib import Path

from trialwatch.ingest.ctgov import map_study
from trialwatch.snapshots.jobs.findings import refresh
from trialwatch.snapshots.store.store import Store

STUDIES = Path(__file__).resolve().parent.parent / "fixtures" / "ctgov" / "studies"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000)
    args = parser.parse_args()
    records = [map_study(json.loads(path.read_text())) for path in sorted(STUDIES.glob("*.json"))]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        store = Store(path)
        for i in range(args.trials):
            record = copy.deepcopy(records[i % len(records)])
            record["nct_id"] = f"NCT{90000000 + i:08d}"
            store.save(record, source_kind="ctgov api")
        started = time.perf_counter()
        refresh(store, on=date(2026, 11, 29))
        seconds = time.perf_counter() - started
        store.close()
        conn = sqlite3.connect(path)
        conn.execute("pragma wal_checkpoint(truncate)")
        size = conn.execute("select sum(pgsize) from dbstat where name like '%findings%'").fetchone()[0]
    print(
        f"{args.trials} trials: findings {1000 * seconds / args.trials:.2f} ms a trial, {size / args.trials / 1024:.1f} KiB a trial"
    )


if __name__ == "__main__":
    main()
