"""Datasette: the metadata trialwatch ships for browsing a database, and serving it."""
