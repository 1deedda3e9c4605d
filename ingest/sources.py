"""Registry input → parsed trial records.  One parser per source format, chosen by a table.

Files and folders are read here; URLs and the API are fetched by `ingest.http`.  Nothing
here knows the database: callers get `Parsed` items (record, raw input, source) and
`Failed` items (what could not be read, and why) and decide what to do with them.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from .errors import InputError

MAX_INPUT_BYTES = 64 * 1024 * 1024
INPUT_SUFFIXES = {".txt", ".text", ".html", ".htm", ".json"}


@dataclass
class Parsed:
    record: dict
    raw: bytes
    source_kind: str
    source_ref: str
    warnings: list[str] = field(default_factory=list)
    fetched: bool = False  # fetched just now (its observation time is now), not read from a saved file


@dataclass
class Failed:
    source_ref: str
    error: str
    nct_id: str | None = None
    source_kind: str = "file"


def _decode(data: bytes, ref: str) -> str:
    if not data.strip():
        raise InputError(f"{ref}: empty file, not a trial page or registry record")
    if b"\x00" in data[:4096]:
        raise InputError(f"{ref}: binary file, not a trial page or registry record")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"{ref}: not UTF-8 text (byte {error.start})") from None


def _looks_like_json(text: str) -> bool:
    return text.lstrip()[:1] in ("{", "[")


def _parse_api(text: str, data: bytes, ref: str) -> list[Parsed]:
    from .ctgov import load_json, map_study, studies_from_json

    try:
        obj = load_json(text)
    except ValueError as error:
        raise InputError(f"{ref}: not valid JSON ({error})") from None
    studies = studies_from_json(obj, ref)
    single = len(studies) == 1 and obj is studies[0]
    parsed = []
    for study in studies:
        try:
            record = map_study(study)
        except InputError as error:
            raise InputError(f"{ref}: {error}") from None
        raw = data if single else json.dumps(study, ensure_ascii=False).encode("utf-8")
        parsed.append(Parsed(record, raw, "ctgov api", ref))
    return parsed


def _parse_html(text: str, data: bytes, ref: str) -> list[Parsed]:
    from .html import parse_html

    record, warnings = parse_html(text, ref)
    return [Parsed(record, data, "page html", ref, warnings)]


def _parse_text(text: str, data: bytes, ref: str) -> list[Parsed]:
    from .page import parse_page

    record, warnings = parse_page(text, ref)
    return [Parsed(record, data, "page text", ref, warnings)]


def _looks_like_html(text: str) -> bool:
    from .page import looks_like_html

    return looks_like_html(text)


# (name, test on the decoded text, parser): the first whose test passes parses the input.
FORMATS: list[tuple[str, Callable[[str], bool], Callable[[str, bytes, str], list[Parsed]]]] = [
    ("ClinicalTrials.gov API JSON", _looks_like_json, _parse_api),
    ("HTML trial page", _looks_like_html, _parse_html),
    ("text trial page", lambda text: True, _parse_text),
]


def parse_bytes(data: bytes, ref: str) -> list[Parsed]:
    """Parse one input (a saved page, an API study or /studies page); raises InputError."""
    if len(data) > MAX_INPUT_BYTES:
        raise InputError(f"{ref}: {len(data):,} bytes, larger than the {MAX_INPUT_BYTES:,} a trial input may be")
    text = _decode(data, ref)
    for _, test, parse in FORMATS:
        if test(text):
            return parse(text, data, ref)
    raise InputError(f"{ref}: not a format trialwatch reads")  # pragma: no cover - the last test is always true


def read_file(path: str | os.PathLike) -> bytes:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise InputError(f"{path}: {size:,} bytes, larger than the {MAX_INPUT_BYTES:,} a trial input may be")
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file or folder") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as error:
        raise InputError(f"{path}: cannot be read ({error.strerror or error})") from None


def parse_file(path: str | os.PathLike) -> list[Parsed]:
    return parse_bytes(read_file(path), str(path))


def walk(folder: Path) -> Iterator[Path]:
    """Input files below a folder, recursively, in name order; hidden files and others skipped."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and Path(name).suffix.lower() in INPUT_SUFFIXES:
                yield Path(root) / name


def check_paths(paths) -> None:
    """Every path named must exist: a missing one is bad usage, found before anything is written."""
    for path in paths:
        if not Path(path).exists():
            raise InputError(f"{path}: no such file or folder")


