"""``python -m benchmarks``: see ``benchmarks/__init__.py`` for what is measured."""

import sys

from benchmarks.cli import main

sys.exit(main())
