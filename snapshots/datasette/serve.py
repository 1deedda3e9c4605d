"""Serving a database with Datasette, read-only, with the metadata trialwatch ships.

Datasette keys metadata by database name (the file's name without its suffix); the shipped
`metadata.yml` is written for `trialwatch.db`, so `serve` adapts a copy to the database it
serves.  Datasette runs as a child process of the caller.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile

from trialwatch.ingest.processes import die_with_parent

SHIPPED_NAME = "trialwatch"  # the database name metadata.yml is written for
MISSING = "trialwatch serve needs Datasette: pip install '.[datasette]' in trialwatch's checkout"


def metadata_path() -> str:
    """The shipped metadata file, for plain `datasette … -m`."""
    return str(importlib.resources.files("trialwatch.snapshots.datasette").joinpath("metadata.yml"))


def available() -> bool:
    return importlib.util.find_spec("datasette") is not None


def metadata_for(db_path: str) -> dict:
    """The shipped metadata, keyed by the name Datasette gives `db_path`."""
    import yaml  # Datasette's own dependency

    with open(metadata_path(), encoding="utf-8") as text:
        metadata = yaml.safe_load(text)
    name = os.path.splitext(os.path.basename(db_path))[0]
    metadata["databases"] = {name: metadata["databases"][SHIPPED_NAME]}
    home = f"/{SHIPPED_NAME}/"  # the home page's links name the database
    text = metadata.get("description_html", "").replace(f"/-/trialwatch{home}", f"/-/trialwatch/{name}/")
    metadata["description_html"] = text.replace(f'href="{home}', f'href="/{name}/')
    return metadata


class PortBusy(Exception):
    """The address to listen on is taken (or not this machine's)."""


def check_port(host: str, port: int) -> None:
    """Fail before Datasette starts (and prints a traceback-like log) when it could not listen."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise PortBusy(f"cannot listen on {host}: {error.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            reason = "is in use" if error.errno == 98 else f"cannot be used ({error.strerror})"
            raise PortBusy(f"port {port} on {host} {reason}: give another with --port") from None


def serve(db_path: str, host: str, port: int, *, immutable: bool = False) -> int:
    """Run Datasette on the database until it stops; returns its exit status (128 + signal if killed).
    `immutable`: the file cannot change (read-only media), so Datasette opens it without locks."""
    with tempfile.TemporaryDirectory(prefix="trialwatch-serve-") as tmp:
        adapted = os.path.join(tmp, "metadata.json")
        with open(adapted, "w", encoding="utf-8") as out:
            json.dump(metadata_for(db_path), out)
        command = [
            sys.executable,
            "-m",
            "datasette",
            "serve",
            *(["--immutable", db_path] if immutable else [db_path]),
            "--metadata",
            adapted,
            "--host",
            host,
            "--port",
            str(port),
            # Pages open with their data: no line of suggested facets above every table.
            "--setting",
            "suggest_facets",
            "off",
        ]
        parent = os.getpid()  # Datasette dies with trialwatch, however trialwatch ends (kill -9 included)
        process = subprocess.Popen(command, preexec_fn=lambda: die_with_parent(parent))
        signal.signal(signal.SIGTERM, lambda *_: process.terminate())
        try:
            status = process.wait()
        except KeyboardInterrupt:  # Ctrl-C reached Datasette too
            status = process.wait()
    return status if status >= 0 else 128 - status