class Inputs:
    """Files and folders to read, checked up front.

    Files named on the command line must all be trial inputs: they are parsed when Inputs is
    made, and a bad one raises InputError before anything is read further or written.  Files
    found inside folders are work: iterating yields a bad one as Failed and goes on.
    A `.zip` (ClinicalTrials.gov's bulk download) is checked up front and read member by member
    (`ingest.bulk.Archive`).  `len()` is the number of files, counting an archive's members.
    """

    def __init__(self, paths):
        from .bulk import Archive

        check_paths(paths)
        self.files: list[tuple[Path, list[Parsed] | Archive | None]] = []
        for path in map(Path, paths):
            if path.is_dir():
                self.files.extend((found, None) for found in walk(path))
            elif path.suffix.lower() == ".zip":
                self.files.append((path, Archive(path)))
            else:
                self.files.append((path, parse_file(path)))

    def __len__(self) -> int:
        return sum(1 if parsed is None or isinstance(parsed, list) else len(parsed) for _, parsed in self.files)

    def __iter__(self) -> Iterator[Parsed | Failed]:
        for path, parsed in self.files:
            if parsed is None:
                try:
                    parsed = parse_file(path)
                except InputError as error:
                    yield Failed(str(path), str(error))
                    continue
            yield from parsed


# -- the live registry and page URLs ----------------------------------------------------

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def split_targets(args) -> tuple[list[str], list[str], list[str]]:
    """Command-line targets → (NCT ids, page URLs, paths).

    An existing file or folder is a path; `NCT…` is an id (validated: a malformed one is an
    InputError); `http(s)://…` is a page URL; any other scheme is an InputError.
    """
    from .ids import normalize_nct_id

    ids, urls, paths = [], [], []
    for arg in args:
        if Path(arg).exists():
            paths.append(arg)
        elif _SCHEME.match(arg):
            if not arg.lower().startswith(("http://", "https://")):
                raise InputError(f"{arg}: only http and https URLs can be fetched")
            urls.append(arg)
        elif arg[:3].upper() == "NCT":
            ids.append(normalize_nct_id(arg))
        else:
            paths.append(arg)
    return list(dict.fromkeys(ids)), urls, paths


