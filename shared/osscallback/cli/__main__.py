"""``python -m osscallback.cli``: the same as the ``osscallback`` command (handy where scripts are not on PATH)."""

import sys

from osscallback.cli import main

sys.exit(main())
