"""The local STS: ``AssumeRole`` for the official STS SDK, minting session-policy-limited credentials the local OSS
accepts and enforces (:mod:`.server`; V3 signatures in :mod:`.signature`). A development tool, never deployed."""

from osscallback.local.sts.server import LocalSTS, STSApp

__all__ = ["LocalSTS", "STSApp"]
