"""Object tagging rules: at most 10 tags, unique keys of 1-128 characters, values of at most 256, and only
letters, digits, spaces and ``+ - = . _ : /`` (OSS's object-tagging reference and its EC pages 0010-00000209,
-214, -217, -219). Tags arrive either as a ``Tagging`` XML document (PutObjectTagging) or URL-encoded in the
``x-oss-tagging`` header (``k1=v1&k2=v2``; a bare ``k`` is a tag with an empty value).

OSS answers a broken rule with 400 ``InvalidTag`` and the EC naming the rule; a body that is not a ``Tagging``
document with a ``TagSet`` is 400 ``MalformedXML``.
"""

from __future__ import annotations

import string
import xml.etree.ElementTree as ET
from urllib.parse import unquote

from osscallback.local.oss import xmlresp
from osscallback.local.oss.xmlresp import OSSError

MAX_TAGS = 10
MAX_KEY_CHARS = 128
MAX_VALUE_CHARS = 256
ALLOWED = frozenset(string.ascii_letters + string.digits + " +-=._:/")


def _invalid(message: str, ec: str) -> OSSError:
    return OSSError(400, "InvalidTag", message, ec=ec)


def validate(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """The tag set as an ordered dict, or :class:`OSSError` for the first rule broken."""
    if len(pairs) > MAX_TAGS:
        raise _invalid(f"Object tags cannot be greater than {MAX_TAGS}.", "0010-00000217")
    tags: dict[str, str] = {}
    for key, value in pairs:
        if not key:
            raise _invalid("The tag key cannot be empty.", "0010-00000217")
        if len(key) > MAX_KEY_CHARS:
            raise _invalid(f"The tag key is longer than {MAX_KEY_CHARS} characters.", "0010-00000209")
        if len(value) > MAX_VALUE_CHARS:
            raise _invalid(f"The tag value is longer than {MAX_VALUE_CHARS} characters.", "0010-00000214")
        if not set(key) <= ALLOWED or not set(value) <= ALLOWED:
            raise _invalid("The tag key or value contains characters that are not allowed.", "0010-00000217")
        if key in tags:
            raise _invalid("The tag keys must be unique.", "0010-00000217")
        tags[key] = value
    return tags


def from_header(value: str) -> dict[str, str]:
    """``x-oss-tagging: k1=v1&k2=v2`` (URL-encoded keys and values)."""
    pairs: list[tuple[str, str]] = []
    for item in value.split("&"):
        if not item:
            continue
        if item.count("=") > 1:
            raise _invalid("The x-oss-tagging header is not in key or key=value format.", "0010-00000219")
        key, _, val = item.partition("=")
        pairs.append((unquote(key), unquote(val)))
    return validate(pairs)


def from_xml(raw: bytes) -> dict[str, str]:
    root = xmlresp.parse(raw, "Tagging")
    tag_set = root.find("TagSet")
    if tag_set is None:
        raise xmlresp.malformed_xml()
    pairs = []
    for node in tag_set.findall("Tag"):
        key = node.findtext("Key")
        if key is None:
            raise xmlresp.malformed_xml()
        pairs.append((key, node.findtext("Value") or ""))
    return validate(pairs)


def to_xml(tags: dict[str, str]) -> bytes:
    root = ET.Element("Tagging")
    tag_set = ET.SubElement(root, "TagSet")
    for key, value in tags.items():
        node = ET.SubElement(tag_set, "Tag")
        xmlresp.text(node, "Key", key)
        xmlresp.text(node, "Value", value)
    return xmlresp.to_bytes(root)
