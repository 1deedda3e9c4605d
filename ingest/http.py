"""The one HTTP client: the ClinicalTrials.gov API v2 and saved trial pages.  Knows no database.

Every request goes through `Registry._get`: one `requests.Session` with a User-Agent naming
trialwatch and its version, a timeout on every request, a politeness delay (at most `rate`
requests a second), query strings only through `params=`, and bounded retries with exponential
backoff and jitter that honour `Retry-After`.

A 403 is a refusal, not a fault that passes: ClinicalTrials.gov sometimes refuses scripted
clients (public reports trace it to the TLS handshake's fingerprint) while a browser on the
same machine is served.  So a 403 is never retried as such.  It is asked again once through a
browser-like TLS transport (curl_cffi impersonating Chrome's handshake, the optional extra
`trialwatch[browser-tls]`); when that is served, the rest of the session's requests to that
host go through it too (a refusal by fingerprint would recur, and each would cost two
requests).  The fallback keeps trialwatch's User-Agent, waits its politeness turn and counts
in `requests_made` like any request.  Without the extra, or refused again, the request fails
at once with one line saying what was refused and how to enable the fallback.

Retries are a small explicit loop rather than urllib3's `Retry` on an `HTTPAdapter`.  urllib3
2.x could do the backoff, the jitter and a capped `Retry-After` (`retry_after_max`), but each
of its retries is a request the loop must see: it must wait its politeness turn (urllib3's
retries would bypass our rate), count in `requests_made` (the run's figure of requests to the
registry), be retried when the body is cut short (requests notices that after urllib3 has
returned, so urllib3 never would), and end, when it gives up, in one line naming the URL or
ids and the last status, where urllib3 raises a `MaxRetryError` whose text is a long repr.

Answers are read as a stream and never past a cap (`MAX_ANSWER_BYTES`, `MAX_PAGE_BYTES` for a
page URL): a server that sends gigabytes costs at most the cap.  Redirects are followed only
within the host asked (the API redirects an alias id to its trial); one to another host is
refused, with one line.  A URL's credentials or keys are used for the request and never shown
(`ingest.urls`).

Errors: a 404 is an answer (`FetchError` "no such trial", `status` 404), a 400 is bad input
(`InputError` with the API's message), a refusal (403), retries exhausted or an answer that is
not JSON is a `FetchError`.  An answer that is not what was asked for (not JSON, not a page of
studies, too large) is asked for once more; for a batch of trials it then counts as
`FetchError.content`, and the batch is split so that only the trial whose record is at fault
fails (a registry that is down fails a batch whole: splitting would only multiply requests).
"""

from __future__ import annotations

import difflib
import email.utils
import json
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from .errors import FetchError, InputError
from .ids import normalize_nct_id
from .parse import MAX_INPUT_BYTES
from .urls import check_http_url, credentials, redact, redact_text

DEFAULT_BASE_URL = "https://clinicaltrials.gov"
PROJECT_URL = "https://github.com/trialwatch/trialwatch"

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REFUSED = 403  # asked again once through the browser-like TLS transport, never retried as such
BROWSER_TLS_EXTRA = "pip install 'trialwatch[browser-tls]'"
IMPERSONATE = "chrome"  # curl_cffi's profile: the TLS and HTTP/2 fingerprint of a current Chrome
BACKOFF_CAP = 60.0  # seconds: the longest wait between tries we choose ourselves
MIN_RATE = 1 / 3600  # requests a second: one an hour is the slowest a run can usefully go
MAX_ANSWER_BYTES = 64 * 1024 * 1024  # an API answer: a /studies page of 1,000 full records is about 17 MB
MAX_PAGE_BYTES = MAX_INPUT_BYTES  # a page URL's body: what a saved file may be
MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
RETRY_AFTER_CAP = 300.0  # seconds: the longest wait a server's Retry-After can ask of us
BATCH_SIZE = 1000  # ids per /studies request; also the API's largest page

