"""Registry input → trial records.  Knows no database."""
