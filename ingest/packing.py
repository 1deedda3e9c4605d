"""A record and its raw input packed as one zstd frame, with a dictionary trained on registry records.

A trial's *content* is its record's canonical JSON, then (when it has one) a newline and the raw
input as read; canonical JSON holds no newline byte, so the first one splits the two.  `pack`
compresses a content alone with the shipped dictionary `dictionaries/records-N.zdict` (N =
`CURRENT`): trained on real registry studies (tests/benchmarks/train_dictionary.py), it lets a
17 KB study compress alone about as well as among many.  Dictionaries are never replaced: a new
one is a new file and number, and whatever stores a frame stores its number with it.

The bulk reader packs in its worker process, beside parsing, so the process that stores does
not compress (`trialwatch.snapshots.store.codec` stores the frames and reads them back).
"""

from __future__ import annotations

import importlib.resources
from functools import cache

import zstandard

CURRENT = 1  # the dictionary new frames are packed with
DICTIONARIES = {1: "records-1.zdict"}
LEVEL = 3  # zstd level (README "Scale": what higher levels would buy and cost)


class UnknownDictionary(Exception):
    """A frame packed with a dictionary this trialwatch does not ship."""


@cache
def dictionary(number: int) -> zstandard.ZstdCompressionDict:
    name = DICTIONARIES.get(number)
    if name is None:
        raise UnknownDictionary(f"packed with dictionary {number}, which this trialwatch does not have")
    data = importlib.resources.files("trialwatch.ingest").joinpath("dictionaries").joinpath(name).read_bytes()
    return zstandard.ZstdCompressionDict(data)


@cache
def _compressor(number: int) -> zstandard.ZstdCompressor:
    return zstandard.ZstdCompressor(level=LEVEL, dict_data=dictionary(number))


@cache
def _decompressor(number: int) -> zstandard.ZstdDecompressor:
    return zstandard.ZstdDecompressor(dict_data=dictionary(number))


def content(record_text: str, raw: bytes | None) -> bytes:
    """The record's canonical JSON, and the raw input after a newline."""
    text = record_text.encode("utf-8")
    return text if raw is None else text + b"\n" + raw


def split(data: bytes) -> tuple[str, bytes | None]:
    """Content → (record JSON text, raw input or None)."""
    cut = data.find(b"\n")
    if cut < 0:
        return data.decode("utf-8"), None
    return data[:cut].decode("utf-8"), data[cut + 1 :]


def pack(data: bytes) -> bytes:
    """A content as a frame of the CURRENT dictionary."""
    return _compressor(CURRENT).compress(data)


def unpack(frame: bytes, number: int) -> bytes:
    """A frame packed with dictionary `number` → its content (zstandard.ZstdError if damaged)."""
    return _decompressor(number).decompress(frame)
