"""Findings never fail on what the store can hold: every page rendering (fields unknown), timelines
mixing pages and API records, and real API records mangled at random (fields deleted, nulled,
retyped, nested wrongly).  Each evaluation gives every finding, JSON-able, holds yes, no or unknown."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_bad_input import STUDY_TEXTS, mangle_study
from trialwatch.ingest.ctgov import map_study
from trialwatch.ingest.errors import InputError
from trialwatch.ingest.parse import API, parse_file
from trialwatch.snapshots.findings.definitions import NAMES
from trialwatch.snapshots.findings.evaluate import evaluate
from trialwatch.snapshots.findings.timeline import build
from trialwatch.snapshots.store.findings import row

ROOT = Path(__file__).resolve().parent
PAGES = sorted((ROOT / "fixtures" / "pages").glob("NCT*.*"))
CONSTRUCTED = map_study(json.loads((ROOT / "fixtures" / "ctgov" / "constructed" / "NCT06731192.json").read_text()))


def check(records: list[dict]) -> list:
    rows = [
        (i + 1, f"2025-0{i + 1}-01T00:00:00+00:00", API if i % 2 else "page text", None, r)
        for i, r in enumerate(records)
    ]
    found = evaluate(build(records[0]["nct_id"], rows), date(2026, 11, 29))
    assert tuple(f.finding for f in found) == NAMES
    for finding in found:
        assert finding.holds in (True, False, None)
        row(finding.as_dict())  # storable
        json.dumps(finding.as_dict())
    return found


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_every_page_rendering_alone_and_between_api_records(path):
    (page,) = [item.record for item in parse_file(path)]
    alone = {f.finding: f for f in check([page])}
    # A page shows no FDA flags: applicability is not known, unless what it shows rules it out.
    ruled_out = page["status"] == "WITHDRAWN" or page["study_type"] == "OBSERVATIONAL"
    assert alone["results_overdue"].holds is (False if ruled_out else None)
    check([CONSTRUCTED, page, CONSTRUCTED])
    check([page, CONSTRUCTED])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mangled_api_records_give_findings_not_errors(data):
    name = data.draw(st.sampled_from(sorted(STUDY_TEXTS)), label="study")
    records = []
    for _ in range(data.draw(st.integers(1, 3), label="versions")):
        study = json.loads(STUDY_TEXTS[name])
        if data.draw(st.booleans(), label="mangle"):
            study = mangle_study(data, study)
        try:
            records.append(map_study(study))
        except InputError:
            continue
    if records:
        nct = records[0]["nct_id"]
        check([{**r, "nct_id": nct} for r in records])
