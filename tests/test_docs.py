"""The README is the manual: its generated parts match the code, and every command is in it."""

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from trialwatch.cli import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_generated_parts_of_the_readme_are_current():
    result = subprocess.run(
        [sys.executable, "-m", "cogapp", "--check", "README.md"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, "README.md is out of date: run `cog -r README.md`\n" + result.stdout + result.stderr


def _commands():
    for name, command in cli.commands.items():
        yield [name]
        yield from ([name, sub] for sub in getattr(command, "commands", {}))


def test_every_command_has_help_with_an_example_and_is_in_the_readme():
    found = list(_commands())
    assert ["watch", "add"] in found and ["timeline"] in found
    for words in found:
        result = CliRunner().invoke(cli, [*words, "--help"])
        assert result.exit_code == 0, words
        assert "Example:" in result.output, f"{' '.join(words)} --help has no example"
        assert f"### trialwatch {' '.join(words)}\n" in README, f"{' '.join(words)} has no help in the README"


def test_examples_stay_one_per_line():
    """Click rewraps paragraphs: two examples must not run together into one line."""
    result = CliRunner().invoke(cli, ["watch", "add", "--help"], terminal_width=100)
    lines = [line.strip() for line in result.output.splitlines() if line.strip().startswith("trialwatch watch add")]
    assert lines == [
        'trialwatch watch add NCT06731192 NCT04267848 --note "competitors" --backfill',
        "trialwatch watch add --search 'query.cond=Alport syndrome&filter.overallStatus=RECRUITING' --name alport",
    ]
