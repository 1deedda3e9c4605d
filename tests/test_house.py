"""The house rules, checked: one installed name, layers that keep to their side, SQL only in the
store, functions that read in one screen.

- Installed, everything lives under `trialwatch`: a wheel built from the checkout holds no
  top-level `ingest` or `snapshots`, and installed alone (outside the checkout) it imports as
  `trialwatch.ingest` while `import ingest` fails.
- `ingest/` knows no database; `snapshots/` knows no HTTP; only the CLI imports click.
- No SQL statement outside `snapshots/store/` (the store and the migrations).
- No function of the library longer than 60 lines, except the migrations (declarative schema).
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ("ingest", "snapshots")
MAX_FUNCTION_LINES = 60
LONG_ALLOWED = {"snapshots/store/migrations.py"}  # one function per schema change, declarative
SQL = re.compile(
    r"^\s*(SELECT\s.+\sFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX|VIEW|TRIGGER)"
    r"|ALTER\s+TABLE|DROP\s+(TABLE|VIEW|INDEX)|PRAGMA\s)",
    re.IGNORECASE | re.DOTALL,
)


def python_files(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def imports(path: Path) -> set[str]:
    """Every module a file imports, absolute (relative imports resolved against its package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ["trialwatch", *path.relative_to(ROOT).parent.parts]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def test_every_package_folder_is_installed():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    folders = {"trialwatch": "trialwatch", **{f"trialwatch.{d}": d for d in LIBRARY}}
    expected = {"trialwatch"} | {
        ".".join(["trialwatch", *init.parent.relative_to(ROOT).parts])
        for folder in LIBRARY
        for init in (ROOT / folder).rglob("__init__.py")
    }
    assert set(config["packages"]) == expected
    assert config["package-dir"] == folders


@pytest.mark.parametrize("path", python_files("ingest"), ids=name)
def test_ingest_knows_no_database(path):
    found = imports(path)
    assert not {m for m in found if m.split(".")[0] in ("sqlite3", "sqlite_utils")}, name(path)
    assert not {m for m in found if m.startswith("trialwatch.snapshots")}, name(path)


@pytest.mark.parametrize("path", python_files("snapshots"), ids=name)
def test_snapshots_know_no_http(path):
    found = imports(path)
    http = ("requests", "urllib.request", "urllib3", "http.client", "curl_cffi", "httpx")
    assert not {m for m in found if m.startswith(http)}, name(path)
    assert not {m for m in found if m.startswith(("trialwatch.ingest.http", "trialwatch.ingest.registry"))}, name(path)


@pytest.mark.parametrize("path", python_files(*LIBRARY), ids=name)
def test_only_the_cli_imports_click(path):
    assert not {m for m in imports(path) if m.split(".")[0] == "click"}, name(path)


def sql_strings(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
            yield node.lineno, node.value[:60]
        elif isinstance(node, ast.JoinedStr):
            text = "".join(p.value for p in node.values if isinstance(p, ast.Constant) and isinstance(p.value, str))
            if SQL.match(text):
                yield node.lineno, text[:60]


def test_sql_lives_only_in_the_store():
    outside = [
        f"{name(path)}:{line}: {text!r}"
        for path in python_files("trialwatch", *LIBRARY)
        if not name(path).startswith("snapshots/store/")
        for line, text in sql_strings(path)
    ]
    assert not outside, "SQL outside snapshots/store/:\n" + "\n".join(outside)
    inside = [hit for path in python_files("snapshots") for hit in sql_strings(path)]
    assert len(inside) > 20  # the check does see SQL where it is


def test_no_library_function_is_longer_than_60_lines():
    long = []
    for path in python_files(*LIBRARY):
        if name(path) in LONG_ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{name(path)}:{node.lineno} {node.name}: {lines} lines")
    assert not long, "\n".join(long)


def test_a_wheel_installs_one_name_and_imports_outside_the_checkout(tmp_path):
    source = tmp_path / "source"  # a copy: setuptools writes build/ beside what it builds
    ignored = shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", "tests")
    shutil.copytree(ROOT, source, ignore=ignored)
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path)]
    built = subprocess.run([*pip_wheel, str(source)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("trialwatch-*.whl")
    files = zipfile.ZipFile(wheel).namelist()
    tops = {f.split("/")[0] for f in files if not f.split("/")[0].endswith(".dist-info")}
    assert tops == {"trialwatch"}
    assert "trialwatch/snapshots/datasette/metadata.yml" in files
    assert "trialwatch/snapshots/findings/stopped_reasons.json" in files  # the stopped-reason rules are data
    assert "trialwatch/ingest/dictionaries/records-1.zdict" in files  # stored snapshots need it to be read
    entry_points = zipfile.ZipFile(wheel).read(next(f for f in files if f.endswith(".dist-info/entry_points.txt")))
    assert b"[datasette]\ntrialwatch = trialwatch.snapshots.datasette.plugin" in entry_points
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    script = (
        "import importlib.util, trialwatch.ingest.ids, trialwatch.snapshots.store.store, trialwatch.cli\n"
        f"assert trialwatch.ingest.ids.__file__.startswith({str(target)!r})\n"
        "from trialwatch.ingest import packing\n"
        "assert packing.unpack(packing.pack(b'a record'), packing.CURRENT) == b'a record'\n"
        "assert importlib.util.find_spec('ingest') is None and importlib.util.find_spec('snapshots') is None\n"
    )
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}
    ran = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
