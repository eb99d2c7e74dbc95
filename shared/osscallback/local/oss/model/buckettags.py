"""Bucket tag rules (PutBucketTags), which differ from object tags: at most 20 tags, keys of 1-64 characters that do
not start with ``http://``, ``https://``, ``Aliyun`` or ``acs`` (any case), values of at most 128 characters, keys
unique — https://www.alibabacloud.com/help/en/oss/support/0010-00000002 and the 0010-00000219 page. OSS's error code
for a broken rule is not named there; the local OSS answers 400 ``InvalidTag`` as for object tags, with those ECs.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from osscallback.local.oss.xmlresp import OSSError

MAX_TAGS = 20
MAX_KEY_CHARS = 64
MAX_VALUE_CHARS = 128
RESERVED_PREFIXES = ("http://", "https://", "aliyun", "acs")


def _invalid(message: str, ec: str = "0010-00000219") -> OSSError:
    return OSSError(400, "InvalidTag", message, ec=ec)


def check(root: ET.Element) -> None:
    """Raise :class:`OSSError` for the first rule a ``Tagging`` document breaks."""
    tags = root.findall("TagSet/Tag")
    if len(tags) > MAX_TAGS:
        raise _invalid(f"A bucket can have at most {MAX_TAGS} tags.")
    seen: set[str] = set()
    for tag in tags:
        key, value = tag.findtext("Key") or "", tag.findtext("Value") or ""
        if not key or len(key) > MAX_KEY_CHARS:
            raise _invalid(f"A bucket tag key must have 1 to {MAX_KEY_CHARS} characters.")
        if key.lower().startswith(RESERVED_PREFIXES):
            raise _invalid("A bucket tag key cannot start with http://, https://, Aliyun or acs.", "0010-00000002")
        if len(value) > MAX_VALUE_CHARS:
            raise _invalid(f"A bucket tag value can have at most {MAX_VALUE_CHARS} characters.")
        if key in seen:
            raise _invalid("The tag keys must be unique.")
        seen.add(key)


def without(root: ET.Element, keys: set[str]) -> ET.Element:
    """The document minus the tags whose keys are listed (DeleteBucketTags with ``?tagging=k1,k2``)."""
    tag_set = root.find("TagSet")
    if tag_set is not None:
        for tag in tag_set.findall("Tag"):
            if (tag.findtext("Key") or "") in keys:
                tag_set.remove(tag)
    return root
