"""Run every finding's rule over one timeline."""

from __future__ import annotations

from datetime import date

from trialwatch.snapshots.findings.fdaaa import fdaaa_findings, plain_findings
from trialwatch.snapshots.findings.model import Finding
from trialwatch.snapshots.findings.outcomes import primary_outcome_changed
from trialwatch.snapshots.findings.progress import (
    SHORTFALL_BELOW,
    enrollment_vs_first_estimate,
    primary_completion_slippage,
)
from trialwatch.snapshots.findings.registration import registered_retrospectively, retroactively_prospective
from trialwatch.snapshots.findings.sponsors import site_churn, sponsor_or_party_changed
from trialwatch.snapshots.findings.status import stale_status, stopped_reason_class
from trialwatch.snapshots.findings.timeline import Timeline


def evaluate(t: Timeline, on: date, *, shortfall_below: float = SHORTFALL_BELOW) -> list[Finding]:
    """Every finding of the trial, in the order of `definitions.DEFINITIONS`, evaluated on `on`
    (the day time-bound rules are judged: results due, overdue, verification), each with the
    timeline's extent as `as_of`."""
    retro = registered_retrospectively(t)
    findings = [
        retro,
        retroactively_prospective(t, retro),
        primary_outcome_changed(t),
        primary_completion_slippage(t),
        enrollment_vs_first_estimate(t, shortfall_below),
        *fdaaa_findings(t, on),
        *plain_findings(t, on),
        stale_status(t, on),
        stopped_reason_class(t),
        sponsor_or_party_changed(t),
        site_churn(t),
    ]
    extent = {**t.extent(), "evaluated_on": on.isoformat()}
    for finding in findings:
        finding.as_of = dict(extent)
    return findings
