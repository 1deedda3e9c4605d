"""Run the trialwatch CLI in-process, as the tests do: `tw(db, *args, url=registry_url)`."""

from click.testing import CliRunner

from trialwatch.cli import cli


def tw(db, *args, url=None):
    """The command's result; an unexpected exception (not a clean exit) is raised, not hidden."""
    registry = ["--ctgov-url", url, "--rate", "1000"] if url else []
    result = CliRunner().invoke(cli, ["--db", str(db), *registry, *map(str, args)])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result
