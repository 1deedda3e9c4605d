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


def test_every_command_has_help_with_an_example_and_is_in_the_readme():
    for name, _command in cli.commands.items():
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Example:" in result.output, f"{name} --help has no example"
        assert f"trialwatch {name}" in README, f"{name} is not in the README"
