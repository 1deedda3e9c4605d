"""NCT identifiers."""

from __future__ import annotations

import re

from .errors import InputError

_NCT = re.compile(r"^NCT[0-9]{8}$", re.IGNORECASE)


def is_nct_id(text: str) -> bool:
    return bool(_NCT.match(text.strip()))


def normalize_nct_id(text: str) -> str:
    """`nct06731192` → `NCT06731192`; anything that is not NCT and 8 digits is an InputError."""
    if not isinstance(text, str) or not _NCT.match(text.strip()):
        raise InputError(f"{text!r} is not an NCT id (NCT followed by 8 digits, e.g. NCT06731192)")
    return text.strip().upper()