def api_study(study: dict, ref: str) -> Parsed:
    """One API study object → Parsed (raw: the study's JSON, so it can be re-mapped later)."""
    from .ctgov import map_study

    raw = json.dumps(study, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Parsed(map_study(study), raw, "ctgov api", ref, fetched=True)


def fetch_trials(registry, nct_ids, updated_since: str | None = None) -> Iterator[Parsed | Failed]:
    """The current records of trials from ClinicalTrials.gov, batched (see Registry.studies).

    With `updated_since` (a date), only the trials the registry updated on or after it.
    """
    from .errors import FetchError

    extra = {"filter.advanced": f"AREA[LastUpdatePostDate]RANGE[{updated_since},MAX]"} if updated_since else None
    for nct_id, answer in registry.studies(nct_ids, extra_params=extra):
        ref = f"{registry.base_url}/api/v2/studies/{nct_id}"
        if isinstance(answer, FetchError):
            yield Failed(ref, str(answer), nct_id, "ctgov api")
            continue
        try:
            yield api_study(answer, ref)
        except InputError as error:
            yield Failed(ref, str(error), nct_id, "ctgov api")


def fetch_pages(registry, urls) -> Iterator[Parsed | Failed]:
    """Saved-page URLs (e.g. https://meddatax.com/clinical-trials/NCT06731192), parsed like files."""
    from .errors import FetchError

    for url in urls:
        try:
            body, _ = registry.fetch_url(url)
            parsed = parse_bytes(body, url)
        except (FetchError, InputError) as error:
            yield Failed(url, str(error), source_kind="page url")
            continue
        for item in parsed:
            item.fetched = True
        yield from parsed


# -- the registry's version history -------------------------------------------------------

HISTORY_KIND = "ctgov history"
_HISTORY_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class HistorySource:
    """A trial's earlier versions on ClinicalTrials.gov, through a `Registry`.

    `versions(nct_id)`: the version list (one request), each entry checked and the list sorted
    by version: `{"version": int, "date": "YYYY-MM-DD", "status": str | None,
    "moduleLabels": [str, ...]}`.  `version(nct_id, n)`: that version as `Parsed` (source kind
    "ctgov history", raw the version's study JSON).  Both raise FetchError with one line naming
    the trial (and the version) when the registry refuses, has no history or no such version,
    or answers with something else; `version` raises InputError when the study cannot be mapped.
    """

    source_kind = HISTORY_KIND

    def __init__(self, registry):
        self.registry = registry

    def list_ref(self, nct_id: str) -> str:
        return f"{self.registry.base_url}/api/int/studies/{nct_id}?history=true"

    def version_ref(self, nct_id: str, number: int) -> str:
        return f"{self.registry.base_url}/api/int/studies/{nct_id}/history/{number}"

    def versions(self, nct_id: str) -> list[dict]:
        from .errors import FetchError

        try:
            data = self.registry.history(nct_id)
        except FetchError as error:
            if str(error).endswith("(HTTP 404)"):
                raise FetchError(f"{nct_id}: ClinicalTrials.gov has no version history for this trial (HTTP 404)", nct_id) from None
            raise
        changes = data["history"].get("changes")
        if not isinstance(changes, list):
            raise FetchError(f"{nct_id} history: answer has no list of versions (history.changes)", nct_id)
        if not changes:
            raise FetchError(f"{nct_id}: ClinicalTrials.gov lists no versions of this trial", nct_id)
        entries: dict[int, dict] = {}
        for index, change in enumerate(changes):
            change = change if isinstance(change, dict) else {}
            number, date = change.get("version"), change.get("date")
            if isinstance(number, bool) or not isinstance(number, int) or number < 0:
                raise FetchError(f"{nct_id} history: entry {index} has no version number", nct_id)
            if not _is_day(date):
                raise FetchError(f"{nct_id} history: version {number} has no date (YYYY-MM-DD), got {date!r}", nct_id)
            labels = change.get("moduleLabels")
            status = change.get("status")
            entries[number] = {
                "version": number,
                "date": date,
                "status": status if isinstance(status, str) else None,
                "moduleLabels": [label for label in labels if isinstance(label, str)] if isinstance(labels, list) else [],
            }
        return [entries[number] for number in sorted(entries)]

    def version(self, nct_id: str, number: int) -> Parsed:
        from .ctgov import map_study
        from .errors import FetchError

        what = f"{nct_id} version {number}"
        try:
            data = self.registry.history_version(nct_id, number)
        except FetchError as error:
            if str(error).endswith("(HTTP 404)"):
                raise FetchError(f"{what}: ClinicalTrials.gov has no such version (HTTP 404)", nct_id) from None
            raise
        study = data["study"]
        try:
            record = map_study(study)
        except InputError as error:
            raise InputError(f"{what}: {error}") from None
        if record["nct_id"] != nct_id:
            raise FetchError(f"{what}: ClinicalTrials.gov answered with another trial ({record['nct_id']})", nct_id)
        raw = json.dumps(study, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return Parsed(record, raw, HISTORY_KIND, self.version_ref(nct_id, number))


def _is_day(text) -> bool:
    """`text` is a real calendar day written YYYY-MM-DD."""
    from datetime import date

    if not isinstance(text, str) or not _HISTORY_DATE.match(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def parse_search(query: str) -> dict[str, str]:
    """A saved search in ClinicalTrials.gov's own API parameters → validated parameters.

    `query.cond=Alport syndrome&filter.overallStatus=RECRUITING`; an unknown parameter, a
    parameter the search sets itself, or an empty query is an InputError.
    """
    from urllib.parse import parse_qsl

    from .http import validate_search_params

    try:
        pairs = parse_qsl(query.strip(), keep_blank_values=False, strict_parsing=True)
    except ValueError:
        raise InputError(f"{query!r} is not a search: write API parameters like 'query.cond=asthma&filter.overallStatus=RECRUITING'") from None
    if not pairs:
        raise InputError(f"{query!r} is an empty search: it would match the whole registry")
    params = validate_search_params(dict(pairs))
    owned = [name for name in ("pageToken", "pageSize", "format", "fields") if name in params]
    if owned:
        raise InputError(f"{query!r}: trialwatch sets {', '.join(owned)} itself; leave it out")
    return params


class RegistrySource:
    """ClinicalTrials.gov as `snapshots.run` wants it: records in, no HTTP out of this package."""

    def __init__(self, registry):
        self.registry = registry

    @property
    def requests_made(self) -> int:
        return self.registry.requests_made

    def data_timestamp(self) -> str:
        return str(self.registry.version().get("dataTimestamp"))

    def trials(self, nct_ids, updated_since: str | None = None) -> Iterator[Parsed | Failed]:
        return fetch_trials(self.registry, nct_ids, updated_since)

    def search(self, query: str) -> Iterator[Parsed | Failed]:
        from .errors import FetchError

        ref = f"{self.registry.base_url}/api/v2/studies?{query}"
        try:
            for study in self.registry.search(parse_search(query)):
                try:
                    yield api_study(study, ref)
                except InputError as error:
                    yield Failed(ref, str(error), source_kind="ctgov search")
        except (FetchError, InputError) as error:
            yield Failed(ref, f"search {query!r}: {error}", source_kind="ctgov search")


def reparse_input(raw: bytes, snapshot: dict) -> dict:
    """A stored raw input → its record, with today's parser (for `snapshots.reparse`)."""
    ref = snapshot.get("source_ref") or f"snapshot {snapshot.get('id')}"
    for item in parse_bytes(raw, ref):
        if item.record["nct_id"] == snapshot["nct_id"]:
            return item.record
    raise InputError(f"{ref}: the stored input no longer yields {snapshot['nct_id']}")
