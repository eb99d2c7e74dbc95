"""``python -m bench [--quick] [--only NAME] [--json FILE]``: the same as ``python bench/run.py``."""

import sys

from bench.run import main

sys.exit(main())
