"""What is known of a trial at a point of its timeline: each field's last known value.

Sources differ in what they carry (a saved page shows no enrollment type, a results page no
arms, the API no results page sections).  Walking a trial's snapshots in time order, the
*known state* K holds, for every field, the value of the most recent snapshot whose source
carried it; a field no source has carried yet stays in K's `unknown` list.  A new observation
is compared with K, not with the snapshot before it, so a change hidden behind a poorer source
is still reported, once, at the first snapshot that shows it (`trialwatch.snapshots.changes.diff`).

K has the record's shape, with two refinements that let knowledge be partial below a list:

- a list item may lack a key: that item's value is not known (a page listed an arm the API
  never showed, and a page shows no arm types);
- pseudo-paths say how far a value can be trusted, and they follow the value chosen:
  `start_date.precision` (the date's source shows month dates as days), `keywords.items`
  (the source may run several keywords together on one line), `outcomes.primary.rest` (the
  source shows only the first item of the list).

Equality has one definition here (`canon`): strings compared with their white space
collapsed (a text as the multiset of its lines), lists as multisets.  `fingerprint(K)` is the
canonical JSON of K's compared content: a snapshot is written when it changes what is known.
"""

from __future__ import annotations

import copy
import json
from collections import Counter

import orjson

from trialwatch.ingest.record import DATE_FIELDS, FIELDS, TOP_LEVEL, empty_record, upgrade
from trialwatch.snapshots.changes.dates import at_precision, registry_date

# Kept on each snapshot, never compared (a bump of these alone is not news).
NOT_COMPARED = ("nct_id", "last_updated", "last_update_submitted", "status_verified", "unknown")
# Lists whose items a source may run together on one line: compared by their words.
WORD_LISTS = ("conditions", "keywords")
# Lists matched item by item on these keys (their identity); every other list is a multiset of values.
IDENTITIES = {
    "arms": ("label",),
    "interventions": ("name",),
    "collaborators": ("name",),
    "central_contacts": ("name",),
    "overall_officials": ("name",),
    "other_ids": ("id",),
    "outcomes.primary": ("measure",),
    "outcomes.secondary": ("measure",),
    "outcomes.other": ("measure",),
    "locations": ("facility", "city", "country"),
    "references": ("pmid",),
}
# Objects whose keys are sections of text, not fields: a source knows the sections it shows.
SECTION_MAPS = ("results", "extra_sections")


# -- paths -------------------------------------------------------------------------------


def covers(unknown, path: str) -> bool:
    """Whether `path` is unknown: it, or a field it is part of, is listed (`arms` covers `arms[].type`)."""
    if not unknown:
        return False
    parts = path.split(".")
    for end in range(1, len(parts) + 1):
        prefix = ".".join(parts[:end])
        if prefix in unknown or (prefix.endswith("[]") and prefix[:-2] in unknown):
            return True
    return False


# -- one definition of equality -----------------------------------------------------------


def text_lines(value) -> list[str]:
    """A text as its non-empty lines, white space collapsed (a list: one line per item)."""
    if value is None:
        return []
    if isinstance(value, list):
        return [" ".join(str(v).split()) for v in value if str(v).strip()]
    return [" ".join(line.split()) for line in str(value).splitlines() if line.strip()]


# Table captions of a results page: the labelled rendering shows each above its table, the bare
# one does not (tests/fixtures/pages/NCT03077919.results.txt against NCT01838876.results.txt).
RESULTS_CAPTIONS = frozenset(
    caption.casefold()
    for caption in (
        "Participant milestones",
        "Reasons for withdrawal",
        "Baseline characteristics",
        "Primary outcome",
        "Secondary outcome",
        "Other pre-specified outcome",
        "Post-hoc outcome",
        "Adverse events",
        "Serious adverse events",
        "Other adverse events",
    )
)


def cells(text) -> list[str]:
    """A results section's text as its cells: table punctuation (`|`, `|---|`) and captions
    dropped, white space collapsed.  The two renderings of a results page lay one table out
    differently; its cells agree."""
    out: list[str] = []
    for line in text_lines(text):
        cell = " ".join(line.replace("|", " ").split())
        if cell and set(cell) - set("-: ") and cell.casefold() not in RESULTS_CAPTIONS:
            out.append(cell)
    return out


def canon(value):
    """The comparable form of a value: strings as their sorted collapsed lines, lists as
    multisets (sorted by their items' canonical JSON), objects key by key."""
    if isinstance(value, str):
        return "\n".join(sorted(text_lines(value)))
    if isinstance(value, list):
        return sorted((canon(item) for item in value), key=_sort_key)
    if isinstance(value, dict):
        return {key: canon(item) for key, item in value.items()}
    return value


