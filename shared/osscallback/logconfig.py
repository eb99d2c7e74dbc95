"""Logging set-up for the CLI and local servers: one line per record on stderr, messages already JSON.

FC configures the root logger itself on the platform, so the library never calls this on import.
"""

from __future__ import annotations

import logging
import sys


def configure(level: str | int = "INFO") -> None:
    root = logging.getLogger()
    if any(getattr(h, "_osscallback", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler._osscallback = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
