"""Trial records → dated snapshots in SQLite, their changes and reports.  Knows no HTTP."""
