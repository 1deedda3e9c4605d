"""trialwatch: watch clinical-trial registry records change.

Installed, everything lives under this one name:

- `trialwatch.ingest` (the repository's `ingest/`): registry input → trial records; knows no database;
- `trialwatch.snapshots` (the repository's `snapshots/`): records → SQLite, changes, reports, jobs;
  knows no HTTP;
- `trialwatch.cli`: the click command line, thin glue over the two.
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("trialwatch")
except PackageNotFoundError:  # a checkout that was never installed
    __version__ = "0+unknown"
