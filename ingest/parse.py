"""One input → trial records: the parser for each source format, chosen by a table.

`parse_bytes(data, ref)` reads one saved page (text or HTML) or API JSON file (a study, a
`/studies` page, a history version) and returns `Parsed` items; what cannot be read is an
InputError naming `ref`.  Files, folders and archives (`ingest.sources`, `ingest.bulk`) and the
live registry (`ingest.registry`) all come through here.  Knows no database and no HTTP.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError

MAX_INPUT_BYTES = 64 * 1024 * 1024
INPUT_SUFFIXES = {".txt", ".text", ".html", ".htm", ".json"}

# Where a record came from (`Parsed.source_kind`, stored with every check and snapshot).
API = "ctgov api"  # ClinicalTrials.gov API v2: a file, a fetched study, a bulk-download member
HISTORY = "ctgov history"  # a version from the registry's history
SEARCH = "ctgov search"  # a saved search's answer (failures only: matches are API records)
PAGE_TEXT = "page text"  # a saved page, its visible text
PAGE_HTML = "page html"  # a saved page, HTML
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
    source_ref: str
    error: str
    nct_id: str | None = None
    source_kind: str = FILE


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
        parsed.append(Parsed(record, raw, API, ref))
    return parsed


def _parse_html(text: str, data: bytes, ref: str) -> list[Parsed]:
    from .html import parse_html

    record, warnings = parse_html(text, ref)
    return [Parsed(record, data, PAGE_HTML, ref, warnings)]


def _parse_text(text: str, data: bytes, ref: str) -> list[Parsed]:
    from .page import parse_page

    record, warnings = parse_page(text, ref)
    return [Parsed(record, data, PAGE_TEXT, ref, warnings)]


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


def reparse_input(raw: bytes, snapshot: dict) -> dict:
    """A stored raw input → its record, with today's parser (for `trialwatch.snapshots.jobs.reparse`)."""
    ref = snapshot.get("source_ref") or f"snapshot {snapshot.get('id')}"
    for item in parse_bytes(raw, ref):
        if item.record["nct_id"] == snapshot["nct_id"]:
            return item.record
    raise InputError(f"{ref}: the stored input no longer yields {snapshot['nct_id']}")
