"""URLs as trialwatch shows and stores them: never with a secret in them.

A registry mirror or a page URL may carry credentials (`http://alice:s3cret@host/…`) or a key in
its query (`?api_key=…`).  The request may use them; nothing else may: `redact` is applied to
every URL before it is stored (source references, check errors), printed or logged, and
`redact_text` to any text that may quote one (a transport error's message).  Credentials are
better kept out of URLs altogether: requests reads `~/.netrc` for the host.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from .errors import InputError

HIDDEN = "REDACTED"
# Query parameter names that carry secrets.
_SECRET_NAME = re.compile(r"key|token|secret|passw|pwd|auth|sig|session|credential", re.IGNORECASE)
# A URL inside free text: scheme, then everything up to white space or a closing quote/bracket.
_URL_IN_TEXT = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>)\]]+")
# `user:password@` or `token@` right after a scheme, even in a URL too malformed to split.
_USERINFO = re.compile(r"(://)[^/@\s]+@")


def redact(url: str) -> str:
    """The URL without its user information and with secret-looking query values hidden."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")[2]
        pairs = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:  # too malformed to split: hide what looks like user information
        return _USERINFO.sub(r"\1", url)
    query = urlencode([(name, HIDDEN if _SECRET_NAME.search(name) else value) for name, value in pairs], safe="/:,")
    return urlunsplit(parts._replace(netloc=netloc, query=query if pairs else parts.query))


def redact_text(text: str) -> str:
    """Text with every URL in it redacted."""
    return _USERINFO.sub(r"\1", _URL_IN_TEXT.sub(lambda match: redact(match.group(0)), text))


def credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """(the URL without user information, (user, password) or None)."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return url, None
    user, _, password = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=host)), (unquote(user), unquote(password))


def check_http_url(url: str, what: str = "URL") -> str:
    """The URL itself if it is http(s) with a host (and a valid port); otherwise an InputError
    naming it (redacted: the line may be stored or mailed)."""
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
        valid = parts is not None and parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
        valid = valid and (parts is None or parts.port is None or 0 < parts.port < 65536)
    except ValueError:  # `http://[::1`, a port that is not a number
        valid = False
    if not valid:
        shown = redact(url) if isinstance(url, str) else url
        raise InputError(f"{shown!r} is not an http(s) {what}")
    return url
