"""What `trialwatch ingest` is given: files, folders, archives, NCT ids and page URLs, as one
stream of `Parsed` and `Failed` items.  Checked up front: a bad target is an InputError before
anything is read further or written."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import chain

from .errors import InputError
from .parse import Failed, Parsed
from .registry import fetch_pages, fetch_trials
from .sources import Inputs, split_targets


class Targets:
    """Command-line targets.  `open_registry()` is called only when ids or URLs need fetching."""

    def __init__(self, args, open_registry: Callable):
        if not all(arg.strip() for arg in args):  # an unset shell variable, not "this folder"
            raise InputError("an empty target: name a file, folder, NCT id or URL")
        self.nct_ids, self.urls, paths = split_targets(args)
        self.inputs = Inputs(paths)
        self.registry = open_registry() if self.nct_ids or self.urls else None

    def __len__(self) -> int:
        return len(self.inputs) + len(self.nct_ids) + len(self.urls)

    @property
    def bulk(self) -> bool:
        """Whether an archive is among the targets (bulk work: see `trialwatch ingest`)."""
        return self.inputs.bulk

    def pack_only_new(self, known) -> None:
        """Bulk archives pack (`ingest.packing`) only the trials not in `known`, a sorted sequence of
        NCT numbers: the trials a database has already are mostly unchanged, and their frames unused."""
        self.inputs.pack_only_new(known)

    def __iter__(self) -> Iterator[Parsed | Failed]:
        fetched = fetch_trials(self.registry, self.nct_ids) if self.nct_ids else ()
        pages = fetch_pages(self.registry, self.urls) if self.urls else ()
        return chain(self.inputs, fetched, pages)
