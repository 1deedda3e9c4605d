"""Sponsor or responsible party changed, and site churn.

- **sponsor_or_party_changed**: the lead sponsor (name or class) or the responsible party (its
  type or investigator) differs between two versions; the changes are listed, and a change
  later reverted is said so (the first and the current record alone would not show it).
- **site_churn**: sites (facility, city, country) and countries added or removed between
  versions; it holds when a site was removed or the set of countries changed (sites added
  alone are a trial growing, class `sites_added`).
"""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

from trialwatch.snapshots.changes.known import identity
from trialwatch.snapshots.findings.model import Finding
from trialwatch.snapshots.findings.timeline import Timeline, Version


def _norm(text) -> str | None:
    return " ".join(str(text).casefold().split()) if text else None


def _sponsor(value) -> tuple | None:
    if not isinstance(value, dict) or not value.get("name"):
        return None
    return (_norm(value.get("name")), value.get("class"))


def _party(value) -> tuple | None:
    if not isinstance(value, dict) or not (value.get("type") or value.get("investigator_name")):
        return None
    return (value.get("type"), _norm(value.get("investigator_name")))


def _changes(t: Timeline, key: str, read) -> tuple[list[dict], list[tuple[Version, object]]]:
    series = t.series(key, read)
    changes = [
        {
            "field": key,
            "version": version.label,
            "snapshot_id": version.snapshot_id,
            "date": version.date.isoformat(),
            "old": _shown(t, before, key),
            "new": _shown(t, version, key),
        }
        for (before, _), (version, _) in pairwise(series)
    ]
    return changes, series


def _shown(t: Timeline, version: Version, key: str) -> dict:
    value = version.known.get(key) or {}
    if key == "lead_sponsor":
        return {"name": value.get("name"), "class": value.get("class")}
    return {"type": value.get("type"), "investigator_name": value.get("investigator_name")}


def sponsor_or_party_changed(t: Timeline) -> Finding:
    finding = Finding(t.nct_id, "sponsor_or_party_changed", None)
    sponsor, sponsors = _changes(t, "lead_sponsor", _sponsor)
    party, parties = _changes(t, "responsible_party", _party)
    if not sponsors and not parties:
        finding.cls, finding.complete, finding.summary = "not_shown", False, "no version shows a sponsor"
        return finding
    firsts = [series[0][0] for series in (sponsors, parties) if series]
    finding.complete = all(v is t.first for v in firsts) and t.from_registration
    changes = sorted(sponsor + party, key=lambda c: (c["date"], c["field"]))
    once = t.observed_once("lead_sponsor", _sponsor) and t.observed_once("responsible_party", _party)
    if once or (not changes and t.gap_at_start("lead_sponsor") and t.gap_at_start("responsible_party")):
        finding.cls, finding.complete = ("seen_once" if once else "unchanged_where_known"), False
        finding.summary = (
            "one observation only: no history to compare" if once else "no change where the sponsor is known"
        )
        return finding
    finding.holds = bool(changes)
    fields = sorted({c["field"] for c in changes})
    finding.cls = "both" if len(fields) == 2 else fields[0] if fields else "unchanged"
    reverted = [
        name
        for name, series in (("lead_sponsor", sponsors), ("responsible_party", parties))
        if len(series) > 1 and series[0][1] == series[-1][1]
    ]
    finding.value = {"changes": changes, "reverted": reverted}
    finding.evidence = [t.first.evidence("first version")] + [
        v.evidence("changed") for v in t.versions if any(c["snapshot_id"] == v.snapshot_id for c in changes)
    ]
    finding.summary = "; ".join(_change_words(c) for c in changes) or _unchanged_words(t)
    if reverted:
        finding.summary += f" (reverted: {', '.join(r.replace('_', ' ') for r in reverted)})"
    return finding


def _unchanged_words(t: Timeline) -> str:
    sponsor = t.current.get("lead_sponsor") or {}
    party = t.current.get("responsible_party") or {}
    return (
        f"lead sponsor {sponsor.get('name')} and responsible party {party.get('type')} in every version "
        f"from {t.first.label}"
    )


