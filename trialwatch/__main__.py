"""`python -m trialwatch`: the command line."""

from trialwatch.cli import cli

if __name__ == "__main__":
    cli()
