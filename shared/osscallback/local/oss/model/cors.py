"""A bucket's CORS rules: what PutBucketCors accepts, how a request is matched against them, and where they are kept.

Why real parsing (not a stored document): the local OSS enforces the rules as OSS does, so a page that works here
works against OSS and a page OSS would block is blocked here too.

OSS's rules (sources, cited where each is used):

* PutBucketCors (https://www.alibabacloud.com/help/en/oss/developer-reference/putbucketcors, and its Chinese page
  https://help.aliyun.com/document_detail/32001.html): a ``CORSConfiguration`` of at most 10 ``CORSRule`` elements
  and an optional ``ResponseVary``; the document is at most 16 KB; each rule needs at least one ``AllowedOrigin``
  and one ``AllowedMethod`` (GET, PUT, DELETE, POST, HEAD); an ``AllowedOrigin`` or ``AllowedHeader`` holds at
  most one ``*``; ``ExposeHeader`` allows no ``*`` (EC 0034-00000013,
  https://help.aliyun.com/en/oss/user-guide/0034-00000013); a configuration without a rule is refused
  (EC 0034-00000002, https://help.aliyun.com/en/oss/user-guide/0034-00000002). A negative ``MaxAgeSeconds`` is
  400 ``InvalidArgument`` naming ``MaxAgeSeconds`` (oss2's integration test against OSS,
  aliyun/aliyun-oss-python-sdk tests/test_bucket.py ``test_invalid_argument``). The references name the limits
  but not every error code: the codes below for the other limits are ``InvalidArgument`` (a value out of range)
  and ``MalformedXML`` (a missing or misplaced element), as OSS answers other configurations.
* Matching (same page, "CORS rule matching"): the rules are tried in order and the first one whose
  ``AllowedOrigin`` matches the ``Origin``, whose ``AllowedMethod`` holds the method (the request's own, or a
  preflight's ``Access-Control-Request-Method``) and whose ``AllowedHeader`` values match every header named in
  ``Access-Control-Request-Headers`` wins; headers compare case-insensitively (CORS configuration guide,
  https://www.alibabacloud.com/help/doc-detail/44199.htm: "The header is not case-sensitive").
* ``ResponseVary`` true: every answer of the bucket carries ``Vary: Origin``, cross-origin or not, allowed or not
  (the v2 SDK's ``CORSConfiguration.response_vary``, from OSS's API metadata; Alibaba's Terraform provider's
  ``alicloud_oss_bucket_cors.response_vary``, https://help.aliyun.com/document_detail/2779957.html, says the same).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from osscallback.local.oss import xmlresp
from osscallback.local.oss.model.files import read_json, write_json_atomic
from osscallback.local.oss.model.store import Store
from osscallback.local.oss.xmlresp import OSSError, invalid_argument, malformed_xml, text

log = logging.getLogger("osscallback.local.oss.cors")

MAX_RULES = 10
MAX_DOCUMENT = 16 * 1024
METHODS = ("GET", "PUT", "DELETE", "POST", "HEAD")
#: Characters ExposeHeader may not hold (EC 0034-00000013: "* < > & ' \"").
_EXPOSE_FORBIDDEN = frozenset("*<>&'\"")


@dataclass(frozen=True)
class CorsRule:
    allowed_origins: tuple[str, ...]
    allowed_methods: tuple[str, ...]
    allowed_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_seconds: int | None = None

    def allows(self, origin: str, method: str, headers: tuple[str, ...] = ()) -> bool:
        """Whether this rule lets ``origin`` use ``method`` sending ``headers`` (already lower-case)."""
        if method not in self.allowed_methods:
            return False
        if not any(wildcard_match(pattern, origin) for pattern in self.allowed_origins):
            return False
        allowed = [h.lower() for h in self.allowed_headers]
        return all(any(wildcard_match(pattern, h) for pattern in allowed) for h in headers)

    def allow_origin_value(self, origin: str) -> str:
        """``Access-Control-Allow-Origin``: ``*`` when the rule allows every origin, else the request's origin."""
        return "*" if "*" in self.allowed_origins else origin


