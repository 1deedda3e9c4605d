"""ClinicalTrials.gov's bulk download (a zip of one JSON study per file), read as a stream.

`Archive(path)` reads the zip's central directory once, entry by entry, to check it and count
the members it will read, keeping none of it: memory stays the same whatever the archive's size.
That is why this reader exists instead of the standard `zipfile`, which holds a `ZipInfo` for
every member from the moment it opens an archive: about 545 bytes each, some 330 MB for the
registry's whole download (about 600,000 members).
Iterating reads the members one at a time, in archive order, straight from the file: nothing is
unpacked to disk.  Each member is parsed with `parse.parse_bytes`; its source is named
``archive.zip!member.json``.  A large archive is parsed in a second process started with
multiprocessing's *spawn*: a script that iterates an Archive from the library guards its top
level with ``if __name__ == "__main__":``, as multiprocessing requires (unguarded, the second
process runs the script again, and the import fails with "the process reading it stopped").

Hostile archives:

- A member path that is absolute or climbs out (``..``), too many members, or a declared total
  size over the cap is bad input: InputError when the archive is opened, before anything is read.
- Each member's size is counted while it is inflated, not taken from its header: a member that
  inflates past `max_member` (32 MiB, as any trial input) is a Failed item (it is never inflated
  much further), as is one that inflates to another size than the central directory declares,
  or is corrupt (bad CRC, cut short), encrypted or compressed with a method other than stored or
  deflate; the next member is read.  So what is read never exceeds the declared total, which
  `max_total` (64 GiB; env TRIALWATCH_MAX_ARCHIVE_BYTES) caps up front.
"""

from __future__ import annotations

import bisect
import os
import queue
import struct
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from . import packing
from .ctgov import load_json
from .errors import InputError
from .parse import INPUT_SUFFIXES, MAX_INPUT_BYTES, Failed, Parsed, parse_bytes
from .processes import die_with_parent
from .record import canonical_json

MAX_MEMBER_BYTES = MAX_INPUT_BYTES
MAX_TOTAL_BYTES = int(os.environ.get("TRIALWATCH_MAX_ARCHIVE_BYTES", 64 * 1024**3))  # inflated, all members
MAX_MEMBERS = 5_000_000  # ClinicalTrials.gov holds about 600,000 studies
WORKER_MIN_MEMBERS = 1_000  # archives this large are read and parsed in a second process
_BATCH_BYTES = 1024 * 1024  # parsed members sent from that process at a time (at least one)
_QUEUE_BATCHES = 8  # batches waiting, at most: memory stays bounded when the caller is slower

_CHUNK = 256 * 1024

# Zip records (PKWARE APPNOTE 4.3): end of central directory, its zip64 locator and record,
# central directory file header, local file header.
_EOCD = struct.Struct("<4s4H2LH")
_EOCD_SIG = b"PK\x05\x06"
_Z64_LOCATOR = struct.Struct("<4sLQL")
_Z64_LOCATOR_SIG = b"PK\x06\x07"
_Z64_EOCD = struct.Struct("<4sQ2H2L4Q")
_Z64_EOCD_SIG = b"PK\x06\x06"
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_CENTRAL_SIG = b"PK\x01\x02"
_LOCAL = struct.Struct("<4s2B4HL2L2H")
_LOCAL_SIG = b"PK\x03\x04"
_STORED, _DEFLATED = 0, 8
_ENCRYPTED, _UTF8 = 0x1, 0x800


class Member(NamedTuple):
    name: str
    flags: int
    method: int
    crc: int
    compressed_size: int
    size: int  # as the central directory declares it; checked while reading
    header_offset: int


def _is_zip(path: Path) -> bool:
    return path.suffix.lower() == ".zip"


def _unsafe(name: str) -> bool:
    """An absolute member path, a drive, or one that climbs out with `..`."""
    name = name.replace("\\", "/")
    if "\x00" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return True
    return ".." in name.split("/")