# The query parameters of GET /api/v2/studies (ctg-oas-v2.0.5.yaml).
SEARCH_PARAMS = frozenset(
    {
        "format", "markupFormat",
        "query.cond", "query.term", "query.locn", "query.titles", "query.intr", "query.outc",
        "query.spons", "query.lead", "query.id", "query.patient",
        "filter.overallStatus", "filter.geo", "filter.ids", "filter.advanced", "filter.synonyms",
        "postFilter.overallStatus", "postFilter.geo", "postFilter.ids", "postFilter.advanced",
        "postFilter.synonyms",
        "aggFilters", "geoDecay", "fields", "sort", "countTotal", "pageSize", "pageToken",
    }
)  # fmt: skip
_NARROWING = ("query.", "filter.", "postFilter.", "aggFilters")
_BATCH_OWNED = ("filter.ids", "pageSize", "pageToken", "format")

_TRANSIENT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


def load_browser_tls() -> Any | None:
    """curl_cffi's requests-like module, or None when the `browser-tls` extra is not installed."""
    try:
        from curl_cffi import requests as curl_requests
    except ImportError:
        return None
    return curl_requests


class _BrowserTLS:
    """GETs through curl_cffi with a browser's TLS handshake; trialwatch's User-Agent kept."""

    def __init__(self, module: Any, agent: str):
        self.session = module.Session(impersonate=IMPERSONATE)
        self.agent = agent
        errors = module.exceptions
        self.transient: tuple[type[BaseException], ...] = (
            errors.ConnectionError,
            errors.Timeout,
            errors.ChunkedEncodingError,
            errors.ContentDecodingError,
            errors.IncompleteRead,
        )
        self.failures: tuple[type[BaseException], ...] = (errors.RequestException,)

    def get(self, url: str, *, params: dict | None, headers: dict | None, timeout: float, auth=None) -> Any:
        sent = {"User-Agent": self.agent, **(headers or {})}
        return self.session.get(
            url, params=params, headers=sent, timeout=timeout, auth=auth, stream=True, allow_redirects=False
        )

    def close(self) -> None:
        self.session.close()


def user_agent() -> str:
    try:
        version = metadata.version("trialwatch")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    return f"trialwatch/{version} (+{PROJECT_URL})"


@dataclass
class Answer:
    """A response as read: its status, headers and body (read whole, within a cap)."""

    status_code: int
    headers: Any
    content: bytes
    reason: str = ""
    url: str = ""
    cut: str | None = field(default=None)  # why the body could not be read whole (retried)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


def _like(name: str) -> str | None:
    """The search parameter a mistyped name most likely meant, if one is alike: same case-blind
    name, or the same group (`query.`, `filter.`…) with a name that contains or resembles it."""
    lower = name.lower()
    group, _, rest = lower.rpartition(".")
    for known in sorted(SEARCH_PARAMS):
        if known.lower() == lower:
            return known
    candidates = {k: k.lower().rpartition(".")[2] for k in SEARCH_PARAMS if k.lower().rpartition(".")[0] == group}
    for known, known_rest in sorted(candidates.items()):
        if rest and (rest in known_rest or known_rest in rest) and min(len(rest), len(known_rest)) >= 3:
            return known
    close = difflib.get_close_matches(rest, sorted(candidates.values()), n=1, cutoff=0.7)
    return next((k for k, r in sorted(candidates.items()) if close and r == close[0]), None)


def validate_search_params(params: Mapping[str, object]) -> dict[str, str]:
    """Check the names against GET /studies' parameters; return them as query-string values.

    An unknown name is an InputError naming it.  Lists become comma-separated (the API's form
    for array parameters), booleans `true`/`false`.
    """
    clean: dict[str, str] = {}
    for name, value in params.items():
        if name not in SEARCH_PARAMS:
            close = _like(str(name))
            hint = f"; did you mean {close!r}?" if close else ""
            raise InputError(f"unknown ClinicalTrials.gov search parameter {name!r}{hint}")
        clean[name] = _param_text(value)
    return clean


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait for a `Retry-After` header (seconds or an HTTP date), capped; None if unusable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


