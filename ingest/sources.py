"""Files, folders and archives on disk as sources of trial records.

Each file is parsed by `ingest.parse`; a `.zip` (ClinicalTrials.gov's bulk download) is read
member by member by `ingest.bulk`.  Command-line targets are sorted here into paths, NCT ids
and page URLs (`split_targets`); the ids and URLs are fetched by `ingest.registry`.
Nothing here knows the database.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from .bulk import Archive
from .errors import InputError
from .ids import normalize_nct_id
from .parse import INPUT_SUFFIXES, Failed, Parsed, parse_file
from .urls import check_http_url


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
        check_paths(paths)
        self.files: list[tuple[Path, list[Parsed] | Archive | None]] = []
        for path in map(Path, paths):
            if path.is_dir():
                self.files.extend((found, None) for found in walk(path))
            elif path.suffix.lower() == ".zip":
                archive = Archive(path)
                if not len(archive):
                    raise InputError(f"{path}: holds no trial input (.txt, .html, .htm or .json members)")
                self.files.append((path, archive))
            else:
                self.files.append((path, parse_file(path)))

    def __len__(self) -> int:
        return sum(1 if parsed is None or isinstance(parsed, list) else len(parsed) for _, parsed in self.files)

    @property
    def bulk(self) -> bool:
        """Whether an archive (the registry's bulk download, or any zip) is among the inputs."""
        return any(isinstance(parsed, Archive) for _, parsed in self.files)

    def pack_only_new(self, known) -> None:
        """Archives pack only the trials whose NCT numbers are not in `known` (`Archive.known`)."""
        for _, parsed in self.files:
            if isinstance(parsed, Archive):
                parsed.known = known

    def __iter__(self) -> Iterator[Parsed | Failed]:
        for path, parsed in self.files:
            if parsed is None:
                try:
                    parsed = parse_file(path)
                except InputError as error:
                    yield Failed(str(path), str(error))
                    continue
            yield from parsed


_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def split_targets(args) -> tuple[list[str], list[str], list[str]]:
    """Command-line targets → (NCT ids, page URLs, paths).

    An existing file or folder is a path; `NCT…` is an id (validated: a malformed one is an
    InputError); `http(s)://…` is a page URL; any other scheme is an InputError.
    """
    ids, urls, paths = [], [], []
    for arg in args:
        if Path(arg).exists():
            paths.append(arg)
        elif _SCHEME.match(arg):
            if not arg.lower().startswith(("http://", "https://")):
                raise InputError(f"{arg}: only http and https URLs can be fetched")
            urls.append(check_http_url(arg, "page URL"))
        elif arg[:3].upper() == "NCT":
            ids.append(normalize_nct_id(arg))
        else:
            paths.append(arg)
    return list(dict.fromkeys(ids)), urls, paths
