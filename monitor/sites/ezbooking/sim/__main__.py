"""``python -m monitor.sites.ezbooking.sim``: the same as ``rdv-monitor sim``."""

from monitor.sites.ezbooking.sim.cli import main

raise SystemExit(main())