class Registry:
    """ClinicalTrials.gov over HTTP, politely.

    `rate`: at most this many requests a second (None or 0: no delay).  `timeout`: seconds, on
    every request.  `max_tries`: tries in all for one request.  `backoff`: the first retry's
    wait in seconds, doubled each try (with jitter, capped at 60 s) unless the server sends
    `Retry-After`.  `progress`: optional callable given one line of text whenever the client
    waits to retry or turns to the browser-like TLS transport, so the CLI can show it on stderr.
    `browser_hosts`: the hosts whose refusal (403) made the client turn to that transport.
    """

    batch_size = BATCH_SIZE

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        rate: float | None = 1.0,
        timeout: float = 30.0,
        max_tries: int = 5,
        progress: Callable[[str], None] | None = None,
        backoff: float = 1.0,
    ):
        base_url, auth = credentials(check_http_url(base_url, "registry URL"))
        if urlsplit(base_url).query:
            raise InputError(
                f"{redact(base_url)!r}: a registry URL takes no query string (API paths are appended to it)"
            )
        self.base_url = base_url.rstrip("/")  # what is shown and stored: the credentials are in `auth`
        # Credentials go only to the registry's own host (a page URL elsewhere gets its own, or none).
        self._auth = {urlsplit(base_url).netloc: auth} if auth else {}
        if rate is not None and (rate < 0 or 0 < rate < MIN_RATE):
            raise InputError(
                f"rate must be a number of requests a second from {MIN_RATE:.6f} (one an hour), not {rate!r}"
            )
        if not timeout or timeout <= 0:
            raise InputError(f"timeout must be a positive number of seconds, not {timeout!r}")
        if not isinstance(max_tries, int) or max_tries < 1:
            raise InputError(f"max_tries must be at least 1, not {max_tries!r}")
        self.rate = rate or None
        self.timeout = timeout
        self.max_tries = max_tries
        self.backoff = backoff
        self.progress = progress
        self.requests_made = 0
        self.session = requests.Session()
        self.session.headers["User-Agent"] = user_agent()
        self._last_start: float | None = None
        self._random = random.Random()
        self._clock = time.monotonic
        self._sleep = time.sleep
        self._browser: _BrowserTLS | None = None
        self.browser_hosts: set[str] = set()

    def close(self) -> None:
        self.session.close()
        if self._browser is not None:
            self._browser.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the API ---------------------------------------------------------------------------

    def study(self, nct_id: str) -> dict:
        """GET /api/v2/studies/{id}: the study object (an alias id is redirected to its trial)."""
        nct_id = normalize_nct_id(nct_id)
        data = self._get_json(self._api(f"/api/v2/studies/{nct_id}"), what=nct_id, nct_id=nct_id)
        if not isinstance(data, dict) or not isinstance(data.get("protocolSection"), dict):
            raise FetchError(f"{nct_id}: answer is not a study (no protocolSection)", nct_id)
        ids = _study_ids(data)
        if not ids:
            raise FetchError(f"{nct_id}: answer has no protocolSection.identificationModule.nctId", nct_id)
        if nct_id not in ids:
            raise FetchError(f"{nct_id}: ClinicalTrials.gov answered with another trial ({ids[0]})", nct_id)
        return data

    def studies(
        self,
        nct_ids: Iterable[str],
        *,
        extra_params: Mapping[str, object] | None = None,
        fill_missing: bool | None = None,
    ) -> Iterator[tuple[str, dict | FetchError]]:
        """(nct_id, study) for every id, or (nct_id, FetchError) for one that could not be had.

        Asks GET /api/v2/studies with `filter.ids` for up to 1,000 ids a request, following
        `nextPageToken`.  Ids the answer lacks are then asked for one by one, so a dropped
        trial is reported by name; `fill_missing` defaults to that unless `extra_params`
        narrows the answer (query.*, filter.*, postFilter.*, aggFilters), where a missing id is
        one the filter left out and is not yielded.  If a batch request fails (retries
        exhausted, an answer not JSON), every id of that batch not yet yielded gets a
        FetchError, and the next batch goes on.  Each id is yielded under the id asked for
        (an alias id arrives with its trial's study object).  Bad ids or parameters raise
        InputError at the call, before any request.
        """
        ids = list(dict.fromkeys(normalize_nct_id(nct_id) for nct_id in nct_ids))
        extra = validate_search_params(extra_params or {})
        owned = [name for name in _BATCH_OWNED if name in extra]
        if owned:
            raise InputError(f"studies() sets {', '.join(owned)} itself; leave it out of extra_params")
        if fill_missing is None:
            fill_missing = not any(name.startswith(_NARROWING) for name in extra)
        return self._studies(ids, extra, fill_missing)

    def search(self, params: Mapping[str, object]) -> Iterator[dict]:
        """Every study of a search: GET /api/v2/studies with `params`, pageSize 1000, all pages."""
        clean = validate_search_params(params)
        if clean.get("format", "json") != "json":
            raise InputError(f"search results must be JSON, not format={clean['format']!r}")
        clean.setdefault("pageSize", str(BATCH_SIZE))
        what = f"search {_summary(clean)}"
        return self._pages(self._api("/api/v2/studies"), clean, what)

    def version(self) -> dict:
        """GET /api/v2/version: {"apiVersion": …, "dataTimestamp": …}."""
        url = self._api("/api/v2/version")
        data = self._get_json(url, what=url)
        if not isinstance(data, dict) or "apiVersion" not in data:
            raise FetchError(f"{url}: answer has no apiVersion")
        return data

    def history(self, nct_id: str) -> dict:
        """GET /api/int/studies/{id}?history=true: the record's version list (`history.changes`)."""
        nct_id = normalize_nct_id(nct_id)
        url = self._api(f"/api/int/studies/{nct_id}")
        data = self._get_json(url, params={"history": "true"}, what=f"{nct_id} history", nct_id=nct_id)
        if not isinstance(data, dict) or not isinstance(data.get("history"), dict):
            raise FetchError(f"{nct_id} history: answer has no history object", nct_id)
        return data

    def history_version(self, nct_id: str, version: int) -> dict:
        """GET /api/int/studies/{id}/history/{version}: {"studyVersion": N, "study": {…}}."""
        nct_id = normalize_nct_id(nct_id)
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise InputError(f"{nct_id}: history version must be a whole number from 0, not {version!r}")
        url = self._api(f"/api/int/studies/{nct_id}/history/{version}")
        what = f"{nct_id} version {version}"
        data = self._get_json(url, what=what, nct_id=nct_id)
        if not isinstance(data, dict) or not isinstance(data.get("study"), dict):
            raise FetchError(f"{what}: answer has no study object", nct_id)
        return data

    def fetch_url(self, url: str) -> tuple[bytes, str]:
        """GET an http(s) page (a saved trial page): (body, Content-Type)."""
        url = check_http_url(url, "page URL")
        response = self._get(url, what=redact(url), cap=MAX_PAGE_BYTES)
        self._check_status(response, what=redact(url))
        return response.content, response.headers.get("Content-Type", "")

    # -- batches and pages -----------------------------------------------------------------

    def _studies(
        self, ids: list[str], extra: dict[str, str], fill_missing: bool
    ) -> Iterator[tuple[str, dict | FetchError]]:
        for start in range(0, len(ids), self.batch_size):
            yield from self._batch(ids[start : start + self.batch_size], extra, fill_missing)

    def _batch(
        self, ids: list[str], extra: dict[str, str], fill_missing: bool
    ) -> Iterator[tuple[str, dict | FetchError]]:
        """The studies of up to 1,000 ids in one request (and its pages).  An answer the registry
        rejects (400) or that is not what was asked for splits the batch in two, down to the one
        trial at fault; a registry that cannot be had fails the batch whole."""
        done: set[str] = set()
        try:
            for nct_id, study in self._batch_pages(ids, extra):
                done.add(nct_id)
                yield nct_id, study
        except (FetchError, InputError) as error:
            rest = [nct_id for nct_id in ids if nct_id not in done]
            if len(rest) > 1 and (isinstance(error, InputError) or error.content):
                half = len(rest) // 2
                yield from self._batch(rest[:half], extra, fill_missing)
                yield from self._batch(rest[half:], extra, fill_missing)
                return
            for nct_id in rest:
                yield nct_id, FetchError(f"{nct_id}: {error}", nct_id, status=getattr(error, "status", 400))
            return
        if fill_missing:
            for nct_id in ids:
                if nct_id not in done:
                    try:
                        yield nct_id, self.study(nct_id)
                    except FetchError as error:
                        yield nct_id, error

    def _batch_pages(self, ids: list[str], extra: dict[str, str]) -> Iterator[tuple[str, dict]]:
        wanted, seen = set(ids), set()
        params = {**extra, "filter.ids": ",".join(ids), "pageSize": str(BATCH_SIZE)}
        what = f"batch of {len(ids)} trial{'s' if len(ids) != 1 else ''} ({_sample(ids)})"
        for study in self._pages(self._api("/api/v2/studies"), params, what):
            for nct_id in _study_ids(study):
                if nct_id in wanted and nct_id not in seen:
                    seen.add(nct_id)
                    yield nct_id, study

    def _pages(self, url: str, params: dict[str, str], what: str) -> Iterator[dict]:
        token, seen = None, set()
        while True:
            page_params = {**params, "pageToken": token} if token else params
            data = self._get_json(url, params=page_params, what=what)
            studies = data.get("studies", []) if isinstance(data, dict) else None
            if not isinstance(studies, list) or not all(isinstance(study, dict) for study in studies):
                raise FetchError(f"{what}: answer is not a page of studies (no 'studies' list)", content=True)
            yield from studies
            token = data.get("nextPageToken")
            if not token:
                return
            if token in seen:
                raise FetchError(f"{what}: ClinicalTrials.gov repeated page token {token!r}")
            seen.add(token)

    # -- one request -----------------------------------------------------------------------

    @property
    def _session_get(self) -> Any:
        """The session, asked to stream bodies and leave redirects to `_get`."""
        return _StreamingSession(self.session)

    def _api(self, path: str) -> str:
        return self.base_url + path

    def _get_json(self, url: str, *, params: dict | None = None, what: str, nct_id: str | None = None):
        """The answer's JSON; an answer that is not JSON (a proxy's HTML page with status 200, a
        body cut short) is asked for once more before it is a FetchError (`content`)."""
        problem = ""
        for _ in range(2):
            response = self._get(url, params=params, what=what, nct_id=nct_id, accept="application/json")
            self._check_status(response, what=what, nct_id=nct_id)
            try:
                return json.loads(response.content)
            except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
                problem = f"{error} ({_describe_body(response)})"
            except RecursionError:
                problem = "nested too deeply"
        raise FetchError(f"{what}: answer is not JSON: {problem}", nct_id, content=True)

    def _get(
        self,
        url: str,
        *,
        params: dict | None = None,
        what: str,
        nct_id: str | None = None,
        accept: str | None = None,
        cap: int = MAX_ANSWER_BYTES,
    ) -> Answer:
        """One GET (retried as `_try` says), following redirects within the host asked only."""
        for _ in range(MAX_REDIRECTS + 1):
            answer = self._try(url, params, what, nct_id, accept, cap)
            if answer.status_code not in REDIRECTS or not answer.headers.get("Location"):
                return answer
            target = urljoin(url, answer.headers["Location"])
            if urlsplit(target).netloc != urlsplit(url).netloc:
                raise FetchError(f"{what}: redirected to another host ({redact(target)}); not followed", nct_id)
            url, params = target, None
        raise FetchError(f"{what}: more than {MAX_REDIRECTS} redirects; not followed", nct_id)

    def _try(self, url: str, params: dict | None, what: str, nct_id: str | None, accept: str | None, cap: int):
        """One GET, retried on 429/5xx and transport errors; a 403 asked again once through the
        browser-like TLS transport, then a FetchError; any other answer is returned."""
        headers = {"Accept": accept} if accept else None
        host = urlsplit(url).netloc
        last = ""
        attempt = 1
        while True:
            browser = host in self.browser_hosts
            outcome = self._send(url, params, headers, browser, what, nct_id, cap)
            if not isinstance(outcome, str) and outcome.status_code == REFUSED:
                if not browser and self._turn_to_browser(host, what):
                    continue  # the one retry through the browser-like transport: not one of max_tries
                raise self._refused(url, what, nct_id, browser)
            if not isinstance(outcome, str) and outcome.status_code not in RETRY_STATUSES:
                return outcome
            wait = None
            if isinstance(outcome, str):
                last = outcome
            else:
                last = f"HTTP {outcome.status_code}"
                wait = retry_after_seconds(outcome.headers.get("Retry-After"))
            if attempt == self.max_tries:
                break
            if wait is None:
                wait = min(BACKOFF_CAP, self.backoff * 2 ** (attempt - 1) * self._random.uniform(0.5, 1.5))
            if self.progress:
                self.progress(f"{what}: {last}; try {attempt + 1} of {self.max_tries} in {wait:.1f} s")
            self._sleep(wait)
            attempt += 1
        where = redact(urlsplit(url)._replace(query="", fragment="").geturl())
        shown = "" if where in what else f" (GET {where})"  # `what` may be the URL itself
        raise FetchError(f"{what}: gave up after {self.max_tries} tries{shown}: {last}", nct_id)

    def _send(self, url: str, params, headers, browser: bool, what: str, nct_id, cap: int) -> Answer | str:
        """One request at its politeness turn, counted, its body read within `cap`: the answer, or
        the description of a transport error worth retrying (a str).  Other transport errors,
        and a body over the cap, are a FetchError."""
        self._wait_turn()
        self.requests_made += 1
        transport: Any
        if browser and self._browser is not None:
            transport, transient, failures = self._browser, self._browser.transient, self._browser.failures
        else:
            transport, transient, failures = self._session_get, _TRANSIENT, (requests.RequestException,)
        auth = self._auth.get(urlsplit(url).netloc)
        try:
            response = transport.get(url, params=params, headers=headers, timeout=self.timeout, auth=auth)
            try:
                return _read(response, cap, what, nct_id)
            finally:
                response.close()
        except transient as error:
            return _describe_error(error, self.timeout)
        except failures as error:
            raise FetchError(f"{what}: {_describe_error(error, self.timeout)}", nct_id) from None

    def _turn_to_browser(self, host: str, what: str) -> bool:
        """After a refusal: send this host's requests through the browser-like TLS transport from
        now on.  False when the `browser-tls` extra is not installed."""
        if self._browser is None:
            module = load_browser_tls()
            if module is None:
                return False
            self._browser = _BrowserTLS(module, self.session.headers["User-Agent"])
        self.browser_hosts.add(host)
        if self.progress:
            self.progress(
                f"{what}: {host} refused trialwatch's client (HTTP 403); asking through a browser-like TLS transport"
            )
        return True

    def _refused(self, url: str, what: str, nct_id: str | None, browser: bool) -> FetchError:
        parts = urlsplit(url)
        where = parts._replace(query="", fragment="").geturl()
        site = "ClinicalTrials.gov" if url.startswith(self.base_url) else parts.netloc
        if browser:
            return FetchError(
                f"{what}: {site} refused the request (HTTP 403, GET {where}), also through the browser-like TLS transport",
                nct_id,
                status=REFUSED,
            )
        return FetchError(
            f"{what}: {site} refused the request (HTTP 403, GET {where}); it sometimes refuses scripted clients by "
            f"their TLS fingerprint: {BROWSER_TLS_EXTRA} and trialwatch asks once more through a browser-like TLS transport",
            nct_id,
            status=REFUSED,
        )

    def _wait_turn(self) -> None:
        """Politeness: start at most `rate` requests a second; the first does not wait."""
        if not self.rate:
            return
        now = self._clock()
        if self._last_start is not None:
            wait = self._last_start + 1.0 / self.rate - now
            if wait > 0:
                self._sleep(wait)
                now = self._clock()
        self._last_start = now

    @staticmethod
    def _check_status(response: Any, *, what: str, nct_id: str | None = None) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        if status == 404:
            if nct_id:
                raise FetchError(f"{nct_id}: ClinicalTrials.gov has no such trial (HTTP 404)", nct_id, status=404)
            raise FetchError(f"{what}: not found (HTTP 404)", status=404)
        if status == 400:
            message = _one_line(response.text) or "no message"
            raise InputError(f"{what}: ClinicalTrials.gov rejected the request (HTTP 400): {message}")
        raise FetchError(f"{what}: HTTP {status} {response.reason or ''}".rstrip(), nct_id, status=status)


