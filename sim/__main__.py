"""``python -m sim``: the ``almsim`` command line."""

from sim.cli import main

raise SystemExit(main())