def _change_words(change: dict) -> str:
    old, new = change["old"], change["new"]
    if change["field"] == "lead_sponsor":
        return f"lead sponsor {old['name']} → {new['name']} ({change['version']})"
    described = [f"{old.get(k)} → {new.get(k)}" for k in ("type", "investigator_name") if old.get(k) != new.get(k)]
    return f"responsible party {', '.join(described)} ({change['version']})"


_SITE_KEY = ("facility", "city", "country")


def _sites(value) -> Counter | None:
    if not isinstance(value, list):
        return None
    return Counter(identity(site, _SITE_KEY) for site in value if isinstance(site, dict))


def _countries(version: Version) -> dict[str, str]:
    """The countries of a version's sites: folded name → the name as the registry writes it."""
    sites = version.known.get("locations") if version.knows("locations") else None
    return {
        " ".join(c.casefold().split()): c
        for site in sites or ()
        if isinstance(site, dict) and (c := site.get("country"))
    }


def _diff_countries(before: Version, after: Version) -> tuple[list[str], list[str]]:
    old, new = _countries(before), _countries(after)
    return sorted(new[k] for k in new.keys() - old.keys()), sorted(old[k] for k in old.keys() - new.keys())


def _site_steps(series: list[tuple[Version, Counter]]) -> list[dict]:
    steps = []
    for (previous, before), (version, after) in pairwise(series):
        added, removed = after - before, before - after
        countries_added, countries_removed = _diff_countries(previous, version)
        step = {
            "version": version.label,
            "snapshot_id": version.snapshot_id,
            "date": version.date.isoformat(),
            "sites_added": sum(added.values()),
            "sites_removed": sum(removed.values()),
            "countries_added": countries_added,
            "countries_removed": countries_removed,
            "removed": [" / ".join(part for part in key if part) for key in sorted(removed)][:20],
        }
        if step["sites_added"] or step["sites_removed"]:
            steps.append(step)
    return steps


def _site_list(value) -> list | None:
    return value if isinstance(value, list) else None


def site_churn(t: Timeline) -> Finding:
    finding = Finding(t.nct_id, "site_churn", None)
    knowing = [v for v in t.versions if v.knows("locations") and isinstance(v.known.get("locations"), list)]
    if not knowing:
        finding.cls, finding.complete, finding.summary = "not_shown", False, "no version shows its sites"
        return finding
    once = t.observed_once("locations", _site_list)
    series = [] if once else t.series("locations", _sites)  # counting sites only when there is history
    steps = _site_steps(series)
    if once or (not steps and t.gap_at_start("locations")):
        current = knowing[-1]
        sites = len(current.known.get("locations") or ())
        what = "one observation only" if once else f"sites not known before {knowing[0].label}"
        finding.cls, finding.complete = ("seen_once" if once else "unchanged_where_known"), False
        finding.summary = f"{what} ({sites} sites now): no history to compare"
        finding.value = {"current_sites": sites, "current_countries": sorted(_countries(current).values())}
        return finding
    finding.complete = series[0][0] is t.first and t.from_registration
    totals = {key: sum(s[key] for s in steps) for key in ("sites_added", "sites_removed")}
    countries = {key: sorted({c for s in steps for c in s[key]}) for key in ("countries_added", "countries_removed")}
    first, current = series[0][1], series[-1][1]
    finding.holds = bool(totals["sites_removed"] or countries["countries_added"] or countries["countries_removed"])
    finding.cls = (
        "countries"
        if countries["countries_added"] or countries["countries_removed"]
        else "sites_removed"
        if totals["sites_removed"]
        else "sites_added"
        if totals["sites_added"]
        else "unchanged"
    )
    finding.value = {
        "first_sites": sum(first.values()),
        "current_sites": sum(current.values()),
        "first_countries": sorted(_countries(series[0][0]).values()),
        "current_countries": sorted(_countries(series[-1][0]).values()),
        **totals,
        **countries,
        "steps": steps,
    }
    finding.evidence = [series[0][0].evidence("first sites")] + [
        v.evidence("sites changed") for v, _ in series[1:] if any(s["snapshot_id"] == v.snapshot_id for s in steps)
    ]
    finding.summary = (
        f"{finding.value['first_sites']} → {finding.value['current_sites']} sites: "
        f"{totals['sites_added']} added, {totals['sites_removed']} removed"
        + "".join(f"; countries {k.split('_')[1]}: {', '.join(v)}" for k, v in countries.items() if v)
    )
    return finding
