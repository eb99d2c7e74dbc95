"""``osscallback cors ORIGIN...``: let browser pages on those origins upload to the bucket (PutBucketCors, with oss2).

A page that posts straight to OSS can only read OSS's answer (the callback's JSON, or the error) when the bucket's
CORS rules allow the page's origin (docs/DEPLOY.md, "The upload page"). This adds one rule for the given origins:
PostObject, PUT, GET, DELETE (to abort) and HEAD, any request header, ``ETag`` and ``x-oss-request-id`` exposed (a
browser's multipart upload must read each part's ETag). PutBucketCors replaces a bucket's whole configuration, so the
existing rules are read first and kept; a rule for exactly the same origins is replaced rather than duplicated.
``--show`` prints the rules, ``--remove`` deletes them all (DeleteBucketCors). Endpoint, bucket and credentials come
from the variables ``osscallback upload`` reads (``OSS_ENDPOINT``, ``OSS_BUCKET``, ``OSS_ACCESS_KEY_ID``,
``OSS_ACCESS_KEY_SECRET`` [, ``OSS_SESSION_TOKEN``, ``OSS_REGION``, ``OSS_AUTH_VERSION``]); the user needs
``oss:PutBucketCors`` on the bucket.
"""

from __future__ import annotations

import argparse
import json
from typing import Any
from urllib.parse import urlsplit

from osscallback.errors import ConfigError

# DELETE: a page aborts a failed multipart upload (ali-oss's README, "Browser Usage": "allowed methods to 'PUT, GET,
# POST, DELETE, HEAD'", "expose 'ETag'")
METHODS = ["POST", "PUT", "GET", "DELETE", "HEAD"]
EXPOSE = ["ETag", "x-oss-request-id"]
MAX_RULES = 10  # OSS's limit per bucket (PutBucketCors reference)


def register(sub: Any) -> None:
    p = sub.add_parser("cors", help="allow browser pages on ORIGIN(s) to upload to the bucket (PutBucketCors)",
                       description="Add a CORS rule to the bucket for browser pages on ORIGIN (scheme://host[:port]), "
                       "keeping its other rules. Settings come from OSS_ENDPOINT, OSS_BUCKET, OSS_ACCESS_KEY_ID, "
                       "OSS_ACCESS_KEY_SECRET [, OSS_SESSION_TOKEN, OSS_REGION, OSS_AUTH_VERSION].")
    p.add_argument("origins", nargs="*", metavar="ORIGIN", help="e.g. https://upload.example.com ('*': any origin)")
    p.add_argument("--max-age", type=int, default=600, help="seconds a browser may cache a preflight (default 600)")
    p.add_argument("--show", action="store_true", help="only print the bucket's rules")
    p.add_argument("--remove", action="store_true", help="delete all the bucket's CORS rules")
    p.add_argument("--json", action="store_true", help="print the bucket's rules as JSON afterwards")
    p.set_defaults(func=run)


def _checked(origins: list[str]) -> list[str]:
    out = []
    for origin in origins:
        parts = urlsplit(origin.rstrip("/"))
        if origin != "*" and not (parts.scheme in ("http", "https") and parts.netloc and not parts.path):
            raise ConfigError(f"{origin!r} is not an origin: give scheme://host[:port] (no path), or '*'")
        out.append(origin if origin == "*" else origin.rstrip("/"))
    return out


def _rules(bucket: Any) -> list[Any]:
    from oss2.exceptions import NoSuchCors

    try:
        return list(bucket.get_bucket_cors().rules)
    except NoSuchCors:
        return []


def _describe(rule: Any) -> dict[str, Any]:
    return {"origins": rule.allowed_origins, "methods": rule.allowed_methods, "headers": rule.allowed_headers,
            "expose": rule.expose_headers, "max_age": rule.max_age_seconds}


def run(args: argparse.Namespace) -> int:
    from oss2.exceptions import OssError
    from oss2.models import BucketCors, CorsRule

    from osscallback.cli.osserrors import OssSettings, explain
    from osscallback.upload.uploader import UploadEvent, UploadSettings, make_bucket

    if args.show + args.remove + bool(args.origins) != 1:
        raise ConfigError("give ORIGIN(s), or --show, or --remove")
    origins = _checked(args.origins)
    settings = UploadSettings.resolve(UploadEvent(action="put"))
    try:
        bucket = make_bucket(settings)  # oss2 refuses a malformed bucket name here
        if args.remove:
            bucket.delete_bucket_cors()
            summary = f"bucket {bucket.bucket_name}: CORS rules removed"
        elif origins:
            kept = [r for r in _rules(bucket) if sorted(r.allowed_origins) != sorted(origins)]
            if len(kept) >= MAX_RULES:
                raise ConfigError(f"bucket {bucket.bucket_name} already has {len(kept)} CORS rules, OSS's maximum")
            rule = CorsRule(allowed_origins=origins, allowed_methods=METHODS, allowed_headers=["*"],
                            expose_headers=EXPOSE, max_age_seconds=args.max_age)
            bucket.put_bucket_cors(BucketCors([*kept, rule]))
            summary = f"bucket {bucket.bucket_name}: pages on {', '.join(origins)} may upload (rule {len(kept) + 1})"
        rules = [_describe(r) for r in _rules(bucket)]
    except OssError as exc:
        used = OssSettings(settings.endpoint, settings.bucket, settings.credentials.access_key_id)
        raise ConfigError(explain(exc, used)) from None
    if args.json:
        print(json.dumps({"bucket": bucket.bucket_name, "rules": rules}))
    elif args.show:
        print("\n".join(json.dumps(r) for r in rules) or f"bucket {bucket.bucket_name}: no CORS rules")
    else:
        print(summary)
    return 0