# -- small helpers -------------------------------------------------------------------------


class _StreamingSession:
    """A requests session whose GETs stream their body and do not follow redirects."""

    def __init__(self, session: requests.Session):
        self.session = session

    def get(self, url: str, *, params: dict | None, headers: dict | None, timeout: float, auth=None) -> Any:
        return self.session.get(
            url, params=params, headers=headers, timeout=timeout, auth=auth, stream=True, allow_redirects=False
        )


def _read(response: Any, cap: int, what: str, nct_id: str | None) -> Answer:
    """A streamed response's body, read whole but never past `cap` bytes."""
    declared = response.headers.get("Content-Length")
    too_large = FetchError(f"{what}: answer larger than {cap:,} bytes; not read", nct_id, content=True)
    if declared and declared.isdigit() and int(declared) > cap:
        raise too_large
    body = bytearray()
    # requests reads in chunks of the size asked (1 byte by default); curl_cffi chooses its own.
    chunks = response.iter_content(_CHUNK) if isinstance(response, requests.Response) else response.iter_content()
    for chunk in chunks:
        body += chunk
        if len(body) > cap:
            raise too_large
    return Answer(response.status_code, response.headers, bytes(body), response.reason or "", str(response.url))


def _study_ids(study: dict) -> list[str]:
    """The study's NCT id, then its aliases (upper case)."""
    ident = (study.get("protocolSection") or {}).get("identificationModule") or {}
    ids = [ident.get("nctId")] + list(ident.get("nctIdAliases") or [])
    return [nct_id.strip().upper() for nct_id in ids if isinstance(nct_id, str) and nct_id.strip()]


