"""``python -m mdlkit`` is the ``mdlkit`` command."""

from mdlkit.cli import main

raise SystemExit(main())
