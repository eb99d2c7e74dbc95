"""Strategies, request builders and invariant checks shared by the fuzz and attack tests of the
callback function (tests/callback, marked ``fuzz`` / ``attack``).

The invariants are the issue's, checked the same way whatever the transport (core, WSGI environ, FC 3.0 event,
real HTTP):

1. never a 5xx other than the documented ``502 PubKeyFetchFailed``;
2. every answer is JSON with ``Content-Type: application/json`` and an exact ``Content-Length``; every error is
   ``{"error": <str>, "message": <str>}``;
3. a callback is accepted (200) only if the bytes it would be verified over -- ``unquote(path)[?query]\\n`` +
   body -- are exactly bytes the key holder signed;
4. the body is never read further than the cap (plus the one byte that tells "more was there").
"""

from __future__ import annotations

import base64
import io
import json
import os
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote, unquote

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from osscallback.callback.core import CallbackApp, CallbackRequest, CallbackResponse, normalize_headers
from osscallback.callback.signature import sign, string_to_sign
from osscallback.testing import KeyServer

# --- budgets (see tests/README.md for the environment variables) ----------------------------------------------------

LONG = os.environ.get("OSSCB_LONG", "").strip() not in ("", "0", "false", "no")

settings.register_profile(
    "osscb-ci",
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.register_profile("osscb-long", parent=settings.get_profile("osscb-ci"))

PROFILE = os.environ.get("OSSCB_FUZZ_PROFILE", "").strip() or ("osscb-long" if LONG else "osscb-ci")
_DEFAULT_SCALE = {"osscb-ci": 1.0, "osscb-long": 25.0}
SCALE = float(os.environ.get("OSSCB_FUZZ_SCALE", "").strip() or _DEFAULT_SCALE.get(PROFILE, 1.0))


def fuzz(examples: int) -> settings:
    """Hypothesis settings for a property test worth ``examples`` examples in CI (scaled for long runs)."""
    return settings(settings.get_profile(PROFILE), max_examples=max(1, int(examples * SCALE)))


def build_app(key_server: KeyServer, **env: str) -> CallbackApp:
    """A CallbackApp from env-style settings, trusting only ``key_server``'s prefix."""
    settings_env = {"CALLBACK_KEY_URL_PREFIXES": key_server.prefix}
    settings_env.update(env)
    return CallbackApp.from_env(settings_env)


#: Statuses the function may answer with, by docs/FUNCTIONS.md's table (500s only for actions/templates, not used here).
ALLOWED = {200, 400, 403, 405, 413, 415}

NASTY_CHARS = ["\x00", "\r", "\n", "\t", " ", "%", "%2", "%zz", "%2F", "%2e", "?", "#", "&", "=", "+", ";", "\\", "@",
               "..", "中", "😀", "\u2028", "\ufeff", "\x7f", "\xff", "é"]

_PRINTABLE_ASCII = "".join(chr(i) for i in range(0x21, 0x7F))

# --- strategies ---------------------------------------------------------------------------------------------------

_segment = st.lists(
    st.one_of(st.sampled_from(NASTY_CHARS), st.text(string.ascii_letters + string.digits + "-._~", max_size=6),
              st.text(max_size=3)),
    max_size=5,
).map("".join)

#: Raw request paths as a transport hands them over (percent-encoded or not, valid escapes or not).
paths = st.lists(_segment, min_size=1, max_size=5).map(lambda segs: "/" + "/".join(segs))
#: Paths that are valid on an HTTP request line: ASCII printable, no space/'?'/'#'.
wire_paths = st.lists(
    st.text(alphabet=string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@%/", max_size=12), min_size=1,
    max_size=4,
).map(lambda segs: "/" + "/".join(segs))

#: Query strings kept to latin-1 (what WSGI's QUERY_STRING can hold); see the xfail test for wider ones.
queries = st.one_of(
    st.just(""),
    st.text(alphabet=string.ascii_letters + string.digits + "-._~%&=+;/:,!$'()*@?", max_size=40),
    st.text(alphabet=st.characters(max_codepoint=0xFF, exclude_characters="#"), max_size=20),
)
wire_queries = st.text(alphabet=string.ascii_letters + string.digits + "-._~%&=+;/:,!$'()*@?", max_size=40)



def isdigit_trap(text: str) -> bool:
    """Strings ``str.isdigit()`` accepts but ``int()`` refuses (``"²"``, ``"1①"``): a bug class the fuzz found
    (fixed; test_known_bugs.py keeps it fixed). Kept for tests that want to generate such strings."""
    stripped = text.strip()
    return stripped.isdigit() and not stripped.isdecimal()


_safe_text = st.text(max_size=30)
_json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
)
_json_values = st.recursive(
    _json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner,
                                                                                         max_size=4)),
    max_leaves=20,
)
_system_keys = st.sampled_from(
    ["bucket", "object", "etag", "size", "mimeType", "mime_type", "imageInfo.height", "imageInfo.width",
     "imageInfo.format", "imageInfo", "crc64", "contentMd5", "clientIp", "reqId", "operation", "vpcId", "x:my_var",
     "x:Upper", "x:", "other"]
)
_form_values = st.one_of(_safe_text, st.integers(min_value=0, max_value=10**25).map(str),
                         st.sampled_from(["", "-1", "1.5", "١٢", " 7", "0x10", "9" * 21]))


