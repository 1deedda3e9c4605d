"""How a snapshot's record and raw input are stored: compressed, and read back by SQL too.

A snapshot's *content* (`packing.content`) is its record's canonical JSON, then (when it has
one) a newline and the raw input as read.  The content is stored in `snapshots.record` as one
zstd frame, in one of two ways (`snapshots.codec` names the shipped dictionary,
`snapshots.base_id` the base):

- a *key frame* (`base_id` NULL): packed with a zstd dictionary trained on registry records
  (`trialwatch.ingest.packing`, dictionary number N = `codec`), so a 17 KB study compresses
  alone as well as it would among many.  Dictionaries are never replaced: a new one is a new
  file and number, and every row names its own, so a future dictionary never breaks an old row;
- a *delta* (`base_id` set): compressed with the content of another snapshot of the same trial,
  a key frame, as its dictionary: a registry version that moved a date costs what changed.

Any snapshot is read with at most two decompressions (its key frame, then it).  Rows written
before this storage (`codec` NULL) hold the record as JSON text and the raw input in `raw`
(`raw_encoding`: zstd or zlib); they read as they always did.

`register(conn)` adds the SQL functions `trialwatch_record(snapshot_id)` (the record as JSON
text, for `json_extract` and the views) and `trialwatch_raw(snapshot_id)` (the raw input's
bytes) to a connection: the store's own, and Datasette's through the plugin
(`trialwatch.snapshots.datasette.plugin`).
"""

from __future__ import annotations

import zlib

import zstandard

from trialwatch.ingest import packing
from trialwatch.ingest.packing import content, split

CURRENT = packing.CURRENT  # the dictionary new key frames are written with
DELTA_ALWAYS = 1024  # bytes: a delta this small is kept without comparing it with a key frame
DELTA_AT_MOST = 0.5  # otherwise kept when at most this fraction of a key frame's size
CACHE_ROWS = 256  # contents kept by a reader's cache (key frames read again for their deltas)

_ROW = "SELECT record, codec, base_id, raw, raw_encoding FROM snapshots WHERE id = ?"


class CodecError(Exception):
    """A stored row that cannot be read (an unknown dictionary or encoding, damaged bytes)."""


def _base_dictionary(base: bytes) -> zstandard.ZstdCompressionDict:
    return zstandard.ZstdCompressionDict(base, dict_type=zstandard.DICT_TYPE_RAWCONTENT)


# -- frames --------------------------------------------------------------------------------


def key_frame(data: bytes) -> bytes:
    return packing.pack(data)


def delta(data: bytes, base: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=packing.LEVEL, dict_data=_base_dictionary(base)).compress(data)


def encode(data: bytes, base: bytes | None) -> tuple[bytes, bool]:
    """Content → (stored frame, whether it is a delta against `base`); a key frame when there is
    no base, or when the delta would save too little (the trial changed too much since `base`)."""
    if base is not None:
        small = delta(data, base)
        if len(small) <= DELTA_ALWAYS:
            return small, True
        full = key_frame(data)
        return (small, True) if len(small) <= DELTA_AT_MOST * len(full) else (full, False)
    return key_frame(data), False


def decode(frame: bytes, codec: int, base: bytes | None = None) -> bytes:
    """A stored frame → content (`base`: the content of its key frame, for a delta)."""
    try:
        if base is None:
            return packing.unpack(frame, codec)
        return zstandard.ZstdDecompressor(dict_data=_base_dictionary(base)).decompress(frame)
    except packing.UnknownDictionary as error:
        raise CodecError(f"a stored snapshot was {error}") from None
    except zstandard.ZstdError as error:
        raise CodecError(f"a stored snapshot cannot be decompressed ({error})") from None


def decode_raw(data: bytes | None, encoding: str | None) -> bytes | None:
    """A raw input stored before this codec (`raw`, `raw_encoding`) → the input's bytes."""
    if data is None:
        return None
    if encoding == "zstd":
        return zstandard.ZstdDecompressor().decompress(data)
    if encoding == "zlib":
        return zlib.decompress(data)
    if encoding is None:
        return bytes(data)
    raise CodecError(f"raw input stored in an unknown encoding {encoding!r}")


# -- reading rows --------------------------------------------------------------------------


def row_content(execute, snapshot_id: int, cache: dict | None = None, row=None) -> bytes | None:
    """A snapshot's content, read with `execute` (a connection's); None when there is no such row.
    `row`: its (record, codec, base_id, raw, raw_encoding) when already fetched; `cache` (id →
    content) spares decompressing a trial's key frame again."""
    if cache is not None and snapshot_id in cache:
        return cache[snapshot_id]
    if row is None:
        row = execute(_ROW, [snapshot_id]).fetchone()
        if row is None:
            return None
    record, codec, base_id, raw, raw_encoding = row
    if codec is None:  # written before this storage: JSON text, raw apart
        text = record if isinstance(record, str) else bytes(record).decode("utf-8")
        return content(text, decode_raw(raw, raw_encoding))
    base = row_content(execute, base_id, cache) if base_id is not None else None
    data = decode(record, codec, base)
    if cache is not None:
        if len(cache) >= CACHE_ROWS:
            cache.clear()
        cache[snapshot_id] = data
    return data


def register(conn) -> None:
    """Add trialwatch's SQL functions to a sqlite3 connection (see the module's doc).  A view that
    reads several fields of one record calls the function once per field: the last records made
    are remembered, by row and stored bytes (a row rewritten by `reparse` is read anew)."""
    recent: dict = {}

    def read(snapshot_id) -> tuple[str, bytes | None] | None:
        row = conn.execute(_ROW, [snapshot_id]).fetchone()
        if row is None:
            return None
        key = (snapshot_id, row[0], row[2])
        if key not in recent:
            if len(recent) >= 16:
                recent.clear()
            recent[key] = split(row_content(conn.execute, snapshot_id, row=row) or b"")
        return recent[key]

    def record(snapshot_id):
        found = read(snapshot_id) if snapshot_id is not None else None
        return found[0] if found else None

    def raw(snapshot_id):
        found = read(snapshot_id) if snapshot_id is not None else None
        return found[1] if found else None

    conn.create_function("trialwatch_record", 1, record)
    conn.create_function("trialwatch_raw", 1, raw)
