"""``python -m movingmnist``: the command-line interface (see :mod:`movingmnist.cli`)."""

from .cli import main

raise SystemExit(main())
