"""``python -m embexplorer compare ...``"""

import sys

from .cli import main

sys.exit(main())
