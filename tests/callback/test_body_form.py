"""``body.parse_form`` is ``urllib.parse.parse_qsl`` with the body parser's settings, results and errors alike,
and the rewritten record builder gives the same records (and the same first error) as the straightforward one."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osscallback.callback.body import MAX_FORM_FIELDS, CallbackBody, ImageInfo, parse_body, parse_form
from osscallback.errors import CallbackRejected

# Pieces a form body is made of, including every way one can be malformed.
_pieces = st.sampled_from(["a", "=", "&", "+", "%", "%2", "%20", "%41", "%e4%b8%ad", "%E4%B8", "%ff", "%zz", "x:",
                           "中", "😀", " ", "\x00", "==", "&&", "imageInfo.height", "size", "bucket"])
# Never empty: parse_body refuses an empty body before splitting it, and parse_qsl("") itself differs between
# Pythons (3.10 raises, 3.11 returns []).
form_texts = st.lists(_pieces | st.text(max_size=5), min_size=1, max_size=25).map("".join).filter(bool)


def _reference(text: str) -> tuple[str, Any]:
    try:
        return "ok", parse_qsl(text, keep_blank_values=True, strict_parsing=True, encoding="utf-8", errors="strict",
                               max_num_fields=MAX_FORM_FIELDS)
    except (ValueError, UnicodeDecodeError) as exc:
        return "error", type(exc).__name__


def _ours(text: str) -> tuple[str, Any]:
    try:
        return "ok", parse_form(text)
    except (ValueError, UnicodeDecodeError) as exc:
        return "error", type(exc).__name__


@settings(max_examples=3000, deadline=None)
@given(text=form_texts)
def test_parse_form_equals_parse_qsl(text: str) -> None:
    assert _ours(text) == _reference(text)


@pytest.mark.parametrize("text", ["a", "a=", "=", "a=1&", "&a=1", "a=1&&b=2", "a==b", "a=%", "a=%zz", "%ff=1",
                                  "a+b=c+d", "a=%2B%26%3D", "&" * (MAX_FORM_FIELDS - 1), "a=1&" * MAX_FORM_FIELDS,
                                  "x=1&" * (MAX_FORM_FIELDS - 1) + "x=1"])
def test_parse_form_edge_cases(text: str) -> None:
    assert _ours(text) == _reference(text)


# -- the record builder ----------------------------------------------------------------------------------------------
def _text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        raise CallbackRejected(400, "InvalidCallbackBody", f"The field {name!r} must be a string.")
    text = str(value)
    return text if text != "" else None


def _int(value: Any, name: str) -> int | None:
    bad = CallbackRejected(400, "InvalidCallbackBody", f"The field {name!r} must be a non-negative integer.")
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise CallbackRejected(400, "InvalidCallbackBody", f"The field {name!r} must be an integer.")
    if isinstance(value, int):
        result = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) <= 20:
        result = int(value.strip())
    else:
        raise bad
    if result < 0:
        raise bad
    return result


_ALIASES = {"bucket": "bucket", "object": "object", "etag": "etag", "size": "size", "mimeType": "mime_type",
            "mime_type": "mime_type", "crc64": "crc64", "contentMd5": "content_md5", "content_md5": "content_md5",
            "clientIp": "client_ip", "client_ip": "client_ip", "reqId": "req_id", "req_id": "req_id",
            "operation": "operation", "vpcId": "vpc_id", "vpc_id": "vpc_id"}


def reference_build(items: list[tuple[str, Any]], content_type: str) -> CallbackBody:
    """The record builder as it was written before the hot-path work: field by field, in declaration order."""
    values: dict[str, Any] = {}
    image: dict[str, Any] = {}
    custom: dict[str, str] = {}
    extra: dict[str, Any] = {}
    for key, value in items:
        if key in _ALIASES:
            values[_ALIASES[key]] = value
        elif key.startswith("imageInfo.") and key[len("imageInfo."):] in ("height", "width", "format"):
            image[key[len("imageInfo."):]] = value
        elif key in ("imageInfo", "image_info") and isinstance(value, dict):
            for sub, subvalue in value.items():
                if sub in ("height", "width", "format"):
                    image[sub] = subvalue
        elif key.startswith("x:"):
            text = _text(value, key)
            custom[key] = "" if text is None else text
        else:
            extra[key] = value
    info = ImageInfo(height=_int(image.get("height"), "imageInfo.height"),
                     width=_int(image.get("width"), "imageInfo.width"),
                     format=_text(image.get("format"), "imageInfo.format"))
    return CallbackBody(
        bucket=_text(values.get("bucket"), "bucket"), object=_text(values.get("object"), "object"),
        etag=_text(values.get("etag"), "etag"), size=_int(values.get("size"), "size"),
        mime_type=_text(values.get("mime_type"), "mimeType"), image_info=info,
        crc64=_text(values.get("crc64"), "crc64"), content_md5=_text(values.get("content_md5"), "contentMd5"),
        client_ip=_text(values.get("client_ip"), "clientIp"), req_id=_text(values.get("req_id"), "reqId"),
        operation=_text(values.get("operation"), "operation"), vpc_id=_text(values.get("vpc_id"), "vpcId"),
        custom_vars=custom, extra=extra, content_type=content_type)


_keys = st.sampled_from(list(_ALIASES) + ["imageInfo.height", "imageInfo.width", "imageInfo.format", "imageInfo",
                                          "image_info", "x:a", "x:b", "other", "imageInfo.depth"]) | st.text(max_size=4)
_values = st.none() | st.booleans() | st.integers(-5, 10**21) | st.floats(allow_nan=False, allow_infinity=False) \
    | st.sampled_from(["", " 12 ", "12", "²", "-1", "abc", "1" * 21]) | st.text(max_size=4) \
    | st.dictionaries(st.sampled_from(["height", "width", "format", "x"]), st.integers(-2, 5) | st.text(max_size=2),
                      max_size=3) | st.lists(st.integers(), max_size=2)


def _outcome(body: bytes, content_type: str, build: Any = None) -> tuple[str, Any]:
    try:
        if build is not None:
            import osscallback.callback.body as body_module

            original = body_module._build
            body_module._build = build
            try:
                return "ok", parse_body(body, content_type)
            finally:
                body_module._build = original
        return "ok", parse_body(body, content_type)
    except CallbackRejected as exc:
        return "error", (exc.status, exc.code, exc.message)


@settings(max_examples=2000, deadline=None)
@given(items=st.lists(st.tuples(_keys, _values), max_size=8))
def test_json_records_equal_the_reference_builder(items: list[tuple[str, Any]]) -> None:
    body = json.dumps(dict(items)).encode()
    assert _outcome(body, "application/json") == _outcome(body, "application/json", reference_build)


@settings(max_examples=1000, deadline=None)
@given(items=st.lists(st.tuples(_keys, st.text(max_size=6) | st.sampled_from(["", "12", "²", "-1"])), max_size=8))
def test_form_records_equal_the_reference_builder(items: list[tuple[str, str]]) -> None:
    body = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in items).encode() or b"a="
    assert _outcome(body, "application/x-www-form-urlencoded") == _outcome(
        body, "application/x-www-form-urlencoded", reference_build)
