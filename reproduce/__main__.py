"""``python -m reproduce``: see :mod:`reproduce.command`."""

from reproduce.command import main

raise SystemExit(main())
