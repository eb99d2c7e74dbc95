"""Object tagging rules: at most 10 tags, unique keys of 1-128 characters, values of at most 256, and only
letters, digits, spaces and ``+ - = . _ : /`` (OSS's object-tagging reference and its EC pages 0010-00000209,
-214, -217, -219).

"Letters" are Unicode letters, not only ``A-Za-z``: OSS stores Chinese tag keys and values given in the
``x-oss-tagging`` header of a copy and of a multipart upload (oss2's own integration tests, run against OSS,
assert it: aliyun/aliyun-oss-python-sdk tests/test_object.py ``test_copy_object_with_tagging`` and
tests/test_multipart.py ``test_multipart_with_object_tagging``), while ``%`` and ``@`` are refused (the same file's
``test_object_tagging_wrong_key`` / ``_wrong_value``). Digits are decimal digits of any script; lengths count
characters. Tags arrive either as a ``Tagging`` XML document (PutObjectTagging) or URL-encoded in the
``x-oss-tagging`` header (``k1=v1&k2=v2``; a bare ``k`` is a tag with an empty value).

OSS answers a broken rule with 400 ``InvalidTag`` and the EC naming the rule; a body that is not a ``Tagging``
document with a ``TagSet`` is 400 ``MalformedXML``.
"""

from __future__ import annotations

import unicodedata
import xml.etree.ElementTree as ET
from urllib.parse import unquote

from osscallback.local.oss import xmlresp
from osscallback.local.oss.xmlresp import OSSError

MAX_TAGS = 10
MAX_KEY_CHARS = 128
MAX_VALUE_CHARS = 256
#: The punctuation a tag may contain besides letters and digits.
PUNCTUATION = frozenset(" +-=._:/")


def allowed_char(ch: str) -> bool:
    """A Unicode letter (categories L*), a decimal digit (Nd), a space or one of ``+ - = . _ : /``."""
    if ch in PUNCTUATION:
        return True
    category = unicodedata.category(ch)
    return category.startswith("L") or category == "Nd"


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
        if not all(map(allowed_char, key)) or not all(map(allowed_char, value)):
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
