"""Helpers shared by the test folders, one module per room of the package they serve.

``tests`` is a package (every test folder has an ``__init__.py``), so tests import these by their full name,
``from tests.support.oss import Receiver``, whichever folder pytest collects: no test edits ``sys.path`` to borrow a
helper. The map is tests/README.md.
"""

from __future__ import annotations

from pathlib import Path

#: The repository's root (holds template.yml, functions/, shared/).
ROOT = Path(__file__).resolve().parents[2]
#: Code the tests run as a user's would: FC functions (``fc/``) and callback actions (``actions/``).
FIXTURES = Path(__file__).resolve().parent / "fixtures"
