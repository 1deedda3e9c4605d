"""The figures the README quotes, as the tests measure them, so the README cannot drift.

A test module counts what it tried in a `Counter` (`FIGURES["bad command lines"] += 1`) and
hands it to `check(request, FIGURES)` when it ends (a module-scoped autouse fixture).  When the
whole module ran, its counts must equal those recorded for it in `tests/figures.json`; the
README's Reliability section is written from that file by cog, and `tests/test_docs.py` fails
when the README differs from what cog writes.  So a test that tries more cases fails until
the figures are recorded again:

    TRIALWATCH_UPDATE_FIGURES=1 python -m pytest tests/test_faults.py && cog -r README.md

Figures that depend on timing (kills that land mid-work, reads during a write) are not
counts but floors the tests assert; they are constants of the test module, recorded with
`floor(name, value)` so the README quotes the floor, never a lucky run.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

FILE = Path(__file__).with_name("figures.json")


def recorded() -> dict[str, dict[str, int]]:
    return json.loads(FILE.read_text(encoding="utf-8"))


def floor(counts: Counter, name: str, value: int) -> int:
    """Record a floor a test asserts (as `name (at least)`) and return it, for the assertion."""
    counts[f"{name} (at least)"] = value
    return value


def _whole_module_ran(request) -> bool:
    """No -k, -m, --deselect or node id narrowed this module: every test of it was collected."""
    option = request.config.option
    if option.keyword or option.markexpr or getattr(option, "deselect", None) or getattr(option, "lf", False):
        return False
    return not any("::" in str(arg) for arg in request.config.args)


def check(request, counts: Counter) -> None:
    """At a module's end: its counts are those recorded (or, with TRIALWATCH_UPDATE_FIGURES=1, record them)."""
    module = request.module.__name__.rsplit(".", 1)[-1]
    if not _whole_module_ran(request) or request.session.testsfailed:
        return
    measured = dict(sorted(counts.items()))
    if os.environ.get("TRIALWATCH_UPDATE_FIGURES"):
        figures = recorded() if FILE.exists() else {}
        figures[module] = measured
        FILE.write_text(json.dumps(dict(sorted(figures.items())), indent=2) + "\n", encoding="utf-8")
        return
    expected = recorded().get(module)
    assert measured == expected, (
        f"{module} measured {measured}, tests/figures.json records {expected}: after changing what the tests try, "
        f"run TRIALWATCH_UPDATE_FIGURES=1 python -m pytest tests/{module}.py and cog -r README.md"
    )