def _sort_key(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def same(a, b) -> bool:
    return a == b or canon(a) == canon(b)


def words(items) -> Counter:
    """A word list's words, case-folded, as a multiset."""
    return Counter(" ".join(str(item) for item in items or ()).casefold().split())


def identity(item, key_fields: tuple[str, ...]) -> tuple:
    """An item's identity: its key fields, case and white space folded."""
    if not isinstance(item, dict):
        return (_sort_key(canon(item)),)
    return tuple(" ".join(str(item.get(k) or "").casefold().split()) for k in key_fields)


def fingerprint(known: dict) -> str:
    """Canonical JSON of what a known state holds, compared content only."""
    compared = {key: value for key, value in known.items() if key not in NOT_COMPARED}
    compared["unknown"] = sorted(known.get("unknown") or ())
    return json.dumps(canon(compared), sort_keys=True, ensure_ascii=False, default=str)


# -- the known state ----------------------------------------------------------------------


def _copy(record: dict) -> dict:
    """A deep copy of a record (JSON-able by definition): through orjson, ten times faster than
    `copy.deepcopy`; deepcopy for what orjson refuses (an integer beyond 64 bits)."""
    try:
        return orjson.loads(orjson.dumps(record))
    except (TypeError, orjson.JSONEncodeError):
        return copy.deepcopy(record)


def start(record: dict) -> dict:
    """The known state of a timeline whose first snapshot is `record`."""
    record = upgrade(record)
    known = _copy(record)
    unknown = set(record.get("unknown") or ())
    for path in IDENTITIES:
        for field in _unknown_item_keys(unknown, path):
            for item in _items(known, path):
                item.pop(field, None)
    return known


def merge(known: dict | None, record: dict) -> dict:
    """The known state after `record`: each field as `record` has it where its source carries
    it, else as `known` had it.  Neither argument is changed."""
    if known is None:
        return start(record)
    return _Merge(known, upgrade(record)).state()


class _Merge:
    """One merge: a field unknown in the record keeps the known value; a path stays unknown while
    neither has carried it; a pseudo-path follows the value kept (`kept_known`)."""

    def __init__(self, known: dict, record: dict):
        self.known, self.record = known, record
        self.k_unknown = set(known.get("unknown") or ())
        self.r_unknown = set(record.get("unknown") or ())
        self.kept_known: set[str] = set()  # pseudo-paths whose value came from `known`

    def state(self) -> dict:
        merged = {
            key: self.value(key, self.known.get(key), self.record.get(key)) for key in TOP_LEVEL if key != "unknown"
        }
        merged["unknown"] = self.unknown()
        return merged

    def value(self, path: str, k, r):
        if covers(self.r_unknown, path):
            return copy.deepcopy(k)
        if path in DATE_FIELDS and isinstance(r, dict) and isinstance(k, dict):
            return self.date(path, k, r)
        if path in WORD_LISTS and covers(self.r_unknown, f"{path}.items") and words(k) == words(r):
            self.kept_known.add(f"{path}.items")  # the same words, run together: the items as known
            return copy.deepcopy(k)
        if path in IDENTITIES and isinstance(r, list):
            return self.items(path, k if isinstance(k, list) else [], r)
        if path in SECTION_MAPS and isinstance(r, dict):
            return self.sections(path, k if isinstance(k, dict) else {}, r)
        if isinstance(r, dict) and isinstance(k, dict):
            return {key: self.value(f"{path}.{key}", k.get(key), value) for key, value in r.items()}
        return copy.deepcopy(r)

    def sections(self, path: str, k: dict, r: dict) -> dict:
        """Sections by heading; a section whose cells are as known keeps its known text (another
        rendering of the same table); a source showing some sections only (`path.rest`) keeps the others."""
        shown = {h: copy.deepcopy(k[h]) if h in k and cells(k[h]) == cells(text) else text for h, text in r.items()}
        return {**copy.deepcopy(k), **shown} if covers(self.r_unknown, f"{path}.rest") else shown

    def date(self, path: str, k: dict, r: dict) -> dict:
        """A date whose new source shows month dates as days keeps the known date when they agree on
        the month; a type the new source does not show stays as known."""
        date = r.get("date")
        if covers(self.r_unknown, f"{path}.precision") and same_month(k.get("date"), date):
            date = k.get("date")
            self.kept_known.add(f"{path}.precision")
        kind = k.get("type") if covers(self.r_unknown, f"{path}.type") else r.get("type")
        return {"date": date, "type": kind}

    def items(self, path: str, k: list, r: list) -> list:
        """A keyed list as the record lists it; where its source does not show an item's key, the
        value known for the same item, or the key left out (unknown for that item)."""
        if f"{path}.rest" in self.r_unknown:  # only the first item shown: the others as known
            return self._items(path, k[:1], r[:1]) + copy.deepcopy(k[1:])
        return self._items(path, k, r)

    def _items(self, path: str, k: list, r: list) -> list:
        hidden = _unknown_item_keys(self.r_unknown, path)
        if not hidden:
            return copy.deepcopy(r)
        by_position = bool(set(IDENTITIES[path]) & set(hidden))  # no identity shown: pair in order
        partners = dict(enumerate(k)) if by_position else pair_items(k, r, IDENTITIES[path])
        merged = []
        for index, item in enumerate(r):
            item, partner = copy.deepcopy(item), partners.get(index)
            for field in hidden:
                if isinstance(partner, dict) and field in partner:
                    item[field] = copy.deepcopy(partner[field])
                else:
                    item.pop(field, None)
            merged.append(item)
        return merged

    def unknown(self) -> list[str]:
        """Paths no source has carried yet.  A pseudo-path (how far a value can be trusted) goes
        with the value kept: the known one's, or the record's."""
        k_unknown, r_unknown = self.k_unknown, self.r_unknown
        out = {path for path in k_unknown | r_unknown if covers(k_unknown, path) and covers(r_unknown, path)}
        for pseudo in [f"{field}.precision" for field in DATE_FIELDS] + [f"{field}.items" for field in WORD_LISTS]:
            field = pseudo.rsplit(".", 1)[0]
            source = k_unknown if pseudo in self.kept_known or covers(r_unknown, field) else r_unknown
            out.discard(pseudo)
            if covers(source, pseudo) and not covers(out, field):
                out.add(pseudo)
        return sorted(out)


def same_month(a, b) -> bool:
    """Two registry dates in the same month (or year, for year-only dates)."""
    pa, pb = registry_date(a), registry_date(b)
    if not pa or not pb:
        return False
    coarsest = "year" if "year" in (pa[1], pb[1]) else "month"
    return at_precision(pa[0], coarsest) == at_precision(pb[0], coarsest)


def pair_items(old: list, new: list, key_fields: tuple[str, ...]) -> dict[int, dict]:
    """new index → the old item it continues: same identity, the most alike first (a multiset:
    two items of one identity pair with two, never one with both)."""
    waiting: dict[tuple, list[dict]] = {}
    for item in old:
        waiting.setdefault(identity(item, key_fields), []).append(item)
    partners = {}
    for index, item in enumerate(new):
        candidates = waiting.get(identity(item, key_fields))
        if candidates:
            best = max(candidates, key=lambda other: alike(other, item))
            candidates.remove(best)
            partners[index] = best
    return partners


def alike(a, b) -> int:
    """How many keys two items share with equal values (to pair repeated identities)."""
    if not isinstance(a, dict) or not isinstance(b, dict):
        return int(same(a, b))
    return sum(1 for key in a if key in b and same(a[key], b[key]))


# -- helpers -----------------------------------------------------------------------------


def _unknown_item_keys(unknown: set, path: str) -> list[str]:
    prefix = f"{path}[]."
    return sorted(entry[len(prefix) :] for entry in unknown if entry.startswith(prefix))


def _items(record: dict, path: str) -> list:
    value: object = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def as_record(known: dict) -> dict:
    """A known state in the record's shape: every key present (a list item's key no source showed
    for that item is null)."""
    record = copy.deepcopy(known)
    template = empty_record()
    for path in IDENTITIES:
        keys = _item_template(path)
        for item in _items(record, path):
            for key, kind in keys:
                item.setdefault(key, [] if kind.startswith("list") else None)
    return {key: record.get(key, template[key]) for key in TOP_LEVEL}


def _item_template(path: str) -> list[tuple[str, str]]:
    """(key, kind) of a keyed list's items, from the record model (FIELDS)."""
    prefix = f"{path}[]."
    described = [(p[len(prefix) :], kind) for p, kind, _ in FIELDS if p.startswith(prefix)]
    return described or [(key, "text") for key in _ITEM_KEYS.get(path, ())]


# Items whose keys FIELDS does not list one by one.
_ITEM_KEYS = {
    "collaborators": ("name", "class"),
    "central_contacts": ("name", "role", "phone", "email"),
    "overall_officials": ("name", "affiliation", "role"),
    "other_ids": ("id", "type", "source", "domain"),
    "outcomes.primary": ("measure", "time_frame", "description"),
    "outcomes.secondary": ("measure", "time_frame", "description"),
    "outcomes.other": ("measure", "time_frame", "description"),
    "locations": ("facility", "city", "state", "country", "status"),
    "references": ("pmid", "type", "citation"),
}
