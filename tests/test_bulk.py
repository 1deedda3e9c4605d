"""ClinicalTrials.gov's bulk download: a zip of one JSON study per file, read as a stream.

Real zips made with the standard library from the shared real records, some then damaged or
made hostile byte by byte; the command line against a real SQLite file.
"""

import sqlite3
import struct
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from trialwatch.cli import cli
from trialwatch.ingest.bulk import Archive
from trialwatch.ingest.errors import InputError
from trialwatch.ingest.parse import Failed, Parsed
from trialwatch.ingest.sources import Inputs

STUDIES = Path(__file__).parent / "fixtures" / "ctgov" / "studies"
SMALL = ["NCT00973089", "NCT03418623", "NCT03475563"]


def study_bytes(nct_id: str) -> bytes:
    return (STUDIES / f"{nct_id}.json").read_bytes()


def make_zip(path: Path, members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def tw(db, *args):
    return CliRunner().invoke(cli, ["--db", str(db), *map(str, args)])


def count(db, sql):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchone()[0]


def test_bulk_zip_of_every_shared_record_is_ingested_then_unchanged(tmp_path):
    members = {f"ctg-studies/{path.name}": path.read_bytes() for path in sorted(STUDIES.glob("*.json"))}
    archive = make_zip(tmp_path / "ctg-studies.json.zip", members)
    db = tmp_path / "tw.db"
    first = tw(db, "ingest", archive, "--observed-at", "2025-01-01")
    assert first.exit_code == 0, first.output
    assert "25 checked: 25 new" in first.stderr
    refs = [row[0] for row in sqlite3.connect(db).execute("SELECT source_ref FROM snapshots ORDER BY id")]
    assert refs[0] == f"{archive}!ctg-studies/NCT00184067.json"
    second = tw(db, "ingest", archive, "--observed-at", "2025-01-02")
    assert "25 checked: 0 new, 0 changed, 25 unchanged" in second.stderr
    assert count(db, "SELECT count(*) FROM snapshots") == 25


def test_len_counts_members_to_read_and_skips_folders_hidden_files_and_others(tmp_path):
    members = {f"{n}.json": study_bytes(n) for n in SMALL}
    members.update(
        {"__MACOSX/._NCT00973089.json": b"\x00\x05junk", ".hidden.json": b"{}", "notes.pdf": b"%PDF", "sub/": b""}
    )
    archive = make_zip(tmp_path / "a.zip", members)
    inputs = Inputs([archive])
    assert len(inputs) == 3
    items = list(inputs)
    assert [type(item) for item in items] == [Parsed] * 3
    assert [item.record["nct_id"] for item in items] == SMALL
    assert items[0].raw == study_bytes(SMALL[0])  # the member's bytes, kept for reparsing


def test_stored_members_and_zip64_headers_are_read(tmp_path):
    path = tmp_path / "z64.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        with archive.open("NCT00973089.json", "w", force_zip64=True) as member:
            member.write(study_bytes("NCT00973089"))
        archive.writestr("NCT03418623.json", study_bytes("NCT03418623"))
    assert [item.record["nct_id"] for item in Archive(path)] == ["NCT00973089", "NCT03418623"]


@pytest.mark.parametrize(
    "name", ["../evil.json", "ok/../../evil.json", "/etc/evil.json", "C:\\evil.json", "..\\evil.json"]
)
def test_member_paths_that_climb_out_or_are_absolute_refuse_the_archive_before_anything_is_written(tmp_path, name):
    archive = make_zip(tmp_path / "bad.zip", {"NCT00973089.json": study_bytes("NCT00973089"), name: b"{}"})
    db = tmp_path / "tw.db"
    result = tw(db, "ingest", archive)
    assert result.exit_code == 2
    assert "unsafe path" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not db.exists()


def test_not_a_zip_is_bad_input(tmp_path):
    fake = tmp_path / "fake.zip"
    fake.write_text("this is not an archive")
    result = tw(tmp_path / "tw.db", "ingest", fake)
    assert result.exit_code == 2 and "not a zip archive" in result.stderr
    empty = tmp_path / "empty.zip"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="not a zip archive"):
        Archive(empty)


def _patch_sizes(path: Path, name: str, declared: int) -> None:
    """Make the archive lie: `name`'s uncompressed size in both headers becomes `declared`."""
    data = bytearray(path.read_bytes())
    encoded = name.encode()
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = 0
        while (at := data.find(signature, at)) >= 0:
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at : name_at + len(encoded)] == encoded:
                struct.pack_into("<L", data, at + offset, declared)
            at += 4
    path.write_bytes(bytes(data))


