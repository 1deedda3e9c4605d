"""Later registry versions of real API v2 study objects, and the changes each one must give.

An `Edit` turns a study into an edited deep copy (the next version the registry would publish)
and says which changes the diff must report for it (`Expected`: field, kind, key attributes),
which record fields it touches, and on which aspect of the record each change is seen.  The
one table of which source shows which aspect is `ASPECTS` (read through `shows`): the API
record shows everything; the main page (labelled, HTML) shows what FORMAT.md lists for it, the
label-less page less, a cut page only the sections before the cut, the results page the few
values on its header (FORMAT.md "The results page").

Edits needing a particular first version (two identical sites, an arm whose interventions
repeat) make it with `Edit.prepare`; that first version is not an edit.  Every date move is of
31 days or more, so that it always changes month: a page shows a date as a day of unknown
precision, and a move within one month is not something a page can show.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as _field

from renderings import SECTION_ORDER

# Main-page sections in page order (a cut page shows only the sections before the cut).
SECTIONS = SECTION_ORDER
API = "api"
MAIN_PAGES = ("labelled", "labelled_first", "html_semantic", "html_table")
LABELLESS = "labelless"
RESULTS_PAGES = ("results", "results_bare")
SOURCES = (API, *MAIN_PAGES, LABELLESS, *RESULTS_PAGES)
CUT = "cut:"  # "cut:Study Design": the labelled page cut short inside that section
MAYBE = "maybe"  # the label-less page may or may not let a reader tell this apart

DATE_KEYS = {
    "start_date": "startDateStruct",
    "primary_completion_date": "primaryCompletionDateStruct",
    "completion_date": "completionDateStruct",
}

# aspect → (main-page section showing it or None, label-less page shows it, results page shows it).
# A date's value is shown by a page as a day of unknown precision; its type and precision only
# by the API.  Enrollment shows without its type.  The results page shows the first primary
# outcome's time frame, but no outcome measure.
ASPECTS: dict[str, tuple[str | None, bool | str, bool]] = {
    "status": ("Basic Information", True, True),
    "why_stopped": (None, False, False),
    "start_date": ("Basic Information", True, False),
    "completion_date": ("Basic Information", True, False),
    "primary_completion_date": (None, False, False),
    **{f"{date}.{part}": (None, False, False) for date in DATE_KEYS for part in ("type", "precision")},
    "enrollment.count": ("Basic Information", True, True),
    "enrollment.type": (None, False, False),
    "arms": ("Study Groups", MAYBE, False),
    "keywords": ("Keywords", False, False),
    "conditions": ("Conditions", False, False),
    "other_ids": ("Other Identifiers", True, False),
    "locations": (None, False, False),
    "outcomes.primary[0].time_frame": (None, False, True),
    "outcomes.primary.measure": (None, False, False),
}


def shows(source: str, aspect: str, study: dict) -> bool | str:
    """Whether a rendering of `study` from `source` shows `aspect`: True, False or MAYBE."""
    section, labelless, results = ASPECTS[aspect]
    status = _status(study)
    if (
        aspect == "enrollment.count"
        and source != API
        and source not in RESULTS_PAGES
        and status.get("overallStatus") == "WITHDRAWN"
    ):
        return False  # FORMAT.md: withdrawn studies have no Total Enrollment row
    if source == API:
        return True
    if source in RESULTS_PAGES:
        return results and bool(study.get("hasResults"))
    if source == LABELLESS:
        return labelless
    if source.startswith(CUT):
        return section is not None and SECTIONS.index(section) < SECTIONS.index(source[len(CUT) :])
    if source in MAIN_PAGES:
        return section is not None
    raise ValueError(f"unknown source {source!r}")


class OneOf(tuple):
    """An attribute that may take any of these values."""

    def __new__(cls, *values):
        return super().__new__(cls, values)


def matches(want, got) -> bool:
    return got in want if isinstance(want, OneOf) else got == want


NOT_ACTUAL = OneOf(False, None)
NO_SHIFT = OneOf(0, None)


@dataclass
class Expected:
    """One change the diff must report: its field, kind and key attributes.

    `attrs` are those of the API → API change; `page_attrs` replace them when a page (whose
    dates have unknown precision) is the first source to show the change.
    """

    field: str
    kind: str
    aspect: str
    attrs: dict = _field(default_factory=dict)
    page_attrs: dict | None = None

    def attrs_from(self, source: str) -> dict:
        return self.attrs if source == API or self.page_attrs is None else self.page_attrs

    def shown_by(self, study: dict, sources=SOURCES) -> dict[str, bool | str]:
        """The sources whose rendering of `study` (the edited version) can show this change."""
        return {source: seen for source in sources if (seen := shows(source, self.aspect, study))}


@dataclass(frozen=True)
class Edit:
    name: str
    fields: tuple[str, ...]  # record fields it touches
    make: Callable[[dict], tuple[dict, list[Expected]]]  # study → (edited copy, expected changes)
    applies: Callable[[dict], bool] = lambda study: True  # on the real study, before `prepare`
    base: Callable[[dict], dict] | None = None  # makes the first version it needs

    def prepare(self, study: dict) -> dict:
        return self.base(copy.deepcopy(study)) if self.base else study

    def __call__(self, study: dict) -> tuple[dict, list[Expected]]:
        return self.make(copy.deepcopy(study))


# ------------------------------------------------------------------ study access


def _protocol(study: dict) -> dict:
    return study.setdefault("protocolSection", {})


def _status(study: dict) -> dict:
    return (study.get("protocolSection") or {}).get("statusModule") or {}


def _arms_module(study: dict) -> dict:
    return _protocol(study).setdefault("armsInterventionsModule", {})


def _locations(study: dict) -> list[dict]:
    return _protocol(study).setdefault("contactsLocationsModule", {}).setdefault("locations", [])


def _primary(study: dict) -> list[dict]:
    return ((study.get("protocolSection") or {}).get("outcomesModule") or {}).get("primaryOutcomes") or []


def _keywords(study: dict) -> list[str]:
    return ((study.get("protocolSection") or {}).get("conditionsModule") or {}).get("keywords") or []


def _enrollment(study: dict) -> dict:
    return ((study.get("protocolSection") or {}).get("designModule") or {}).get("enrollmentInfo") or {}


# ------------------------------------------------------------------ dates


def parse_date(text: str) -> tuple[datetime.date, str]:
    """`2025-01` → (2025-01-01, "month"); `2025-01-20` → (…, "day")."""
    parts = [int(part) for part in text.split("-")]
    precision = ("year", "month", "day")[len(parts) - 1]
    return datetime.date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1), precision


def format_date(value: datetime.date, precision: str) -> str:
    return value.isoformat()[: {"year": 4, "month": 7, "day": 10}[precision]]


def month_shift(old: datetime.date, new: datetime.date) -> int:
    """Days between the starts of the two dates' months: a shift in months' terms."""
    return (new.replace(day=1) - old.replace(day=1)).days


def _date_struct(study: dict, name: str) -> dict:
    return _status(study).get(DATE_KEYS[name]) or {}


def _has_date(name: str, precisions=("month", "day")) -> Callable[[dict], bool]:
    def check(study: dict) -> bool:
        date = _date_struct(study, name).get("date")
        return bool(date) and parse_date(date)[1] in precisions

    return check


def move_date(name: str, days: int) -> Edit:
    """A date moved by `days` (31 or more either way), kept at its precision."""
    assert abs(days) >= 31, "a move within one month is not something a page can show"

    def make(study):
        struct = _status(study)[DATE_KEYS[name]]
        old, precision = parse_date(struct["date"])
        new = old + datetime.timedelta(days=days)
        struct["date"] = format_date(new, precision)
        shift = days if precision == "day" else month_shift(old, new)
        return study, [
            Expected(
                name,
                "changed",
                name,
                {"shift_days": shift, "precision_changed": False, "became_actual": NOT_ACTUAL},
                page_attrs={"shift_days": month_shift(old, new), "became_actual": NOT_ACTUAL},
            )
        ]

    return Edit(f"{name}_moved_{days}", (name,), make, _has_date(name))


def refine_date(name: str, day: int | str = 20) -> Edit:
    """A month-only date given a day in that month (`day`, or "last" for the month's last day)."""

    def make(study):
        struct = _status(study)[DATE_KEYS[name]]
        old, _ = parse_date(struct["date"])
        last = (old.replace(day=28) + datetime.timedelta(days=4)).replace(day=1) - datetime.timedelta(days=1)
        struct["date"] = format_date(old.replace(day=last.day if day == "last" else day), "day")
        return study, [
            Expected(
                name,
                "changed",
                f"{name}.precision",
                {"precision_changed": True, "shift_days": NO_SHIFT, "became_actual": NOT_ACTUAL},
            )
        ]

    return Edit(f"{name}_refined", (name,), make, _has_date(name, ("month",)))


def date_becomes_actual(name: str) -> Edit:
    """An estimated date becoming actual, the date itself unchanged."""

    def make(study):
        _status(study)[DATE_KEYS[name]]["type"] = "ACTUAL"
        return study, [
            Expected(
                name,
                "changed",
                f"{name}.type",
                {"became_actual": True, "shift_days": NO_SHIFT, "precision_changed": False},
            )
        ]

    return Edit(
        f"{name}_actual",
        (name,),
        make,
        lambda study: _has_date(name)(study) and _date_struct(study, name).get("type") == "ESTIMATED",
    )


# ------------------------------------------------------------------ status and enrollment


def _set_status(study: dict, new: str, why: str | None = None) -> list[Expected]:
    status = _status(study)
    old = status["overallStatus"]
    status["overallStatus"] = new
    expected = [Expected("status", "changed", "status", {"old": old, "new": new})]
    if why is not None:
        expected.append(
            Expected("why_stopped", "changed" if status.get("whyStopped") else "added", "why_stopped", {"new": why})
        )
        status["whyStopped"] = why
    return expected


def _status_change(study):
    new = "COMPLETED" if _status(study)["overallStatus"] == "ACTIVE_NOT_RECRUITING" else "ACTIVE_NOT_RECRUITING"
    return study, _set_status(study, new)


def _stop(study):
    new = "SUSPENDED" if _status(study)["overallStatus"] == "TERMINATED" else "TERMINATED"
    return study, _set_status(study, new, "Enrollment was slower than planned; the sponsor stopped the study.")


def _enrollment_count(study):
    info = _enrollment(study)
    old = info["count"]
    info["count"] = new = old + max(1, old // 4)
    percent = round((new - old) * 100.0 / old, 1) if old else None
    return study, [Expected("enrollment", "changed", "enrollment.count", {"percent_change": percent})]


def _enrollment_type(study):
    info = _enrollment(study)
    old = info["type"]
    info["type"] = new = "ACTUAL" if old == "ESTIMATED" else "ESTIMATED"
    return study, [
        Expected(
            "enrollment",
            "changed",
            "enrollment.type",
            {"old_type": old, "new_type": new, "percent_change": OneOf(None, 0)},
        )
    ]


# ------------------------------------------------------------------ arms

_TYPE_PREFIXES = {
    "DRUG": "Drug",
    "BIOLOGICAL": "Biological",
    "DEVICE": "Device",
    "OTHER": "Other",
    "PROCEDURE": "Procedure",
    "BEHAVIORAL": "Behavioral",
    "RADIATION": "Radiation",
    "GENETIC": "Genetic",
    "DIETARY_SUPPLEMENT": "Dietary Supplement",
    "COMBINATION_PRODUCT": "Combination Product",
    "DIAGNOSTIC_TEST": "Diagnostic Test",
}


def _arm_name(intervention: dict) -> str:
    """How an arm names an intervention: `Drug: Placebo`."""
    prefix = _TYPE_PREFIXES.get(intervention.get("type"))
    return f"{prefix}: {intervention['name']}" if prefix else intervention["name"]


def _interventions(study: dict) -> list[dict]:
    seen, out = set(), []
    module = (study.get("protocolSection") or {}).get("armsInterventionsModule") or {}
    for item in module.get("interventions") or []:
        if item.get("name") and item["name"] not in seen:
            seen.add(item["name"])
            out.append(item)
    return out


def _link(study: dict, arm_label: str, names: list[str]) -> None:
    """Keep interventions[].armGroupLabels in step with an arm's interventions (as the registry does)."""
    for item in _arms_module(study).get("interventions") or []:
        labels = [label for label in item.get("armGroupLabels") or [] if label != arm_label]
        item["armGroupLabels"] = labels + ([arm_label] if _arm_name(item) in names else [])


def _arm_added(study):
    module = _arms_module(study)
    names = [_arm_name(item) for item in _interventions(study)[:1]]
    arm = {
        "label": "Dose Expansion Cohort",
        "type": "EXPERIMENTAL",
        "description": "Participants receive the study treatment at the recommended dose.",
        "interventionNames": names,
    }
    module.setdefault("armGroups", []).append(arm)
    _link(study, arm["label"], names)
    return study, [Expected("arms", "added", "arms", {"item": arm["label"]})]


def _arm_removed(study):
    arm = _arms_module(study)["armGroups"].pop()
    _link(study, arm["label"], [])
    return study, [Expected("arms", "removed", "arms", {"item": arm["label"]})]


def _arm_renamed(study):
    arm = _arms_module(study)["armGroups"][0]
    old, arm["label"] = arm["label"], arm["label"] + " (Revised)"
    for item in _arms_module(study).get("interventions") or []:
        item["armGroupLabels"] = [arm["label"] if label == old else label for label in item.get("armGroupLabels") or []]
    return study, [Expected("arms", "renamed", "arms", {"item": arm["label"]})]


def _set_arm_interventions(study: dict, pattern: str) -> str:
    """The first arm's interventions as `pattern` over the study's first two ("XXY": X, X, Y)."""
    first, second = _interventions(study)[:2]
    arm = _arms_module(study)["armGroups"][0]
    arm["interventionNames"] = [_arm_name(first if letter == "X" else second) for letter in pattern]
    _link(study, arm["label"], arm["interventionNames"])
    return arm["label"]


def _arm_repeats(study: dict) -> dict:
    """The first version: the first arm's interventions X, X, Y."""
    _set_arm_interventions(study, "XXY")
    return study


def _arm_multiset(study):
    label = _set_arm_interventions(study, "XYY")
    return study, [Expected("arms", "changed", "arms", {"item": label})]


def _has_arms(study: dict) -> bool:
    return bool(((study.get("protocolSection") or {}).get("armsInterventionsModule") or {}).get("armGroups"))


# ------------------------------------------------------------------ sites (identity collisions)

RESEARCH_SITE = "Research Site"


def _research_site(study: dict) -> dict:
    """The first site, named as some sponsors name every site."""
    site = _locations(study)[0]
    site["facility"] = RESEARCH_SITE
    return study


def _twin_of(site: dict, status: str | None) -> dict:
    twin = {key: value for key, value in site.items() if key not in ("contacts", "geoPoint")}
    if status:
        twin["status"] = status
    return twin


def _twin_added(study):
    site = _locations(study)[0]
    status = "NOT_YET_RECRUITING" if site.get("status") != "NOT_YET_RECRUITING" else "RECRUITING"
    _locations(study).append(_twin_of(site, status))
    return study, [Expected("locations", "added", "locations")]


def _with_twins(study: dict) -> dict:
    """Two identical "Research Site" sites."""
    _research_site(study)
    _locations(study).append(copy.deepcopy(_locations(study)[0]))
    return study


def _has_sites(study: dict) -> bool:
    return bool(((study.get("protocolSection") or {}).get("contactsLocationsModule") or {}).get("locations"))


def _twin_removed(study):
    _locations(study).pop()
    return study, [Expected("locations", "removed", "locations")]


# ------------------------------------------------------------------ outcomes, keywords, update date


def _time_frame(study):
    outcome = _primary(study)[0]
    outcome["timeFrame"] = (outcome.get("timeFrame") or "") + " (extended by 12 months)"
    return study, [Expected("outcomes.primary", "changed", "outcomes.primary[0].time_frame")]


def _measure(study):
    outcome = _primary(study)[0]
    outcome["measure"] = outcome["measure"] + " (revised definition)"
    return study, [Expected("outcomes.primary", "renamed", "outcomes.primary.measure")]


def _primary_unique(study: dict) -> bool:
    measures = [outcome.get("measure") for outcome in _primary(study)]
    return bool(measures) and measures.count(measures[0]) == 1


def _keywords_reordered(study):
    conditions = _protocol(study)["conditionsModule"]
    conditions["keywords"] = list(reversed(conditions["keywords"]))
    return study, []


def _conditions_reordered(study):
    conditions = _protocol(study)["conditionsModule"]
    conditions["conditions"] = list(reversed(conditions["conditions"]))
    return study, []


def _conditions(study: dict) -> list[str]:
    return ((study.get("protocolSection") or {}).get("conditionsModule") or {}).get("conditions") or []


def _identifiers(study: dict) -> list[str]:
    ident = (study.get("protocolSection") or {}).get("identificationModule") or {}
    org = [(ident.get("orgStudyIdInfo") or {}).get("id")]
    return [item for item in org + [s.get("id") for s in ident.get("secondaryIdInfos") or []] if item]


def _twin_identifier_removed(study):
    """A secondary id that repeats another identifier removed (real records list `ANBL0532` three times)."""
    ident = _protocol(study)["identificationModule"]
    ids = _identifiers(study)
    secondary = ident["secondaryIdInfos"]
    index = max(k for k, item in enumerate(secondary) if ids.count(item.get("id")) > 1)
    secondary.pop(index)
    return study, [Expected("other_ids", "removed", "other_ids")]


def bump_update(study: dict, days: int = 7) -> dict:
    """The same study posted again `days` later: only lastUpdatePostDate (and its submit date) move."""
    study = copy.deepcopy(study)
    status = _status(study)
    struct = status.setdefault("lastUpdatePostDateStruct", {"date": "2025-01-01", "type": "ACTUAL"})
    day = datetime.date.fromisoformat(struct["date"]) + datetime.timedelta(days=days)
    struct["date"] = day.isoformat()
    status["lastUpdateSubmitDate"] = (day - datetime.timedelta(days=2)).isoformat()
    return study


# ------------------------------------------------------------------ the edits

EDITS: dict[str, Edit] = {
    edit.name: edit
    for edit in (
        Edit("status", ("status",), _status_change),
        Edit("stop", ("status", "why_stopped"), _stop),
        move_date("start_date", 92),
        move_date("primary_completion_date", 183),
        move_date("completion_date", -45),
        refine_date("start_date"),
        refine_date("completion_date"),
        date_becomes_actual("start_date"),
        date_becomes_actual("primary_completion_date"),
        Edit(
            "enrollment_count",
            ("enrollment",),
            _enrollment_count,
            lambda study: isinstance(_enrollment(study).get("count"), int),
        ),
        Edit(
            "enrollment_type",
            ("enrollment",),
            _enrollment_type,
            lambda study: _enrollment(study).get("type") in ("ACTUAL", "ESTIMATED"),
        ),
        Edit("arm_added", ("arms",), _arm_added),
        Edit("arm_removed", ("arms",), _arm_removed, _has_arms),
        Edit("arm_renamed", ("arms",), _arm_renamed, _has_arms),
        Edit(
            "arm_interventions_multiset",
            ("arms",),
            _arm_multiset,
            lambda study: _has_arms(study) and len(_interventions(study)) >= 2,
            _arm_repeats,
        ),
        Edit("twin_site_added", ("locations",), _twin_added, _has_sites, _research_site),
        Edit("twin_site_removed", ("locations",), _twin_removed, _has_sites, _with_twins),
        Edit("primary_time_frame", ("outcomes.primary",), _time_frame, _primary_unique),
        Edit("primary_measure", ("outcomes.primary",), _measure, _primary_unique),
        Edit("keywords_reordered", ("keywords",), _keywords_reordered, lambda study: len(set(_keywords(study))) >= 2),
        Edit(
            "conditions_reordered",
            ("conditions",),
            _conditions_reordered,
            lambda study: len(set(_conditions(study))) >= 2,
        ),
        Edit(
            "twin_identifier_removed",
            ("other_ids",),
            _twin_identifier_removed,
            lambda study: len(set(_identifiers(study))) < len(_identifiers(study)),
        ),
        Edit("update_only", ("last_updated",), lambda study: (bump_update(study), [])),
    )
}
