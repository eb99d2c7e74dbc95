"""Which functions an OSS event notification triggers: the matching rules of an FC OSS trigger.

An OSS trigger (template: :class:`osscallback.deploy.fcyaml.OssTriggerConfig`) names a bucket, a list of event
types and a key prefix/suffix filter. OSS delivers one event document per change, ``{"events": [record, ...]}``
(official "trigger event formats" page), each record naming its ``eventName`` (``ObjectCreated:PutObject``, with
no ``oss:`` prefix), ``oss.bucket.name`` and ``oss.object.key``. A record matches a trigger when:

- the bucket is the trigger's bucket;
- the event name matches one of the trigger's events, compared without the ``oss:`` prefix the templates write
  (``oss:ObjectCreated:PutObject`` = ``ObjectCreated:PutObject``), where ``*`` is a wildcard
  (``oss:ObjectCreated:*`` is every object-created event, as the FC API's ``OSSTriggerConfig.events`` allows);
- the key starts with the prefix and ends with the suffix (an empty one matches anything).

Kept apart from the host so the rules can be read, and tested, on their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from osscallback.deploy.fcyaml import OssTriggerConfig


def _bare(event_name: str) -> str:
    return event_name[4:] if event_name.startswith("oss:") else event_name


@dataclass(frozen=True)
class OssTrigger:
    """One OSS trigger of one function, as the host matches it."""

    name: str
    bucket: str
    events: tuple[str, ...]
    prefix: str = ""
    suffix: str = ""

    @classmethod
    def from_config(cls, name: str, config: OssTriggerConfig) -> OssTrigger:
        return cls(name=name, bucket=config.bucket, events=config.events, prefix=config.prefix, suffix=config.suffix)

    def matches_event_name(self, event_name: str) -> bool:
        name = _bare(event_name)
        return any(fnmatchcase(name, _bare(pattern)) for pattern in self.events)

    def matches(self, record: Mapping[str, Any]) -> bool:
        """Whether one record of an OSS event document triggers this trigger."""
        oss = record.get("oss")
        if not isinstance(oss, Mapping):
            return False
        bucket, obj = oss.get("bucket"), oss.get("object")
        bucket_name = str(bucket.get("name") or "") if isinstance(bucket, Mapping) else ""
        key = str(obj.get("key") or "") if isinstance(obj, Mapping) else ""
        return (
            bool(self.bucket)
            and bucket_name == self.bucket
            and self.matches_event_name(str(record.get("eventName") or ""))
            and key.startswith(self.prefix)
            and key.endswith(self.suffix)
        )

    def select(self, event: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """The records of ``event`` (``{"events": [...]}``) that this trigger matches."""
        records = event.get("events")
        if not isinstance(records, Sequence) or isinstance(records, str | bytes):
            return []
        return [r for r in records if isinstance(r, Mapping) and self.matches(r)]


__all__ = ["OssTrigger"]
