"""Trial records → dated snapshots in SQLite, their changes and reports.  Knows no HTTP.

The data's way, one package each: `store` (records → snapshots, checks and change rows in
SQLite; the only SQL), `changes` (what a change between two records means), `reports`
(changes, histories and runs as text, JSON, CSV, Markdown), `jobs` (ingest, watchlist, the
scheduled run, backfill, reparse), `datasette` (browsing the database).
"""
