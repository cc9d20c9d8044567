"""``python -m sim``: the ``almsim`` command line."""

from sim.cli.main import main

raise SystemExit(main())
