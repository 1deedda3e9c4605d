"""Child processes that never outlive the process that started them.

A killed `trialwatch ingest` must not leave its zip reader running (holding the parent's
stdout and stderr, so whatever waits for that output waits forever), nor a killed
`trialwatch serve` its Datasette.  On Linux the kernel sends the child a signal when its
parent dies (`prctl(PR_SET_PDEATHSIG)`), however the parent ends, SIGKILL included;
`die_with_parent` asks for that, in the child, before it does anything else.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int | None = None) -> None:
    """Have this (child) process killed when its parent dies.  Elsewhere than Linux, nothing.

    `parent_pid`: the parent's pid as the parent saw it; if the parent already died before this
    call (a race the kernel cannot cover), exit at once."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)
