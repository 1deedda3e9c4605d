"""ClinicalTrials.gov as a source of records: current records, saved searches, page URLs and
the registry's version history, through the one HTTP client (`ingest.http.Registry`).

What `trialwatch.snapshots.jobs` asks of a source is defined here as plain objects
(`RegistrySource`, `HistorySource`) that yield `Parsed` and `Failed` items: no HTTP crosses
into `snapshots`, and nothing here knows the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qsl

from .ctgov import map_study
from .errors import FetchError, InputError
from .history import HistoryIndex, parse_index
from .http import validate_search_params
from .markup import normalize_history_study
from .parse import API, HISTORY, PAGE_URL, SEARCH, Failed, Parsed, parse_bytes
from .urls import redact


def api_study(study: dict, ref: str) -> Parsed:
    """One API study object → Parsed (raw: the study's JSON, so it can be re-mapped later)."""
    raw = json.dumps(study, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Parsed(map_study(study), raw, API, ref, fetched=True)


# What a listing asks for: the id (that the trial is still there) and the last update post date.
LISTING_FIELDS = "NCTId,LastUpdatePostDate"


def fetch_trials(registry, nct_ids, updated_since: str | None = None) -> Iterator[Parsed | Failed]:
    """The current records of trials from ClinicalTrials.gov, batched (see Registry.studies).

    With `updated_since` (a date), only the trials the registry updated on or after it.  A trial
    the registry has no record of is a Failed with `missing` set.
    """
    extra = {"filter.advanced": f"AREA[LastUpdatePostDate]RANGE[{updated_since},MAX]"} if updated_since else None
    for nct_id, answer in registry.studies(nct_ids, extra_params=extra):
        yield _api_item(registry, nct_id, answer)


def fetch_each(registry, nct_ids) -> Iterator[Parsed | Failed]:
    """Trials asked for one by one (GET /api/v2/studies/{id}), as `fetch_trials` yields them."""
    for nct_id in nct_ids:
        try:
            answer: dict | FetchError = registry.study(nct_id)
        except FetchError as error:
            answer = error
        yield _api_item(registry, nct_id, answer)


def list_trials(registry, nct_ids) -> Iterator[tuple[str, str | None] | Failed]:
    """Which of these trials the registry still returns, and the last update post date of each:
    `(nct_id, date or None)`.  GET /api/v2/studies with `filter.ids` and `fields=NCTId,
    LastUpdatePostDate`, one request per 1,000 ids.  An id the answer lacks is not yielded (ask
    for it alone to know why: `fetch_each`); a request that fails gives a Failed per id of it.
    """
    for nct_id, answer in registry.studies(nct_ids, extra_params={"fields": LISTING_FIELDS}, fill_missing=False):
        if isinstance(answer, FetchError):
            yield Failed(f"{registry.base_url}/api/v2/studies?filter.ids={nct_id}", str(answer), nct_id, API)
            continue
        status = (answer.get("protocolSection") or {}).get("statusModule") or {}
        posted = (status.get("lastUpdatePostDateStruct") or {}).get("date")
        yield nct_id, posted if isinstance(posted, str) else None


def _api_item(registry, nct_id: str, answer: dict | FetchError) -> Parsed | Failed:
    ref = f"{registry.base_url}/api/v2/studies/{nct_id}"
    if isinstance(answer, FetchError):
        return Failed(ref, str(answer), nct_id, API, missing=answer.status == 404)
    try:
        return api_study(answer, ref)
    except InputError as error:
        return Failed(ref, str(error), nct_id, API)


def fetch_pages(registry, urls) -> Iterator[Parsed | Failed]:
    """Saved-page URLs (e.g. https://meddatax.com/clinical-trials/NCT06731192), parsed like files."""
    for url in urls:
        shown = redact(url)  # the request uses the URL as given; what is stored or printed is redacted
        try:
            body, _ = registry.fetch_url(url)
            parsed = parse_bytes(body, shown)
        except (FetchError, InputError) as error:
            yield Failed(shown, str(error), source_kind=PAGE_URL)
            continue
        for item in parsed:
            item.fetched = True
        yield from parsed


# -- the registry's version history -------------------------------------------------------


class HistorySource:
    """A trial's earlier versions on ClinicalTrials.gov, through a `Registry`.

    `index(nct_id)`: the history index (one request): the version list and what the registry
    says of first-registered values (`ingest.history.HistoryIndex`).  `versions(nct_id)`: its
    version list alone.  `version(nct_id, n)`: that version as `Parsed` (source kind
    "ctgov history", raw the version's study JSON as the registry sent it).  Every study of a
    history answer is HTML-encoded; it is normalised to the API v2 form
    (`ingest.markup.normalize_history_study`) before it is mapped, so the newest version and
    the API record of the same version are equal records.  No search parameter is ever sent
    (the registry would add `<mark>` tags).  FetchError with one line naming the trial (and
    the version) when the registry refuses, has no history or no such version, or answers with
    something else; `version` raises InputError when the study cannot be mapped.
    """

    source_kind = HISTORY

    def __init__(self, registry):
        self.registry = registry

    def list_ref(self, nct_id: str) -> str:
        return f"{self.registry.base_url}/api/int/studies/{nct_id}?history=true"

    def version_ref(self, nct_id: str, number: int) -> str:
        return f"{self.registry.base_url}/api/int/studies/{nct_id}/history/{number}"

    def index(self, nct_id: str) -> HistoryIndex:
        try:
            data = self.registry.history(nct_id)
        except FetchError as error:
            if error.status == 404:
                raise FetchError(
                    f"{nct_id}: ClinicalTrials.gov has no version history for this trial (HTTP 404)", nct_id, status=404
                ) from None
            raise
        return parse_index(nct_id, data)

    def versions(self, nct_id: str) -> list[dict]:
        return self.index(nct_id).versions

    def version(self, nct_id: str, number: int) -> Parsed:
        what = f"{nct_id} version {number}"
        try:
            data = self.registry.history_version(nct_id, number)
        except FetchError as error:
            if error.status == 404:
                raise FetchError(
                    f"{what}: ClinicalTrials.gov has no such version (HTTP 404)", nct_id, status=404
                ) from None
            raise
        study = data["study"]
        try:
            record = map_study(normalize_history_study(study))
        except InputError as error:
            raise InputError(f"{what}: {error}") from None
        if record["nct_id"] != nct_id:
            raise FetchError(f"{what}: ClinicalTrials.gov answered with another trial ({record['nct_id']})", nct_id)
        raw = json.dumps(study, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return Parsed(record, raw, HISTORY, self.version_ref(nct_id, number))


def parse_search(query: str) -> dict[str, str]:
    """A saved search in ClinicalTrials.gov's own API parameters → validated parameters.

    `query.cond=Alport syndrome&filter.overallStatus=RECRUITING`; an unknown parameter, a
    parameter the search sets itself, or an empty query is an InputError.
    """
    try:
        pairs = parse_qsl(query.strip(), keep_blank_values=False, strict_parsing=True)
    except ValueError:
        raise InputError(
            f"{query!r} is not a search: write API parameters like 'query.cond=asthma&filter.overallStatus=RECRUITING'"
        ) from None
    if not pairs:
        raise InputError(f"{query!r} is an empty search: it would match the whole registry")
    params = validate_search_params(dict(pairs))
    owned = [name for name in ("pageToken", "pageSize", "format", "fields") if name in params]
    if owned:
        raise InputError(f"{query!r}: trialwatch sets {', '.join(owned)} itself; leave it out")
    return params


class RegistrySource:
    """ClinicalTrials.gov as `trialwatch.snapshots.jobs.run` wants it: records in, no HTTP out of this package."""

    def __init__(self, registry):
        self.registry = registry

    @property
    def requests_made(self) -> int:
        return self.registry.requests_made

    def data_timestamp(self) -> str:
        return str(self.registry.version().get("dataTimestamp"))

    def trials(self, nct_ids, updated_since: str | None = None) -> Iterator[Parsed | Failed]:
        return fetch_trials(self.registry, nct_ids, updated_since)

    def study_ref(self, nct_id: str) -> str:
        return f"{self.registry.base_url}/api/v2/studies/{nct_id}"

    def each(self, nct_ids) -> Iterator[Parsed | Failed]:
        return fetch_each(self.registry, nct_ids)

    def listed(self, nct_ids) -> Iterator[tuple[str, str | None] | Failed]:
        return list_trials(self.registry, nct_ids)

    def search(self, query: str) -> Iterator[Parsed | Failed]:
        ref = f"{self.registry.base_url}/api/v2/studies?{query}"
        try:
            for study in self.registry.search(parse_search(query)):
                try:
                    yield api_study(study, ref)
                except InputError as error:
                    yield Failed(ref, str(error), source_kind=SEARCH)
        except (FetchError, InputError) as error:
            yield Failed(ref, f"search {query!r}: {error}", source_kind=SEARCH)
