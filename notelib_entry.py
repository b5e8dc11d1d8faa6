"""The ``notelib`` command's entry point, outside the notelib package so that its first line
runs before any of notelib is imported: a Ctrl-C while the command starts up is one line, not
a traceback (only Python's own start-up, before this file, is out of its reach)."""

import signal
import sys


def _interrupted(signum, frame):  # noqa: ARG001 (a signal handler's signature)
    print("notelib: interrupted (Ctrl-C) while starting up", file=sys.stderr)
    sys.exit(130)


def main() -> int:
    """Import the command line with Ctrl-C answered in one line, then run it (its ``main``
    handles Ctrl-C from there on)."""
    before = signal.signal(signal.SIGINT, _interrupted)
    from notelib.jobs.cli import main as cli

    signal.signal(signal.SIGINT, before)
    return cli()
