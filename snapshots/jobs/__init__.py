"""Jobs over the store: ingesting records, the watchlist, the scheduled run, backfill, reparse."""
