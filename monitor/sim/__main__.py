"""``python -m monitor.sim``: the same as ``rdv-monitor sim``."""

from monitor.sim.cli import main

raise SystemExit(main())
