"""What a check found: the values of `checks.outcome`."""

NEW = "new"  # the trial's first snapshot
CHANGED = "changed"  # a snapshot with changes, or with more known of the trial
UNCHANGED = "unchanged"  # nothing new: no snapshot written
FAILED = "failed"  # the input could not be had or read; `checks.error` says why

OUTCOMES = (NEW, CHANGED, UNCHANGED, FAILED)
