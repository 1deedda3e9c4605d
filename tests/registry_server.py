"""A small local ClinicalTrials.gov for tests: real HTTP on 127.0.0.1, an ephemeral port.

    from registry_server import RegistryServer, load_studies

    with RegistryServer(load_studies()) as server:
        server.fail(503, times=2)                  # the next two requests answer 503
        registry = Registry(server.url, rate=None, backoff=0.01)
        ...
        assert server.hits["/api/v2/studies"] == 1

Serves, from plain dicts you may change between requests:
- `/api/v2/studies/{id}`: `studies[id]`; an alias (nctIdAliases) → 301 to its trial; else 404.
- `/api/v2/studies?filter.ids=…&pageSize=…&pageToken=…`: the studies with those ids (or aliases),
  narrowed by `filter.advanced=AREA[LastUpdatePostDate]RANGE[date,MAX]`, `filter.overallStatus`
  and `query.cond` (a substring of the conditions) when given;
  all studies without filter.ids; pages of min(pageSize or 10, 1000, `page_size`) with a real
  `nextPageToken`; `countTotal=true` adds `totalCount`; `fields=NCTId,LastUpdatePostDate` (the
  pieces the tests use) answers each study with those fields only, as the API's projection does
  (another piece → 400).  Ids in `batch_drops` are left out
  (still served one by one).  A malformed id in filter.ids → 400 text/plain, as the API does.
- `/api/v2/version`: `version`.
- `/api/int/studies/{id}?history=true`: `histories[id]` (the whole JSON body); else 404.
- `/api/int/studies/{id}/history/{n}`: {"studyVersion": n, "study": `history_versions[(id, n)]`}.
- any path in `pages`: `pages[path] = (body bytes, content type)`, e.g. a saved trial page.

Refusal: with `refuse_scripted = True` every request lacking the headers a browser sends
(`sec-ch-ua`) answers 403 with an "Access Denied" page, the rest are served: a stand-in for the
registry refusing scripted clients by their TLS fingerprint while browsers are served (plain HTTP
on 127.0.0.1 has no TLS handshake, so the transports are told apart by what they send).

Misbehaviour, for the next `times` requests whose path starts with `path` (any path if None),
first added first used: `fail(status, times, retry_after=, body=)`, `slow(seconds, times)`,
`cut_short(times, declare_full_length=False)` (half the body; with the full Content-Length
declared the connection drops mid-body), `html(times)` (a 200 text/html page).  `poisoned`
(a set of ids): every answer that would hold one of them is such an HTML page, every time.

Seen: `hits` (Counter of paths), `log` (list of `Seen(path, params, headers)`), `seen(path)`.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).parent / "fixtures" / "ctgov"
_API_ID = re.compile(r"^[Nn][Cc][Tt]0*[1-9]\d{0,7}$")  # the API's own pattern (ctg-oas-v2.0.5.yaml)
_HTML = b"<!DOCTYPE html><html><head><title>Maintenance</title></head><body>Back soon.</body></html>"
_DENIED = b"<HTML><HEAD><TITLE>Access Denied</TITLE></HEAD><BODY><H1>Access Denied</H1></BODY></HTML>"


def load_studies(directory: Path = FIXTURES / "studies") -> dict[str, dict]:
    """The recorded real study objects, by NCT id."""
    studies = {}
    for path in sorted(Path(directory).glob("*.json")):
        study = json.loads(path.read_text(encoding="utf-8"))
        studies[study["protocolSection"]["identificationModule"]["nctId"]] = study
    return studies


def synthetic_studies(count: int, template: dict | None = None, first: int = 90000001) -> dict[str, dict]:
    """`count` studies with ids NCT90000001…: copies of `template` (a real study) with the id
    replaced, or a minimal study object; for tests that count requests over thousands of ids."""
    studies = {}
    for number in range(first, first + count):
        nct_id = f"NCT{number:08d}"
        if template is None:
            studies[nct_id] = {
                "protocolSection": {
                    "identificationModule": {"nctId": nct_id, "briefTitle": f"Trial {nct_id}"},
                    "statusModule": {"overallStatus": "RECRUITING"},
                },
                "hasResults": False,
            }
        else:
            protocol = dict(template["protocolSection"])
            protocol["identificationModule"] = {**protocol["identificationModule"], "nctId": nct_id}
            studies[nct_id] = {**template, "protocolSection": protocol}
    return studies


@dataclass
class Seen:
    path: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class _Fault:
    kind: str
    times: int
    path: str | None
    options: dict = field(default_factory=dict)


class RegistryServer:
    def __init__(
        self,
        studies: dict[str, dict] | None = None,
        *,
        page_size: int = 1000,
        pages: dict[str, tuple[bytes, str]] | None = None,
        histories: dict[str, dict] | None = None,
        history_versions: dict[tuple[str, int], dict] | None = None,
        version: dict | None = None,
    ):
        self.studies = dict(studies or {})
        self.page_size = page_size
        self.pages = dict(pages or {})
        self.histories = dict(histories or {})
        self.history_versions = dict(history_versions or {})
        self.version = version or {"apiVersion": "2.0.5", "dataTimestamp": "2026-08-11T09:00:00"}
        self.batch_drops: set[str] = set()
        # Trials whose record the registry cannot serve: any answer holding one is an HTML page
        # with status 200 (as a proxy's error page is), every time it is asked.
        self.poisoned: set[str] = set()
        self.poison_served = 0  # HTML pages served for them
        self.endless_paths: set[str] = set()  # paths whose body never ends (no Content-Length)
        self.refuse_scripted = False
        self.hits: Counter[str] = Counter()
        self.log: list[Seen] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life ------------------------------------------------------------------------------

    def start(self) -> RegistryServer:
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.registry = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._httpd = None

    def __enter__(self) -> RegistryServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url_for(self, path: str) -> str:
        return self.url + path

    # -- misbehaviour ----------------------------------------------------------------------

    def fail(
        self,
        status: int = 503,
        times: int = 1,
        *,
        retry_after: str | int | None = None,
        body: str | None = None,
        path: str | None = None,
    ) -> None:
        self._add("status", times, path, status=status, retry_after=retry_after, body=body)

    def slow(self, seconds: float, times: int = 1, *, path: str | None = None) -> None:
        self._add("slow", times, path, seconds=seconds)

    def cut_short(self, times: int = 1, *, declare_full_length: bool = False, path: str | None = None) -> None:
        self._add("cut_short", times, path, declare_full_length=declare_full_length)

    def html(self, times: int = 1, *, path: str | None = None) -> None:
        self._add("html", times, path)

    def endless(self, path: str) -> None:
        """`path` answers 200 with a body that never ends, until the client hangs up."""
        self.endless_paths.add(path)

    def _add(self, kind: str, times: int, path: str | None, **options) -> None:
        with self._lock:
            self._faults.append(_Fault(kind, times, path, options))

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and (fault.path is None or path.startswith(fault.path)):
                    fault.times -= 1
                    return fault
        return None

    # -- what it saw -----------------------------------------------------------------------

    def seen(self, path: str) -> list[Seen]:
        return [request for request in self.log if request.path == path]

    def reset(self) -> None:
        with self._lock:
            self.hits.clear()
            self.log.clear()
            self._faults.clear()

    # -- answers: (status, body, content type, extra headers) ------------------------------

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, bytes, str, dict]:
        if path == "/api/v2/version":
            return _json(self.version)
        if path == "/api/v2/studies":
            return self._list(params)
        match = re.fullmatch(r"/api/v2/studies/([^/]+)", path)
        if match:
            return self._single(match.group(1).upper())
        match = re.fullmatch(r"/api/int/studies/([^/]+)", path)
        if match and params.get("history") == "true":
            body = self.histories.get(match.group(1).upper())
            return _json(body) if body is not None else _text(404, f"Study {match.group(1)} not found")
        match = re.fullmatch(r"/api/int/studies/([^/]+)/history/(\d+)", path)
        if match:
            nct_id, number = match.group(1).upper(), int(match.group(2))
            study = self.history_versions.get((nct_id, number))
            if study is None:
                return _text(404, f"Study {nct_id} version {number} not found")
            return _json({"studyVersion": number, "study": study})
        if path in self.pages:
            body, content_type = self.pages[path]
            if content_type == "redirect":  # a page that moved: its body is the new location
                return 302, b"", "text/plain", {"Location": body.decode()}
            return 200, body, content_type, {}
        return _text(404, f"{path} not found")

    def _single(self, nct_id: str) -> tuple[int, bytes, str, dict]:
        if not _API_ID.match(nct_id):
            return _text(400, f"Incorrect format of NCT number: {nct_id}")
        if nct_id.upper() in self.poisoned:
            self.poison_served += 1
            return 200, _HTML, "text/html", {}
        if nct_id in self.studies:
            return _json(self.studies[nct_id])
        for real_id, study in self.studies.items():
            if nct_id in _aliases(study):
                return 301, b"", "text/plain", {"Location": f"/api/v2/studies/{real_id}"}
        return _text(404, f"Study {nct_id} not found")

    def _list(self, params: dict[str, str]) -> tuple[int, bytes, str, dict]:
        chosen = [(nct_id, study) for nct_id, study in self.studies.items() if nct_id not in self.batch_drops]
        if "filter.ids" in params:
            wanted = [item.strip() for item in re.split(r"[,|]", params["filter.ids"]) if item.strip()]
            bad = [item for item in wanted if not _API_ID.match(item)]
            if bad:
                return _text(400, f"filter.ids: incorrect format of NCT number: {bad[0]}")
            wanted_set = {item.upper() for item in wanted}
            if wanted_set & self.poisoned:
                self.poison_served += 1
                return 200, _HTML, "text/html", {}
            chosen = [(n, s) for n, s in chosen if n in wanted_set or wanted_set & set(_aliases(s))]
        chosen = [(n, s) for n, s in chosen if _matches(s, params)]
        try:
            size = int(params.get("pageSize") or 0) or 10
            start = int(params["pageToken"][len("tok") :]) if "pageToken" in params else 0
        except ValueError:
            return _text(400, "pageSize or pageToken is not valid")
        size = max(1, min(size, 1000, self.page_size))
        studies = [study for _, study in chosen[start : start + size]]
        if "fields" in params:
            pieces = [piece.strip() for piece in re.split(r"[,|]", params["fields"]) if piece.strip()]
            unknown = [piece for piece in pieces if piece not in _PIECES]
            if unknown:
                return _text(400, f"fields: unknown field {unknown[0]}")
            studies = [_project(study, pieces) for study in studies]
        page = {"studies": studies}
        if params.get("countTotal") == "true" and start == 0:
            page["totalCount"] = len(chosen)
        if start + size < len(chosen):
            page["nextPageToken"] = f"tok{start + size}"
        return _json(page)


_UPDATED_SINCE = re.compile(r"^AREA\[LastUpdatePostDate\]RANGE\[(\d{4}-\d{2}-\d{2}),\s*MAX\]$")


def _matches(study: dict, params: dict[str, str]) -> bool:
    """The few search parameters the tests use, as the API reads them."""
    protocol = study.get("protocolSection", {})
    advanced = params.get("filter.advanced")
    if advanced:
        match = _UPDATED_SINCE.match(advanced)
        if not match:
            raise ValueError(f"unsupported filter.advanced {advanced!r}")
        updated = protocol.get("statusModule", {}).get("lastUpdatePostDateStruct", {}).get("date", "")
        if updated < match.group(1):
            return False
    if "filter.overallStatus" in params:
        wanted = {s.strip() for s in re.split(r"[,|]", params["filter.overallStatus"])}
        if protocol.get("statusModule", {}).get("overallStatus") not in wanted:
            return False
    if "query.cond" in params:
        conditions = " ".join(protocol.get("conditionsModule", {}).get("conditions", [])).casefold()
        if params["query.cond"].casefold() not in conditions:
            return False
    return True


# fields= pieces → their path in a study (the API answers a projection with these paths only)
_PIECES = {
    "NCTId": ("protocolSection", "identificationModule", "nctId"),
    "LastUpdatePostDate": ("protocolSection", "statusModule", "lastUpdatePostDateStruct", "date"),
}


def _project(study: dict, pieces: list[str]) -> dict:
    out: dict = {}
    for piece in pieces:
        path, node = _PIECES[piece], study
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            continue  # a study lacking the field: the API leaves it out
        target = out
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = node
    return out


def _aliases(study: dict) -> list[str]:
    ident = study.get("protocolSection", {}).get("identificationModule", {})
    return [alias.upper() for alias in ident.get("nctIdAliases") or []]


def _json(obj) -> tuple[int, bytes, str, dict]:
    return 200, json.dumps(obj, ensure_ascii=False).encode("utf-8"), "application/json", {}


def _text(status: int, message: str) -> tuple[int, bytes, str, dict]:
    return status, message.encode("utf-8"), "text/plain", {}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    registry: RegistryServer

    def handle_error(self, request, client_address) -> None:
        # A client that gave up (a timeout test) closes its end; that is not a test failure.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        registry = self.server.registry
        parts = urlsplit(self.path)
        params = {name: values[-1] for name, values in parse_qs(parts.query, keep_blank_values=True).items()}
        with registry._lock:
            registry.hits[parts.path] += 1
            registry.log.append(Seen(parts.path, params, dict(self.headers.items())))
        if parts.path in registry.endless_paths:
            return self._send_endless()
        if registry.refuse_scripted and "sec-ch-ua" not in {name.lower() for name in self.headers.keys()}:
            return self._send(403, _DENIED, "text/html", {})
        fault = registry._take_fault(parts.path)
        kind = fault.kind if fault else None
        if kind == "status":
            options = fault.options
            body = options["body"] if options["body"] is not None else f"HTTP {options['status']} (injected)"
            headers = {"Retry-After": str(options["retry_after"])} if options["retry_after"] is not None else {}
            return self._send(options["status"], body.encode("utf-8"), "text/plain", headers)
        if kind == "html":
            return self._send(200, _HTML, "text/html; charset=utf-8", {})
        if kind == "slow":
            time.sleep(fault.options["seconds"])
        status, body, content_type, headers = registry.answer(parts.path, params)
        if kind == "cut_short":
            half = body[: len(body) // 2]
            length = len(body) if fault.options["declare_full_length"] else len(half)
            return self._send(status, half, content_type, headers, length)
        self._send(status, body, content_type, headers)

    def _send_endless(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        chunk = b"x" * 65536
        try:
            while True:
                self.wfile.write(chunk)
        except OSError:  # the client hung up
            pass
        self.close_connection = True

    def _send(self, status: int, body: bytes, content_type: str, headers: dict, length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True


__all__ = ["RegistryServer", "Seen", "load_studies", "synthetic_studies", "FIXTURES"]
