"""OSS's XML: error documents shaped like the real service's, the common errors, and the helpers every result
document is built with (each operation family renders its own results, in its module under ``api/``).

oss2 turns an error response into an exception by its HTTP status and ``<Code>`` (``oss2.exceptions``), and
parses results with ``oss2.xml_utils``: the element names and nesting here follow what those parsers read and
what OSS's API reference shows, so the unmodified SDK sees the local OSS as OSS.

Error shape (OSS API reference, "Troubleshoot signature errors")::

    <?xml version="1.0" encoding="UTF-8"?>
    <Error><Code/><Message/><RequestId/><HostId/>...extra elements...<EC/><RecommendDoc/></Error>
"""

from __future__ import annotations

import base64
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from urllib.parse import quote

from osscallback.errors import OssCallbackError

_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

Encoder = Callable[[str], str]


def identity(value: str) -> str:
    return value


class OSSError(OssCallbackError):
    """An error the local OSS answers with, as OSS would: HTTP status, code, message, EC and extra elements."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        ec: str = "",
        extra: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.ec = ec
        self.extra: dict[str, str] = dict(extra or {})
        self.headers: dict[str, str] = dict(headers or {})


def error_xml(err: OSSError, request_id: str, host_id: str) -> bytes:
    root = ET.Element("Error")
    text(root, "Code", err.code)
    text(root, "Message", err.message)
    text(root, "RequestId", request_id)
    text(root, "HostId", host_id)
    for name, value in err.extra.items():
        text(root, name, value)
    if err.ec:
        text(root, "EC", err.ec)
        text(root, "RecommendDoc", f"https://api.aliyun.com/troubleshoot?q={err.ec}")
    return to_bytes(root)


def error_header(body: bytes) -> str:
    """``x-oss-err``: OSS puts the error document, base64, in this header of HEAD answers (which have no body)."""
    return base64.b64encode(body).decode("ascii")


# --- common errors -----------------------------------------------------------------------------------------------


def no_such_bucket(bucket: str) -> OSSError:
    return OSSError(
        404, "NoSuchBucket", "The specified bucket does not exist.", ec="0015-00000101", extra={"BucketName": bucket}
    )


def no_such_key(key: str) -> OSSError:
    return OSSError(404, "NoSuchKey", "The specified key does not exist.", ec="0026-00000001", extra={"Key": key})


def no_such_upload(upload_id: str) -> OSSError:
    return OSSError(
        404,
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted "
        "or completed.",
        extra={"UploadId": upload_id},
    )


def access_denied(message: str, ec: str = "") -> OSSError:
    return OSSError(403, "AccessDenied", message, ec=ec)


def invalid_argument(message: str, name: str = "", value: str = "", ec: str = "") -> OSSError:
    extra = {"ArgumentName": name, "ArgumentValue": value} if name else {}
    return OSSError(400, "InvalidArgument", message, ec=ec, extra=extra)


def malformed_xml() -> OSSError:
    return OSSError(
        400,
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema.",
    )


def invalid_digest(value: str) -> OSSError:
    return OSSError(400, "InvalidDigest", "The Content-MD5 you specified was invalid.", extra={"Content-MD5": value})


def bad_digest(expected: str, calculated: str) -> OSSError:
    return OSSError(
        400,
        "InvalidDigest",
        "The Content-MD5 you specified did not match what we received.",
        extra={"ExpectedDigest": expected, "CalculatedDigest": calculated},
    )


def not_implemented(what: str) -> OSSError:
    return OSSError(501, "NotImplemented", f"{what} is not implemented by the local OSS.")


# --- result documents --------------------------------------------------------------------------------------------


def iso8601(ts: float) -> str:
    """OSS's timestamp format in XML: ``2012-02-24T08:42:32.000Z`` (always ``.000``: oss2's parser insists)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + ".000Z"


def http_date(ts: float) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(ts))


def url_encode(value: str) -> str:
    """What ``encoding-type=url`` does to keys and prefixes (oss2 undoes it with ``unquote``)."""
    return quote(value, safe="/")


# --- helpers -----------------------------------------------------------------------------------------------------


def encoder(url: bool) -> Encoder:
    """How keys and prefixes appear in an answer: URL-encoded under ``encoding-type=url``, else as they are."""
    return url_encode if url else identity


#: C0 control characters XML 1.0 forbids (all but tab, LF, CR), raw or as character references (``&#12;``).
_FORBIDDEN_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]|&#(?:x0*([0-9a-fA-F]{1,2})|0*([0-9]{1,2}));")
#: Where forbidden characters wait while expat parses: a private-use block no request uses (checked per request).
_STAND_IN = 0xF0000


def _stand_in(match: re.Match[str]) -> str:
    hex_ref, dec_ref = match.group(1), match.group(2)
    if hex_ref is None and dec_ref is None:
        code = ord(match.group(0))
    else:
        code = int(hex_ref, 16) if hex_ref is not None else int(dec_ref)
        if code >= 0x20 or code in (0x09, 0x0A, 0x0D):
            return match.group(0)  # a reference XML allows: expat resolves it
    return chr(_STAND_IN + code)


def _restore(root: ET.Element) -> None:
    table = {_STAND_IN + c: c for c in range(0x20)}
    for node in root.iter():
        if node.text:
            node.text = node.text.translate(table)
        if node.tail:
            node.tail = node.tail.translate(table)


def parse(raw: bytes, root_tag: str) -> ET.Element:
    """A request's XML document (size-capped by the caller); 400 ``MalformedXML`` unless its root is ``root_tag``.

    As lenient as OSS: a key may hold control characters XML 1.0 forbids, and OSS deletes such a key when
    oss2 sends it raw in DeleteMultipleObjects (oss2 does not escape it) or the v2 SDK sends it as ``&#12;``. Both
    forms are read here as the characters they stand for; anything else malformed is still MalformedXML. Every
    request document (DeleteMultipleObjects, CompleteMultipartUpload, Tagging, bucket configurations) is read here.
    """
    try:
        text_doc = raw.decode("utf-8-sig")  # OSS reads request XML as UTF-8
    except UnicodeDecodeError:
        raise malformed_xml() from None
    lenient = not any(_STAND_IN <= ord(c) < _STAND_IN + 0x20 for c in text_doc)
    if lenient:
        text_doc = _FORBIDDEN_CONTROL.sub(_stand_in, text_doc)
    try:
        root = ET.fromstring(text_doc)  # noqa: S314 - size-capped; expat >= 2.4 bounds entity expansion
    except ET.ParseError:
        raise malformed_xml() from None
    if root.tag != root_tag:
        raise malformed_xml()
    if lenient:
        _restore(root)
    return root


def to_bytes(root: ET.Element) -> bytes:
    return _DECLARATION + ET.tostring(root, encoding="utf-8", xml_declaration=False)


def text(parent: ET.Element, tag: str, value: str) -> ET.Element:
    node = ET.SubElement(parent, tag)
    node.text = value
    return node
