"""``python -m sim`` (and the ``almsim`` command): the command line.

The entry point catches a Ctrl-C that comes while the command line is still being imported
(one line, exit 130, no traceback); :func:`sim.cli.main.main` handles it from then on.
"""

import signal
import sys


def entry() -> int:
    """Import the command line and run it; return the exit code."""
    try:
        from sim.cli.main import main
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the work is done: a late Ctrl-C changes nothing
    return code


if __name__ == "__main__":
    raise SystemExit(entry())
