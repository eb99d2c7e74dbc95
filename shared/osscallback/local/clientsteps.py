"""What an uploader's client does with a presigned PUT URL or a PostObject form: used by the local stack to
finish those flows for real (and by anyone scripting them), with nothing but the standard library.

Both are single HTTP requests; ``http.client`` is used rather than a library that follows redirects, since an
upload answered by a redirect is a failure to report, not to chase.
"""

from __future__ import annotations

import http.client
import json
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

Answer = tuple[int, bytes, dict[str, str]]


def _send(url: str, method: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Answer:
    parts = urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname or "", parts.port, timeout=timeout)
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.request(method, target, body=body, headers=dict(headers))
        resp = conn.getresponse()
        return resp.status, resp.read(), {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


def put_presigned(url: str, content: bytes, headers: Mapping[str, str] | None = None, *, timeout: float = 30) -> Answer:
    """PUT ``content`` to a presigned URL (its headers must match those it was signed with)."""
    return _send(url, "PUT", content, {"Content-Length": str(len(content)), **(headers or {})}, timeout)


def multipart_form(fields: Mapping[str, str], filename: str, content: bytes) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body with ``fields`` first and the ``file`` part last, as PostObject requires."""
    boundary = f"----osscallback{uuid.uuid4().hex}"
    chunks: list[bytes] = []
    for name, value in fields.items():
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    chunks.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
    )
    chunks.append(content)
    chunks.append(f"\r\n--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def post_form(host: str, fields: Mapping[str, str], filename: str, content: bytes, *, timeout: float = 30) -> Answer:
    """POST a browser-style PostObject form to ``host`` (the bucket URL)."""
    body, content_type = multipart_form(fields, filename, content)
    url = host if host.endswith("/") else host + "/"
    return _send(url, "POST", body, {"Content-Type": content_type, "Content-Length": str(len(body))}, timeout)


def complete_client_step(result: dict[str, Any]) -> dict[str, Any]:
    """Do what the uploader's client would: PUT to the presigned URL, or POST the browser form."""
    content = f"uploaded by osscallback local ({result['action']}) {uuid.uuid4().hex}\n".encode()
    if result["action"] == "presign_put":
        status, body, headers = put_presigned(result["url"], content, result.get("headers") or {})
        key = result.get("key")
    else:
        key = f"{result.get('dir') or ''}browser-upload.txt"
        status, body, headers = post_form(result["host"], {"key": key, **result["fields"]}, "file.txt", content)
    merged = {**result, "key": key, "client_status": status, "request_id": headers.get("x-oss-request-id"),
              "etag": (headers.get("etag") or "").strip('"') or None, "crc64": headers.get("x-oss-hash-crc64ecma")}
    if status == 200:
        try:
            merged.update(callback_status="ok", callback=json.loads(body) if body else None)
        except ValueError:
            merged.update(callback_status="ok", callback=body.decode("utf-8", "replace"))
    elif status == 203:
        merged.update(callback_status="failed", callback_error={"message": body.decode("utf-8", "replace")[:500]})
    else:
        merged.update(ok=False, error=f"HTTP{status}", message=body.decode("utf-8", "replace")[:500])
    return merged
