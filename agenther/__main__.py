"""``python -m agenther`` is the ``agenther`` command."""

from agenther.cli import main

raise SystemExit(main())