@dataclass(frozen=True)
class CorsConfig:
    rules: tuple[CorsRule, ...]
    response_vary: bool = False

    def first_match(self, origin: str, method: str, headers: tuple[str, ...] = ()) -> CorsRule | None:
        return next((rule for rule in self.rules if rule.allows(origin, method, headers)), None)

    # --- wire: the XML OSS returns (oss2 and the v2 SDK parse it) ---------------------------------------------------

    def to_xml(self) -> bytes:
        root = ET.Element("CORSConfiguration")
        for rule in self.rules:
            node = ET.SubElement(root, "CORSRule")
            for tag, values in (
                ("AllowedOrigin", rule.allowed_origins),
                ("AllowedMethod", rule.allowed_methods),
                ("AllowedHeader", rule.allowed_headers),
                ("ExposeHeader", rule.expose_headers),
            ):
                for value in values:
                    text(node, tag, value)
            if rule.max_age_seconds is not None:
                text(node, "MaxAgeSeconds", str(rule.max_age_seconds))
        text(root, "ResponseVary", "true" if self.response_vary else "false")
        return xmlresp.to_bytes(root)

    # --- disk -------------------------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "rules": [
                {
                    "allowed_origins": list(r.allowed_origins),
                    "allowed_methods": list(r.allowed_methods),
                    "allowed_headers": list(r.allowed_headers),
                    "expose_headers": list(r.expose_headers),
                    "max_age_seconds": r.max_age_seconds,
                }
                for r in self.rules
            ],
            "response_vary": self.response_vary,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> CorsConfig:
        rules = tuple(
            CorsRule(
                allowed_origins=tuple(r["allowed_origins"]),
                allowed_methods=tuple(r["allowed_methods"]),
                allowed_headers=tuple(r.get("allowed_headers", ())),
                expose_headers=tuple(r.get("expose_headers", ())),
                max_age_seconds=r.get("max_age_seconds"),
            )
            for r in doc["rules"]
        )
        return cls(rules, bool(doc.get("response_vary", False)))


def wildcard_match(pattern: str, value: str) -> bool:
    """``pattern`` with at most one ``*`` (any run of characters, also none) against ``value``."""
    if "*" not in pattern:
        return pattern == value
    head, _, tail = pattern.partition("*")
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


def split_header_list(value: str) -> tuple[str, ...]:
    """``Access-Control-Request-Headers: X-Oss-Meta-A, content-type`` → ``("x-oss-meta-a", "content-type")``."""
    return tuple(h.strip().lower() for h in value.split(",") if h.strip())


# --- PutBucketCors's document ----------------------------------------------------------------------------------------


def _one_star(values: list[str], name: str) -> None:
    for value in values:
        if value.count("*") > 1:
            raise invalid_argument(f"{name} can contain at most one * wildcard.", name, value)


def _max_age(node: ET.Element) -> int | None:
    ages = node.findall("MaxAgeSeconds")
    if not ages:
        return None
    if len(ages) > 1:
        raise malformed_xml()
    raw = (ages[0].text or "").strip()
    try:
        age = int(raw)
    except ValueError:
        raise invalid_argument("MaxAgeSeconds must be an integer.", "MaxAgeSeconds", raw) from None
    if age < 0:
        raise invalid_argument("MaxAgeSeconds must not be negative.", "MaxAgeSeconds", raw)
    return age