def _form(pairs: list[tuple[str, str]]) -> bytes:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs).encode("utf-8")


form_bodies = st.lists(st.tuples(st.one_of(_system_keys, st.text(max_size=8)), _form_values), max_size=12).map(_form)
json_bodies = st.one_of(
    st.dictionaries(st.one_of(_system_keys, st.text(max_size=8)), _json_values, max_size=10).map(
        lambda d: json.dumps(d, ensure_ascii=False).encode("utf-8")
    ),
    _json_values.map(lambda v: json.dumps(v).encode("utf-8")),
)


def _nested(depth: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


#: Nesting depths short of and far past Python's recursion limit. The band in between (~450..1000) is a known
#: bug pinned in test_known_bugs.py (parsed fine, then 500 when the record is copied).
nested_depths = st.one_of(st.integers(min_value=1, max_value=200), st.integers(min_value=2_000, max_value=200_000))
nested_bodies = st.builds(_nested, nested_depths, st.sampled_from(["list", "dict"]))
bodies = st.one_of(
    form_bodies,
    json_bodies,
    st.binary(max_size=300),
    st.binary(max_size=40).map(lambda b: b"bucket=b&object=" + b + b"\xff\xfe"),  # invalid UTF-8
    nested_bodies,
    st.integers(min_value=0, max_value=70_000).map(lambda n: b"bucket=b&object=" + b"o" * n),  # around the 64 KiB cap
    st.sampled_from([b"", b"{", b'{"size": 1e999}', b'{"size": NaN}', b'{"a": "\\ud800"}', b"a=1&&b", b"=", b"&",
                     b'{"bucket": 10' + b"0" * 5000 + b"}"]),
)
content_types = st.one_of(
    st.sampled_from(["application/x-www-form-urlencoded", "application/json", "application/json; charset=utf-8",
                     "APPLICATION/JSON", "", "text/plain", "multipart/form-data; boundary=x", ";",
                     "application/json;"]),
    st.text(max_size=30),
)
methods = st.one_of(st.sampled_from(["POST", "post", "GET", "PUT", "HEAD", "OPTIONS", "DELETE", ""]),
                    st.text(max_size=8))
#: Content-Length values over ASCII: numbers near and far from the cap, negative, spaced, hex, junk.
ascii_lengths = st.one_of(
    st.integers(min_value=0, max_value=200_000).map(str),
    st.sampled_from(["", "-1", "+5", " 5", "5 ", "0x10", "1e3", "1_0", "00000000000000000000000000000001",
                     "9" * 40, "abc"]),
    st.text(alphabet=string.printable, max_size=12),
)
header_text = st.one_of(st.text(max_size=40), st.text(alphabet=string.printable, max_size=80))

# --- requests -----------------------------------------------------------------------------------------------------


@dataclass
class Signed:
    """A callback as the key holder (OSS) signed it, and what an attacker then turned it into."""

    method: str
    path: str
    query: str
    body: bytes
    headers: list[tuple[str, str]]
    signed_bytes: frozenset[bytes] = field(default_factory=frozenset)
    truncated: bool = False

    def core_request(self) -> CallbackRequest:
        return CallbackRequest(
            method=self.method,
            targets=((self.path, self.query),),
            headers=normalize_headers(self.headers),
            body=self.body,
            body_truncated=self.truncated,
        )

    def header(self, name: str) -> str | None:
        return normalize_headers(self.headers).get(name.lower())

    def set_header(self, name: str, value: str | None) -> Signed:
        kept = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        if value is not None:
            kept.append((name, value))
        return replace(self, headers=kept)


def make_signed(private_key: Any, key_url: str, path: str, query: str, body: bytes, content_type: str) -> Signed:
    data = string_to_sign(path, query, body)
    headers = [
        ("Authorization", base64.b64encode(sign(private_key, data)).decode("ascii")),
        ("x-oss-pub-key-url", base64.b64encode(key_url.encode("ascii")).decode("ascii")),
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
    ]
    return Signed("POST", path, query, body, headers, frozenset({data}))


def signed_requests(private_key: Any, key_url: str, path_st: Any = paths, query_st: Any = queries) -> Any:
    return st.builds(
        lambda p, q, b, ct: make_signed(private_key, key_url, p, q, b, ct), path_st, query_st, bodies, content_types
    )


MUTATIONS = ["method", "body_flip", "body_truncate", "body_append", "body_replace", "path", "query", "auth",
             "auth_drop", "keyurl", "keyurl_drop", "content_length", "truncated", "noise", "dup_auth", "header_case"]


def mutate(data: st.DataObject, req: Signed, urls: Any, *, other_sig: bytes | None = None) -> Signed:
    """Apply 0..4 attacker mutations to a signed request (drawn from ``data`` so hypothesis can shrink them)."""
    for kind in data.draw(st.lists(st.sampled_from(MUTATIONS), max_size=4), label="mutations"):
        if kind == "method":
            req = replace(req, method=data.draw(methods))
        elif kind == "body_flip" and req.body:
            i = data.draw(st.integers(0, len(req.body) - 1))
            bit = data.draw(st.integers(0, 7))
            req = replace(req, body=req.body[:i] + bytes([req.body[i] ^ (1 << bit)]) + req.body[i + 1 :])
        elif kind == "body_truncate":
            req = replace(req, body=req.body[: data.draw(st.integers(0, max(0, len(req.body))))])
        elif kind == "body_append":
            req = replace(req, body=req.body + data.draw(st.binary(min_size=1, max_size=20)))
        elif kind == "body_replace":
            req = replace(req, body=data.draw(bodies))
        elif kind == "path":
            req = replace(req, path=data.draw(paths))
        elif kind == "query":
            req = replace(req, query=data.draw(queries))
        elif kind == "auth":
            value = data.draw(st.one_of(header_text,
                                        st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode()),
                                        st.just(base64.b64encode(other_sig or b"x").decode())))
            req = req.set_header("Authorization", value)
        elif kind == "auth_drop":
            req = req.set_header("Authorization", None)
        elif kind == "keyurl":
            url = data.draw(urls)
            value = data.draw(st.one_of(st.just(base64.b64encode(url.encode("utf-8", "surrogatepass")).decode()),
                                        header_text))
            req = req.set_header("x-oss-pub-key-url", value)
        elif kind == "keyurl_drop":
            req = req.set_header("x-oss-pub-key-url", None)
        elif kind == "content_length":
            req = req.set_header("Content-Length", data.draw(ascii_lengths))
        elif kind == "truncated":
            req = replace(req, truncated=True)
        elif kind == "noise":
            name = data.draw(st.one_of(st.text(alphabet=string.ascii_letters + "-_", min_size=1, max_size=12),
                                       st.sampled_from(["X-Oss-Pub-Key-Url", "AUTHORIZATION", "content-type"])))
            req = replace(req, headers=[*req.headers, (name, data.draw(header_text))])
        elif kind == "dup_auth":
            # A second Authorization after the real one: the first wins, the second must change nothing.
            req = replace(req, headers=[*req.headers, ("Authorization", data.draw(header_text))])
        elif kind == "header_case":
            req = replace(req, headers=[(k.upper() if data.draw(st.booleans()) else k.lower(), v)
                                        for k, v in req.headers])
    return req


