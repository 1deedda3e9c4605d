"""One input → trial records: the parser for each source format, chosen by a table.

`parse_bytes(data, ref)` reads one saved page (text or HTML) or API JSON file (a study, a
`/studies` page, a history version) and returns `Parsed` items; what cannot be read is an
InputError naming `ref`.  Files, folders and archives (`ingest.sources`, `ingest.bulk`) and the
live registry (`ingest.registry`) all come through here.  Knows no database and no HTTP.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError

# The largest input read: a saved /studies page of 1,000 full records is about 17 MB, and a
# 32 MiB one peaks under 300 MB parsed; the promise is 500 MB for any input.
MAX_INPUT_BYTES = 32 * 1024 * 1024
# Objects and lists JSON input may hold: registry records hold about 10,000 per MB, so a page at
# the size cap about 330,000; 47 MB of `{}` would need 1.5 GB to parse.
MAX_JSON_CONTAINERS = 1_000_000
INPUT_SUFFIXES = {".txt", ".text", ".html", ".htm", ".json"}

# Where a record came from (`Parsed.source_kind`, stored with every check and snapshot).
API = "ctgov api"  # ClinicalTrials.gov API v2: a file, a fetched study, a bulk-download member
HISTORY = "ctgov history"  # a version from the registry's history
SEARCH = "ctgov search"  # a saved search's answer (failures only: matches are API records)
PAGE_TEXT = "page text"  # a saved page, its visible text
PAGE_HTML = "page html"  # a saved page, HTML
RESULTS_PAGE_TEXT = "results page text"  # a trial's results page (…/results), its visible text
RESULTS_PAGE_HTML = "results page html"  # a trial's results page, HTML
PAGE_URL = "page url"  # a page URL that could not be fetched (failures only)
FILE = "file"  # a file that could not be read (failures only)


@dataclass
class Parsed:
    record: dict
    raw: bytes
    source_kind: str
    source_ref: str
    warnings: list[str] = field(default_factory=list)
    fetched: bool = False  # fetched just now (its observation time is now), not read from a saved file
    # Made beside the parsing by the bulk reader's worker process, so the storing process need not:
    text: str | None = None  # the record's canonical JSON
    packed: bytes | None = None  # text and raw as one frame (`packing.pack(packing.content(text, raw))`)


@dataclass
class Failed:
    """An input that could not be had or read.  `missing`: the registry answered that it has no
    such trial (HTTP 404), which for a trial it returned before means it no longer does."""

    source_ref: str
    error: str
    nct_id: str | None = None
    source_kind: str = FILE
    missing: bool = False


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

    containers = data.count(b"{") + data.count(b"[")
    if containers > MAX_JSON_CONTAINERS:
        raise InputError(
            f"{ref}: {containers:,} JSON objects and lists, more than the {MAX_JSON_CONTAINERS:,} of any registry input"
        )
    try:
        obj = load_json(text)
    except ValueError as error:
        raise InputError(f"{ref}: not valid JSON ({error})") from None
    studies = studies_from_json(obj, ref)
    if not studies:
        raise InputError(f"{ref}: holds no study (an empty list or /studies page)")
    single = len(studies) == 1 and obj is studies[0]
    parsed = []
    for study in studies:
        try:
            record = map_study(study)
        except InputError as error:
            raise InputError(f"{ref}: {error}") from None
        raw = data if single else json.dumps(study, ensure_ascii=False).encode("utf-8")
        parsed.append(Parsed(record, raw, API, ref))
    return parsed


def _parse_html(text: str, data: bytes, ref: str) -> list[Parsed]:
    from .html import parse_html
    from .results_page import is_results_record

    record, warnings = parse_html(text, ref)
    kind = RESULTS_PAGE_HTML if is_results_record(record) else PAGE_HTML
    return [Parsed(record, data, kind, ref, warnings)]


def _parse_text(text: str, data: bytes, ref: str) -> list[Parsed]:
    from .page import parse_page
    from .results_page import is_results_record

    record, warnings = parse_page(text, ref)
    kind = RESULTS_PAGE_TEXT if is_results_record(record) else PAGE_TEXT
    return [Parsed(record, data, kind, ref, warnings)]


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
    """A regular file's bytes, at most MAX_INPUT_BYTES: a device (`/dev/zero`), a FIFO or a socket
    is refused before it is opened (reading one would never end, or fill memory)."""
    path = Path(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{path}: not a regular file (a device, pipe or socket); not read")
        if info.st_size > MAX_INPUT_BYTES:
            raise InputError(
                f"{path}: {info.st_size:,} bytes, larger than the {MAX_INPUT_BYTES:,} a trial input may be"
            )
        with open(path, "rb") as file:
            data = file.read(MAX_INPUT_BYTES + 1)  # a file that grows while read stops here too
        if len(data) > MAX_INPUT_BYTES:
            raise InputError(f"{path}: larger than the {MAX_INPUT_BYTES:,} bytes a trial input may be")
        return data
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


def reparse_input(raw: bytes, snapshot: dict) -> dict:
    """A stored raw input → its record, with today's parser (for `trialwatch.snapshots.jobs.reparse`).

    A registry history version's raw is its study as the registry sent it, HTML text and all:
    it is normalised to the API v2 form first, as when it was fetched (so versions backfilled
    before history text was normalised come out right too).
    """
    ref = snapshot.get("source_ref") or f"snapshot {snapshot.get('id')}"
    if snapshot.get("source_kind") == HISTORY:
        return _reparse_history(raw, snapshot, ref)
    for item in parse_bytes(raw, ref):
        if item.record["nct_id"] == snapshot["nct_id"]:
            return item.record
    raise InputError(f"{ref}: the stored input no longer yields {snapshot['nct_id']}")


def _reparse_history(raw: bytes, snapshot: dict, ref: str) -> dict:
    from .ctgov import load_json, map_study
    from .markup import normalize_history_study

    try:
        study = load_json(_decode(raw, ref))
    except ValueError as error:
        raise InputError(f"{ref}: not valid JSON ({error})") from None
    if not isinstance(study, dict):
        raise InputError(f"{ref}: not a study object")
    try:
        record = map_study(normalize_history_study(study))
    except InputError as error:
        raise InputError(f"{ref}: {error}") from None
    if record["nct_id"] != snapshot["nct_id"]:
        raise InputError(f"{ref}: the stored input no longer yields {snapshot['nct_id']}")
    return record
