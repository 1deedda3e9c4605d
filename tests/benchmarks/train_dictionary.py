"""Train the zstd dictionary trialwatch ships for stored snapshots (ingest/dictionaries/).

    python tests/benchmarks/train_dictionary.py ingest/dictionaries/records-1.zdict

A stored snapshot is one zstd frame holding the record's canonical JSON, a newline and the raw
input (`trialwatch.ingest.packing`); a dictionary trained on such frames lets a 17 KB
study compress alone as well as it would among many.  It is trained on real registry studies
that the benchmark does NOT use: those of tests/fixtures/ctgov/pages whose ids are not among
the 25 of tests/fixtures/ctgov/studies (the benchmark's templates), so the benchmark's sizes
are those of studies the dictionary never saw.  Deterministic: the same inputs give the same
dictionary.  A new dictionary is a new file with the next number (never replace a shipped one:
rows name the dictionary they were compressed with).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import zstandard

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT)]

from trialwatch.ingest.ctgov import map_study  # noqa: E402
from trialwatch.ingest.record import canonical_json  # noqa: E402

PAGES = ROOT / "tests" / "fixtures" / "ctgov" / "pages"
BENCHMARK_STUDIES = ROOT / "tests" / "fixtures" / "ctgov" / "studies"
SIZE = 64 * 1024
SAMPLE_BYTES = 2048  # frames cut in pieces: zstd needs many samples, there are few studies


def held_out_studies() -> list[dict]:
    """The studies of the page fixtures that the benchmark's corpus is not made of, by id."""
    used = {path.stem for path in BENCHMARK_STUDIES.glob("*.json")}
    found: dict[str, dict] = {}
    for path in sorted(PAGES.glob("*.json")):
        page = json.loads(path.read_bytes())
        for study in page.get("studies") or ([page] if "protocolSection" in page else []):
            nct_id = study["protocolSection"]["identificationModule"]["nctId"]
            if nct_id not in used:
                found.setdefault(nct_id, study)
    return [found[key] for key in sorted(found)]


def frames(studies: list[dict]) -> list[bytes]:
    """What the store compresses for each: canonical record, newline, the study as the bulk download has it."""
    out = []
    for study in studies:
        raw = json.dumps(study, indent=2, ensure_ascii=False).encode("utf-8")
        out.append(canonical_json(map_study(study)).encode("utf-8") + b"\n" + raw)
    return out


def train(size: int = SIZE) -> bytes:
    samples = [
        frame[at : at + SAMPLE_BYTES]
        for frame in frames(held_out_studies())
        for at in range(0, len(frame), SAMPLE_BYTES)
    ]
    return zstandard.train_dictionary(size, samples, level=19, threads=0).as_bytes()


if __name__ == "__main__":
    studies = held_out_studies()
    data = train()
    Path(sys.argv[1]).write_bytes(data)
    print(f"{len(studies)} held-out studies → {len(data):,} byte dictionary in {sys.argv[1]}")