def _param_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(_param_text(item) for item in value)
    return str(value)


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _sample(ids: list[str]) -> str:
    return ", ".join(ids) if len(ids) <= 3 else f"{ids[0]}, {ids[1]} … {ids[-1]}"


def _summary(params: Mapping[str, str]) -> str:
    shown = {name: value for name, value in params.items() if name not in ("pageSize", "pageToken")}
    return _one_line(" ".join(f"{name}={value}" for name, value in shown.items()), 120) or "(all studies)"


def _describe_body(response: Any) -> str:
    kind = response.headers.get("Content-Type", "no Content-Type").split(";")[0].strip()
    start = _one_line(response.content[:60].decode("utf-8", "replace"), 40)
    return f"{kind}, {len(response.content):,} bytes, starting {start!r}"


def _describe_error(error: BaseException, timeout: float) -> str:
    text = redact_text(str(error))
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        incomplete = re.search(r"IncompleteRead\((\d+) bytes read, (\d+) more expected\)", text)
        if incomplete:  # the connection dropped mid-body
            got, more = map(int, incomplete.groups())
            return f"answer cut short: connection closed after {got:,} bytes, {more:,} more expected"
        return f"answer cut short ({_one_line(text, 120)})"
    if isinstance(error, requests.ConnectTimeout):
        return f"no connection within {timeout:g} s"
    if isinstance(error, requests.ReadTimeout) or "Read timed out" in text:
        return f"no answer within {timeout:g} s"
    if type(error).__name__ in ("Timeout", "ReadTimeout", "ConnectTimeout"):  # the browser-like transport's
        return f"no answer within {timeout:g} s"
    curl = re.search(r"curl: \((\d+)\) (.+?)(?:\. See https?://\S+|$)", text)
    if curl:  # the browser-like transport's: "Failed to perform, curl: (7) Failed to connect … See https://…"
        return f"{_one_line(curl.group(2), 160)} (curl error {curl.group(1)})"
    errno = re.search(r"\[Errno -?\d+\] [^'\")]+", text)
    if errno:
        return f"connection failed: {errno.group(0).strip()}"
    return f"{type(error).__name__}: {_one_line(text, 160)}"