def _wanted(name: str) -> bool:
    """A file with a trial-input suffix, not hidden (as `sources.walk` reads folders)."""
    if name.endswith("/"):
        return False
    parts = [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]
    if not parts or any(part.startswith(".") for part in parts):
        return False
    dot = parts[-1].rfind(".")
    return dot > 0 and parts[-1][dot:].lower() in INPUT_SUFFIXES


class Archive:
    """A zip of trial inputs: `len()` members to read, iterated as `Parsed` or `Failed` items."""

    def __init__(
        self,
        path,
        *,
        max_member: int = MAX_MEMBER_BYTES,
        max_total: int = MAX_TOTAL_BYTES,
        max_members: int = MAX_MEMBERS,
    ):
        self.path = Path(path)
        # NCT numbers (sorted) of trials not to pack in the worker: a database has them already.
        self.known: Sequence[int] = ()
        self.max_member = max_member
        self.max_total = max_total
        self.max_members = max_members
        try:
            with open(self.path, "rb") as file:
                self._locate(file)
                self.count = self._check(file)
        except PermissionError:
            raise InputError(f"{self.path}: permission denied") from None
        except OSError as error:
            raise InputError(f"{self.path}: cannot be read ({error.strerror or error})") from None

    def __len__(self) -> int:
        return self.count

    def _bad(self, why: str) -> InputError:
        return InputError(f"{self.path}: {why}")

    # -- the central directory -------------------------------------------------------------

    def _locate(self, file) -> None:
        """Find the central directory: its start, size, entry count, and the offset of any data
        prepended to the archive (a self-extracting stub), which member offsets do not include."""
        file.seek(0, os.SEEK_END)
        end = file.tell()
        tail_start = max(0, end - _EOCD.size - 0xFFFF)
        file.seek(tail_start)
        tail = file.read()
        at = tail.rfind(_EOCD_SIG)
        while at >= 0 and len(tail) - at < _EOCD.size:
            at = tail.rfind(_EOCD_SIG, 0, at)
        if at < 0:
            raise self._bad("not a zip archive (no end of central directory)")
        eocd_pos = tail_start + at
        _, _, _, _, entries, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, at)
        cd_end = eocd_pos
        if at >= _Z64_LOCATOR.size and tail[at - _Z64_LOCATOR.size : at - _Z64_LOCATOR.size + 4] == _Z64_LOCATOR_SIG:
            locator_pos = eocd_pos - _Z64_LOCATOR.size
            file.seek(locator_pos - _Z64_EOCD.size)
            record = file.read(_Z64_EOCD.size)
            if len(record) < _Z64_EOCD.size or record[:4] != _Z64_EOCD_SIG:
                raise self._bad("damaged zip64 end of central directory")
            _, _, _, _, _, _, _, entries, cd_size, cd_offset = _Z64_EOCD.unpack(record)
            cd_end = locator_pos - _Z64_EOCD.size
        self._cd_start = cd_end - cd_size
        self._prefix = self._cd_start - cd_offset
        if self._cd_start < 0 or self._prefix < 0:
            raise self._bad("damaged zip archive (central directory out of place)")
        self._cd_size = cd_size
        self._entries = entries
        if entries > self.max_members:
            raise self._bad(f"{entries:,} members, more than the {self.max_members:,} an archive may hold")

    def _members(self, file) -> Iterator[Member]:
        """The central directory's entries, read one at a time."""
        file.seek(self._cd_start)
        for _ in range(self._entries):
            header = file.read(_CENTRAL.size)
            if len(header) < _CENTRAL.size or header[:4] != _CENTRAL_SIG:
                raise self._bad("damaged zip archive (central directory cut short)")
            (
                _,
                _,
                _,
                _,
                _,
                flags,
                method,
                _,
                _,
                crc,
                compressed_size,
                size,
                name_len,
                extra_len,
                comment_len,
                _,
                _,
                _,
                header_offset,
            ) = _CENTRAL.unpack(header)
            raw_name = file.read(name_len)
            extra = file.read(extra_len)
            file.seek(comment_len, os.SEEK_CUR)
            if 0xFFFFFFFF in (size, compressed_size, header_offset):
                size, compressed_size, header_offset = _zip64(extra, size, compressed_size, header_offset)
            name = raw_name.decode("utf-8" if flags & _UTF8 else "cp437", "replace")
            yield Member(name, flags, method, crc, compressed_size, size, header_offset + self._prefix)

    def _check(self, file) -> int:
        count = declared = 0
        for member in self._members(file):
            if _unsafe(member.name):
                raise self._bad(f"member {member.name[:200]!r} has an unsafe path (absolute or '..'); archive refused")
            if _wanted(member.name):
                count += 1
                declared += member.size
        if declared > self.max_total:
            raise self._bad(f"{declared:,} bytes uncompressed, more than the {self.max_total:,} an archive may hold")
        return count

    # -- reading members -------------------------------------------------------------------

    def __iter__(self) -> Iterator[Parsed | Failed]:
        """The members in archive order.  A large archive is read and parsed by a second process
        while the caller (storing what it gets) works in this one: two cores, not one."""
        if self.count >= WORKER_MIN_MEMBERS and (os.cpu_count() or 1) > 1:
            return self._from_worker()
        return self._parsed()

    def _from_worker(self) -> Iterator[Parsed | Failed]:
        import multiprocessing

        # Spawned, not forked: a forked reader shares the caller's pages (its SQLite page cache,
        # filled before reading starts), and each process counts them in its resident memory;
        # spawned, the reader holds only what it uses (about 30 MB instead of 114 MB).
        context = multiprocessing.get_context("spawn")
        batches = context.Queue(_QUEUE_BATCHES)
        worker = context.Process(
            target=_work,
            args=(self, batches, os.getpid(), _BATCH_BYTES),
            name="trialwatch-archive-reader",
            daemon=True,
        )
        worker.start()
        try:
            while True:
                try:
                    batch = batches.get(timeout=1.0)
                except queue.Empty:
                    if not worker.is_alive():
                        raise OSError(
                            f"{self.path}: the process reading it stopped (exit code {worker.exitcode})"
                        ) from None
                    continue
                if batch is None:
                    break
                if isinstance(batch, tuple):  # (exception class name, message) from the worker
                    raise (InputError if batch[0] == "InputError" else OSError)(batch[1])
                for sent in batch:
                    yield sent if isinstance(sent, Failed) else _unpack(sent)
        finally:
            if worker.is_alive():
                worker.terminate()
            worker.join()
            batches.close()

    def _parsed(self) -> Iterator[Parsed | Failed]:
        with open(self.path, "rb") as directory, open(self.path, "rb") as data:
            for member in self._members(directory):
                if not _wanted(member.name):
                    continue
                ref = f"{self.path}!{member.name}"
                try:
                    body = self._read(data, member, ref)
                except InputError as error:
                    yield Failed(ref, str(error))
                    continue
                try:
                    parsed = parse_bytes(body, ref)
                except InputError as error:
                    yield Failed(ref, str(error))
                    continue
                del body
                yield from parsed

    def _read(self, file, member: Member, ref: str) -> bytes:
        """The member's bytes, inflated at most one byte past its declared size (and never past
        `max_member`): a member that inflates further is refused the moment it does, so what is
        held never exceeds what the directory declared; InputError if bad."""
        limit = min(self.max_member, member.size)
        too_big = InputError(f"{ref}: inflates past its declared {member.size:,} bytes; not read")
        if member.flags & _ENCRYPTED:
            raise InputError(f"{ref}: encrypted; not read")
        if member.method not in (_STORED, _DEFLATED):
            raise InputError(f"{ref}: compressed with method {member.method}; only stored and deflate are read")
        if member.size > self.max_member:
            raise InputError(f"{ref}: larger than the {self.max_member:,} bytes a trial input may be (uncompressed)")
        file.seek(member.header_offset)
        local = file.read(_LOCAL.size)
        if len(local) < _LOCAL.size or local[:4] != _LOCAL_SIG:
            raise InputError(f"{ref}: damaged (no local header where the central directory says)")
        name_len, extra_len = _LOCAL.unpack(local)[-2:]
        file.seek(name_len + extra_len, os.SEEK_CUR)
        left = member.compressed_size
        out = bytearray()
        inflate = zlib.decompressobj(-15) if member.method == _DEFLATED else None
        while left > 0:
            chunk = file.read(min(_CHUNK, left))
            if not chunk:
                raise InputError(f"{ref}: cut short")
            left -= len(chunk)
            if inflate is None:
                out += chunk
            else:
                try:
                    # Never inflate more than the cap allows, whatever the data claims.
                    out += inflate.decompress(chunk, limit + 1 - len(out))
                    while inflate.unconsumed_tail and len(out) <= limit:
                        out += inflate.decompress(inflate.unconsumed_tail, limit + 1 - len(out))
                except zlib.error as error:
                    raise InputError(f"{ref}: corrupt deflate data ({error})") from None
            if len(out) > limit:
                raise too_big
        if inflate is not None:
            out += inflate.flush()
            if len(out) > limit:
                raise too_big
        if len(out) != member.size or zlib.crc32(out) != member.crc:
            raise InputError(f"{ref}: corrupt (size or CRC does not match the central directory)")
        return bytes(out)


