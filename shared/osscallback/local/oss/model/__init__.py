"""The local OSS's state and OSS's rules about it, independent of HTTP (moto's "models").

Nothing here parses a request or renders XML: :mod:`.store` keeps buckets, objects and uploads on disk atomically,
and the other modules hold one rule each (byte ranges, preconditions, tags, ACLs, event documents) so the HTTP
side (:mod:`osscallback.local.oss.api`) stays a thin translation of headers and XML into calls on them.
"""