# --- invariants ---------------------------------------------------------------------------------------------------


def _strict_json(raw: bytes) -> Any:
    def no_constants(name: str) -> Any:
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(raw, parse_constant=no_constants)


def check_answer(status: int, headers: list[tuple[str, str]] | dict[str, str], body: bytes) -> Any:
    """Invariants 1 and 2 for one answer; returns the decoded JSON document."""
    hdrs = {k.lower(): v for k, v in (headers.items() if isinstance(headers, dict) else headers)}
    doc = _strict_json(body)
    assert hdrs.get("content-type") == "application/json", hdrs
    assert hdrs.get("content-length") == str(len(body)), hdrs
    assert isinstance(doc, dict), doc
    if status == 502:
        assert doc.get("error") == "PubKeyFetchFailed", doc
    else:
        assert status in ALLOWED, (status, doc)
    if status != 200:
        assert set(doc) == {"error", "message"}, doc
        assert isinstance(doc["error"], str) and isinstance(doc["message"], str), doc
    else:
        assert doc.get("Status") == "OK", doc
    return doc


def check_response(response: CallbackResponse) -> Any:
    return check_answer(response.status, response.all_headers(), response.body)


def check_accepted_only_if_signed(status: int, req: Signed, path: str | None = None, query: str | None = None) -> None:
    """Invariant 3: a 200 means the verified bytes are exactly bytes the key holder signed."""
    if status == 200:
        verified = string_to_sign(req.path if path is None else path, req.query if query is None else query, req.body)
        assert verified in req.signed_bytes, "accepted a callback whose path+query+body were not signed"
        assert req.method.upper() == "POST"