def _work(archive: Archive, batches, parent_pid: int, batch_bytes: int = _BATCH_BYTES) -> None:
    """The second process: parse the archive's members and send them in batches (each record as
    its canonical JSON, which is faster to send and to read back than a pickled dict, and packed
    with its raw input for storing: compressing here keeps the storing process free of it).  It
    dies with its parent, however the parent ends."""
    die_with_parent(parent_pid)
    try:
        batch: list = []
        size = 0
        for item in archive._parsed():
            if isinstance(item, Failed):
                batch.append(item)
            else:
                text = canonical_json(item.record)
                packed = (
                    None
                    if _known(archive.known, item.record["nct_id"])
                    else packing.pack(packing.content(text, item.raw))
                )
                batch.append((text, item.raw, packed, item.source_kind, item.source_ref, item.warnings))
                size += len(text) + len(item.raw) + len(packed or b"")
            if size >= batch_bytes:
                batches.put(batch)
                batch, size = [], 0
        batches.put(batch)
        batches.put(None)
    except (InputError, OSError) as error:
        batches.put((type(error).__name__, str(error)))


def _known(known: Sequence[int], nct_id: str) -> bool:
    if not known or not nct_id.startswith("NCT") or not nct_id[3:].isdigit():
        return False
    number = int(nct_id[3:])
    at = bisect.bisect_left(known, number)
    return at < len(known) and known[at] == number


def _unpack(sent: tuple) -> Parsed:
    text, raw, packed, source_kind, source_ref, warnings = sent
    return Parsed(load_json(text), raw, source_kind, source_ref, warnings, text=text, packed=packed)


def _zip64(extra: bytes, size: int, compressed_size: int, header_offset: int) -> tuple[int, int, int]:
    """The 64-bit values of a central directory entry from its zip64 extra field (id 1)."""
    at = 0
    while at + 4 <= len(extra):
        kind, length = struct.unpack_from("<2H", extra, at)
        if kind == 1:
            values = list(struct.unpack_from(f"<{length // 8}Q", extra, at + 4))
            if size == 0xFFFFFFFF and values:
                size = values.pop(0)
            if compressed_size == 0xFFFFFFFF and values:
                compressed_size = values.pop(0)
            if header_offset == 0xFFFFFFFF and values:
                header_offset = values.pop(0)
            break
        at += 4 + length
    return size, compressed_size, header_offset
