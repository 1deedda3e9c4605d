"""Datasette plugin: trialwatch's SQL functions on every connection Datasette opens.

Snapshots store their records compressed (`trialwatch.snapshots.store.codec`);
`trialwatch_record(snapshot_id)` returns a snapshot's record as JSON, so the views, the canned
queries and any `json_extract(trialwatch_record(id), '$.title')` work in Datasette as in
trialwatch.  Registered by the package's `datasette` entry point (pyproject.toml): installed
beside Datasette, trialwatch is a plugin whether Datasette runs through `trialwatch serve` or alone.
"""

from __future__ import annotations

from datasette import hookimpl

from trialwatch.snapshots.store.codec import register


@hookimpl
def prepare_connection(conn, database, datasette):
    register(conn)