def test_a_member_that_inflates_past_the_cap_fails_alone_whatever_its_header_says(tmp_path):
    bomb = b"{" + b" " * (8 * 1024 * 1024) + b"}"  # 8 MiB that deflate to about 8 KB
    archive = make_zip(
        tmp_path / "bomb.zip",
        {
            "NCT00973089.json": study_bytes("NCT00973089"),
            "bomb.json": bomb,
            "NCT03418623.json": study_bytes("NCT03418623"),
        },
    )
    _patch_sizes(archive, "bomb.json", 100)  # claims 100 bytes
    tracemalloc.start()
    items = list(Archive(archive, max_member=1024 * 1024))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [type(item) for item in items] == [Parsed, Failed, Parsed]
    assert "bomb.json: inflates past its declared 100 bytes" in items[1].error
    assert peak < 4 * 1024 * 1024  # never inflated much past the cap


def test_a_member_declared_over_the_cap_is_not_read(tmp_path):
    archive = make_zip(tmp_path / "big.zip", {"NCT00973089.json": study_bytes("NCT00973089")})
    items = list(Archive(archive, max_member=1000))
    assert isinstance(items[0], Failed) and "larger than the 1,000 bytes" in items[0].error


def test_the_declared_total_is_capped_and_a_member_of_another_size_than_declared_fails(tmp_path):
    archive = make_zip(tmp_path / "many.zip", {f"{n}.json": study_bytes(n) for n in SMALL})
    sizes = [len(study_bytes(n)) for n in SMALL]
    with pytest.raises(InputError, match="more than the"):
        Archive(archive, max_total=sum(sizes) - 1)
    _patch_sizes(archive, "NCT03475563.json", 10)  # it lies, and is found out while reading
    items = list(Archive(archive, max_total=sum(sizes[:2]) + 10))
    assert [type(item) for item in items] == [Parsed, Parsed, Failed]
    assert "NCT03475563.json: inflates past its declared 10 bytes" in items[2].error


def test_corrupt_member_and_bad_json_fail_alone_and_the_command_exits_1(tmp_path):
    archive = make_zip(
        tmp_path / "mixed.zip",
        {
            "NCT00973089.json": study_bytes("NCT00973089"),
            "broken.json": b'{"protocolSection": ',
            "NCT03418623.json": study_bytes("NCT03418623"),
        },
    )
    data = bytearray(archive.read_bytes())
    last = data.rfind(b"PK\x01\x02")  # the central directory entry of NCT03418623.json
    struct.pack_into("<L", data, last + 16, 12345)  # its CRC-32
    archive.write_bytes(bytes(data))
    db = tmp_path / "tw.db"
    result = tw(db, "ingest", archive)
    assert result.exit_code == 1
    assert "broken.json: not valid JSON" in result.stderr and "NCT03418623.json: corrupt" in result.stderr
    assert count(db, "SELECT count(*) FROM snapshots") == 1
    assert count(db, "SELECT count(*) FROM checks WHERE outcome = 'failed'") == 2


def test_opening_an_archive_keeps_no_entry_in_memory(tmp_path):
    """Constant memory: the central directory is read entry by entry, not kept (zipfile keeps
    every entry, about half a kilobyte each)."""
    path = tmp_path / "wide.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for number in range(20_000):
            archive.writestr(f"ctg-studies/NCT{number:08d}.json", b"{}")
    tracemalloc.start()
    archive = Archive(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(archive) == 20_000
    assert peak < 512 * 1024


def test_a_large_archive_is_parsed_in_a_second_process_to_the_same_items(tmp_path, monkeypatch):
    import trialwatch.ingest.bulk as bulk

    members = {f"{path.name}": path.read_bytes() for path in sorted(STUDIES.glob("*.json"))}
    members["broken.json"] = b"{"
    archive = make_zip(tmp_path / "all.zip", members)
    here = list(Archive(archive))
    monkeypatch.setattr(bulk, "WORKER_MIN_MEMBERS", 1)
    monkeypatch.setattr(bulk, "_BATCH_BYTES", 50_000)  # several batches
    there = list(Archive(archive))
    assert [type(item) for item in there] == [type(item) for item in here] and len(there) == 26
    for mine, theirs in zip(here, there, strict=True):
        if isinstance(mine, Parsed):
            assert (theirs.record, theirs.raw, theirs.source_ref) == (mine.record, mine.raw, mine.source_ref)
        else:
            assert theirs == mine
    reading = iter(Archive(archive))
    next(reading)
    reading.close()  # stops the reader process
