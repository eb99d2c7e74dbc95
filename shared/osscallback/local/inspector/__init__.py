"""The local inspector: a web page listing every callback the local OSS sent, with replay and edit & re-send.

``osscallback local`` starts it and prints its URL. It is local tooling only (never deployed): plain HTML, a small
script and a stylesheet shipped in the package (no npm, no CDN, works offline), over a JSON API for scripts.

    from osscallback.local.inspector import Inspector
    with Inspector() as inspector:
        oss = LocalOSS(..., callback_observers=[inspector.observe]).start()
        inspector.attach(oss.callback_sender)
        print(inspector.url)
"""

from __future__ import annotations

from osscallback.local.inspector.history import CallbackHistory
from osscallback.local.inspector.server import Inspector

__all__ = ["CallbackHistory", "Inspector"]