def _rule(node: ET.Element) -> CorsRule:
    def values(tag: str) -> list[str]:
        return [(child.text or "").strip() for child in node.findall(tag)]

    origins, methods = values("AllowedOrigin"), values("AllowedMethod")
    headers, expose = values("AllowedHeader"), values("ExposeHeader")
    if not origins or not methods or any(not v for v in (*origins, *methods)):
        raise malformed_xml()  # both are required in every rule
    for method in methods:
        if method not in METHODS:
            raise invalid_argument(f"Unsupported CORS method: {method}.", "AllowedMethod", method)
    _one_star(origins, "AllowedOrigin")
    _one_star(headers, "AllowedHeader")
    for header in expose:
        if _EXPOSE_FORBIDDEN.intersection(header):
            raise invalid_argument("ExposeHeader is invalid.", "ExposeHeader", header, ec="0034-00000013")
    return CorsRule(
        tuple(origins), tuple(methods), tuple(h for h in headers if h), tuple(h for h in expose if h), _max_age(node)
    )


def parse_config(raw: bytes) -> CorsConfig:
    """PutBucketCors's body → :class:`CorsConfig`; OSS's 400s for what it refuses."""
    if len(raw) > MAX_DOCUMENT:
        raise invalid_argument(f"The CORS configuration must not exceed {MAX_DOCUMENT} bytes.")
    root = xmlresp.parse(raw, "CORSConfiguration")
    nodes = root.findall("CORSRule")
    if not nodes:
        err = malformed_xml()
        err.ec = "0034-00000002"  # the configuration holds no CORSRule
        raise err
    if len(nodes) > MAX_RULES:
        raise invalid_argument(f"A bucket can have at most {MAX_RULES} CORS rules.", "CORSRule", str(len(nodes)))
    vary = (root.findtext("ResponseVary") or "false").strip().lower()
    if vary not in ("true", "false"):
        raise malformed_xml()
    return CorsConfig(tuple(_rule(node) for node in nodes), vary == "true")


# --- where a bucket's rules live ---------------------------------------------------------------------------------


@dataclass
class CorsTable:
    """Each bucket's rules in ``<bucket dir>/cors.json`` (written atomically), cached: every answer of a bucket asks.

    The cache is keyed by the bucket's creation time, so a bucket deleted and created again starts without CORS, as
    on OSS (DeleteBucket removes the bucket's directory, the file with it).
    """

    store: Store
    _cache: dict[str, tuple[float, CorsConfig | None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _path(self, bucket: str) -> Path:
        return self.store.buckets_dir / bucket / "cors.json"

    def get(self, bucket: str) -> CorsConfig | None:
        created = self.store.bucket_created(bucket)
        if not created:
            return None
        with self._lock:
            hit = self._cache.get(bucket)
            if hit is not None and hit[0] == created:
                return hit[1]
            config: CorsConfig | None = None
            try:
                config = CorsConfig.from_json(read_json(self._path(bucket)))
            except FileNotFoundError:
                pass
            except (OSError, ValueError, TypeError, KeyError):
                log.warning("ignoring the unreadable CORS rules of bucket %s", bucket)
            self._cache[bucket] = (created, config)
            return config

    def put(self, bucket: str, config: CorsConfig) -> None:
        created = self.store.bucket_created(bucket)
        with self._lock:
            try:
                write_json_atomic(self._path(bucket), config.to_json())
            except FileNotFoundError:  # the bucket was deleted meanwhile
                raise xmlresp.no_such_bucket(bucket) from None
            self._cache[bucket] = (created, config)

    def delete(self, bucket: str) -> None:
        created = self.store.bucket_created(bucket)
        with self._lock:
            with contextlib.suppress(FileNotFoundError):
                self._path(bucket).unlink()
            self._cache[bucket] = (created, None)


def access_forbidden() -> OSSError:
    """A preflight no rule allows, or on a bucket without CORS. OSS's message, typos included ("evalution",
    "Requet"), as OSS sends it: ossutil's cors-options reference shows it verbatim
    (https://www.alibabacloud.com/help/en/oss/developer-reference/cors-options), and OSS's error-code list gives
    the same text for AccessForbidden."""
    return OSSError(
        403,
        "AccessForbidden",
        "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request "
        "method / Access-Control-Request-Method or Access-Control-Requet-Headers are not whitelisted by the "
        "resource's CORS spec.",
    )
