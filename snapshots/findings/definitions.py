"""What each finding means: its one-line definition, its source, what a partial history means
for it, and how `trialwatch run` reports it when it newly holds.  `trialwatch findings --help`,
the README (through cog) and Datasette's descriptions say what this says."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Definition:
    name: str
    definition: str
    source: str
    partial: str  # what a timeline that does not reach registration (or the start) means for it
    news: str  # the headline `run` gives it when it newly holds
    critical: tuple[str, ...] = ()  # classes reported as critical news (the others notable)
    classes_are_news: bool = False  # a new class of a finding that held already is news (minor → major)
    not_news: tuple[str, ...] = ()  # classes that are no news when the finding newly holds in them


DEFINITIONS: tuple[Definition, ...] = (
    Definition(
        "registered_retrospectively",
        "First submitted (studyFirstSubmitDate) after the start date shown in the first version; a month-only "
        "start is compared by month, and registration in the start's month is its own class (same_month).",
        "WHO ICTRP / ICMJE: registration before the first participant is enrolled.",
        "Without the registration version, the start date is the one first seen (complete: false).",
        "registered retrospectively",
    ),
    Definition(
        "retroactively_prospective",
        "Registered retrospectively per its first version, and a later version moves the start date to the "
        "registration's month or later, so the record no longer shows the retrospective registration.",
        "Holst & Carlisle, Trials 2024 (2.0% of trials first registered in 2015).",
        "Without the registration version the first start date seen may already be the moved one (complete: false).",
        "start date moved so the registration looks prospective",
        critical=("moved_to_prospective", "moved_to_same_month", "moved_to_same_year"),
        classes_are_news=True,
    ),
    Definition(
        "primary_outcome_changed",
        "The primary outcomes of the last version on or before the actual start against each later version: "
        "major = a primary outcome added, removed, or moved to/from secondary; minor = its measure reworded, time "
        "frame or description changed; timed before/after start, after primary completion, after completion; "
        "hidden when a later version restores the reference.",
        "COMPare (Goldacre et al., Trials 2019) for the reference point; Ramagopalan et al., F1000Research 2014; "
        "Holst et al., PLoS Med 2023.",
        "Without a version from before the start, the reference is the first version seen (complete: false): "
        "switches before it are not seen.",
        "primary outcome changed",
        critical=("major",),
        classes_are_news=True,
    ),
    Definition(
        "primary_completion_slippage",
        "The first-registered primary completion date against the current one: days later (at the coarser "
        "precision), number of postponements, and when the current date became ACTUAL.",
        "trialwatch, over the registry's version history (cf. cthist).",
        "Without the registration version, measured from the first date seen; one observation measures nothing.",
        "primary completion slipped",
    ),
    Definition(
        "enrollment_vs_first_estimate",
        "Actual (or current) enrollment as a percent of the first-registered anticipated enrollment; a "
        "shortfall below 80% holds (--shortfall-below).",
        "trialwatch, over the registry's version history; the 80% threshold is a parameter (thresholds in the "
        "literature vary).",
        "Without the registration version, against the first estimate seen; one observation measures nothing.",
        "enrollment shortfall against the first estimate",
    ),
    Definition(
        "results_due",
        "An applicable clinical trial under FDAAA 801 whose results deadline has passed (reported or not): due 1 "
        "year after primary completion (else completion; a month is its last day), 3 with a certificate of delay.",
        "FDAAA 801 and 42 CFR 11.44, as FDAAA TrialsTracker operationalises them (DeVito, Bacon & Goldacre, "
        "Lancet 2020).",
        "Read from the trial as known now; a snapshot older than the due date may miss results since.",
        "results now due",
        not_news=("reported_on_time", "reported_late"),  # the deadline passing after results came is no news
    ),
    Definition(
        "results_overdue",
        "As results_due, and more than 30 days past the due date, with no results posted and no results "
        "submission that was not cancelled.",
        "FDAAA TrialsTracker (DeVito, Bacon & Goldacre, Lancet 2020).",
        "Read from the trial as known now.",
        "results now overdue",
        critical=("overdue",),
    ),
    Definition(
        "days_late",
        "Results of an applicable trial submitted after the due date: how many days after.",
        "FDAAA TrialsTracker (DeVito, Bacon & Goldacre, Lancet 2020).",
        "Read from the trial as known now.",
        "results reported late",
    ),
    Definition(
        "no_results_12m",
        "A completed interventional trial with no results posted 12 months after primary completion.",
        "WHO joint statement on public disclosure of results (2017); FDAAA's one-year deadline.",
        "Read from the trial as known now.",
        "no results 12 months after primary completion",
    ),
    Definition(
        "no_results_24m",
        "A completed interventional trial with no results posted 24 months after primary completion.",
        "A common reporting window in the literature (e.g. Chen et al., BMJ 2016).",
        "Read from the trial as known now.",
        "no results 24 months after primary completion",
    ),
    Definition(
        "stale_status",
        "Recruiting, not yet recruiting, enrolling by invitation or active while not verified for 2 years "
        "(statusVerifiedDate), or marked UNKNOWN by the registry; or COMPLETED shown more than 30 days after the "
        "actual completion date.",
        "ClinicalTrials.gov's own 2-year rule; 42 CFR 11.64 (30-day updates); Jones et al., BMJ Open 2017 "
        "(median lag 141 days).",
        "The completion lag is exact only between registry versions; otherwise it is at most the lag shown.",
        "status stale",
        classes_are_news=True,
    ),
    Definition(
        "stopped_reason_class",
        "A terminated, suspended or withdrawn trial's whyStopped classed accrual, business_funding, safety, "
        "efficacy_futility or other (not_given without a reason) by keyword rules shipped as data.",
        "Keyword rules in stopped_reasons.json; classes as in Williams et al., PLoS One 2015.",
        "Read from the trial as known now.",
        "trial stopped",
        critical=("safety", "efficacy_futility"),
        classes_are_news=True,
    ),
    Definition(
        "sponsor_or_party_changed",
        "The lead sponsor (name or class) or the responsible party (type or investigator) changed between "
        "versions; a change later reverted is listed too.",
        "trialwatch, over the registry's version history.",
        "Changes before the first snapshot are not seen; one observation compares nothing.",
        "sponsor or responsible party changed",
        classes_are_news=True,
    ),
    Definition(
        "site_churn",
        "Sites (facility, city, country) and countries added or removed between versions; holds when a site was "
        "removed or the countries changed.",
        "trialwatch, over the registry's version history.",
        "Changes before the first snapshot are not seen; one observation compares nothing.",
        "sites or countries removed",
        classes_are_news=True,
    ),
)

BY_NAME = {d.name: d for d in DEFINITIONS}
NAMES = tuple(BY_NAME)


def news_severity(name: str, cls: str | None) -> str:
    """critical or notable: how `run` reports a finding that newly holds."""
    return "critical" if cls in BY_NAME[name].critical else "notable"


def headline(name: str, cls: str | None) -> str:
    """How `run` names a finding that newly holds: `primary outcome changed after start (major)`."""
    definition = BY_NAME[name]
    return f"{definition.news} ({cls.replace('_', ' ')})" if definition.classes_are_news and cls else definition.news