# --- WSGI plumbing ------------------------------------------------------------------------------------------------


class CountingStream(io.RawIOBase):
    """A ``wsgi.input`` that records how many bytes the application pulled from it."""

    def __init__(self, data: bytes) -> None:
        self._buf = io.BytesIO(data)
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        chunk = self._buf.read(-1 if size is None else size)
        self.bytes_read += len(chunk)
        return chunk

    def readline(self, size: int | None = -1) -> bytes:
        chunk = self._buf.readline(-1 if size is None else size)
        self.bytes_read += len(chunk)
        return chunk


def wsgi_call(handler: Any, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"], captured["headers"] = status, headers
        return lambda data: None

    body = b"".join(handler(environ, start_response))
    return int(captured["status"].split(" ", 1)[0]), captured["headers"], body


def to_environ(req: Signed, stream: CountingStream, how: str) -> dict[str, Any]:
    """A WSGI environ as a server (or FC 2.0) would build it for ``req``; ``how`` picks where the raw URI is."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": req.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote(req.path, encoding="latin-1"),
        "QUERY_STRING": req.query,
        "wsgi.input": stream,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "9000",
        "wsgi.url_scheme": "http",
    }
    # A raw request URI is ASCII on the wire (OSS percent-encodes callback URLs): quote whatever is not printable
    # ASCII. That keeps the signed bytes (unquote of %XX is the UTF-8 the raw character stood for).
    uri = quote(req.path + (f"?{req.query}" if req.query else ""), safe=_PRINTABLE_ASCII)
    if how == "fc":
        environ["fc.request_uri"] = uri
    elif how == "raw":
        environ["RAW_URI"] = uri
    for name, value in req.headers:
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ.setdefault(key, value)
        else:
            environ.setdefault("HTTP_" + key, value)
    return environ


def concurrently(n: int, func: Callable[[int], Any], *, timeout: float = 120) -> list[Any]:
    """Run ``func(0..n-1)`` on ``n`` threads released together by a barrier; an exception is returned in place of
    its result, for the caller to assert on."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = func(i)
        except BaseException as exc:  # recorded for the caller to assert on
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    return results
