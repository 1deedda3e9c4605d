"""Shared test set-up: registry clients retry quickly, in this process and in the ones tests start."""

import os

# The backoff before a retry is a parameter of the client (`--retry-wait`, env TRIALWATCH_RETRY_WAIT);
# 1 s doubled each try is right for the real registry and needless in tests. Tests that time
# retries set their own.
os.environ.setdefault("TRIALWATCH_RETRY_WAIT", "0.01")
