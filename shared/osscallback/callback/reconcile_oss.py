"""Reconciliation wired to OSS: the bucket's listing, the settings, and the app the timer-triggered function runs.

``CALLBACK_RECONCILE=oss://<bucket>/<key prefix>[,<key prefix>...][?region=<region>&endpoint=<url>]`` names what to
reconcile: the bucket and the OSS triggers' key prefixes, comma-separated (the templates: ``examples/,uploads/``;
empty: the whole bucket). Each prefix is one listing with its own checkpoint, so they must not overlap (one inside
another would list its objects twice). As for the other ``oss://`` settings the region
defaults to ``FC_REGION`` and the endpoint to the region's internal one; the function lists with its own role's
temporary credentials (``oss:ListObjects`` on the bucket, the one right reconciliation adds). Beside it:
``CALLBACK_RECONCILE_SETTLE`` (seconds, default 600), ``CALLBACK_RECONCILE_MAX_ATTEMPTS`` (runs before a failing
upload becomes a dead letter, default 3), ``CALLBACK_RECONCILE_SINCE`` (ISO 8601 UTC or epoch seconds: the horizon;
default the first run), and ``CALLBACK_DEAD_LETTERS`` (where dead letters go; none: failures only retry).

``oss2`` is imported here; this module is imported by the reconcile function's entry point and the tools only.
"""

from __future__ import annotations

import calendar
import dataclasses
import json
import logging
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import oss2

from osscallback.callback.config import CallbackConfig
from osscallback.callback.confirm import ConfirmSpec
from osscallback.callback.core import CallbackApp
from osscallback.callback.deadletter import BoxSpec
from osscallback.callback.idempotency.delivered import ListedObject
from osscallback.callback.idempotency.oss_index import list_pages
from osscallback.callback.ossclient import OssClient
from osscallback.callback.reconcile import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_SETTLE,
    Options,
    Reconciler,
    Report,
    Summary,
    merge_reports,
)
from osscallback.errors import ConfigError, StoreUnavailable
from osscallback.osslocation import resolve_location

log = logging.getLogger("osscallback.reconcile")

VARIABLE = "CALLBACK_RECONCILE"
LIST_TIMEOUT = 10.0
#: Seconds kept back from the function's timeout to save the checkpoint and log the summary.
MARGIN = 10.0


def parse_since(text: str, variable: str = "CALLBACK_RECONCILE_SINCE") -> float:
    """``2026-12-07T08:00:00Z`` (UTC) or epoch seconds."""
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    try:
        return float(calendar.timegm(time.strptime(text.rstrip("Z"), "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        raise ConfigError(f"{variable}={text!r}: use 2026-12-07T08:00:00Z (UTC) or epoch seconds") from None


@dataclass(frozen=True)
class ReconcileSettings:
    bucket: str
    key_prefixes: tuple[str, ...]
    region: str
    endpoint: str
    settle: float = DEFAULT_SETTLE
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    since: float | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ReconcileSettings:
        text = (env.get("CALLBACK_RECONCILE") or "").strip()
        parts = urlsplit(text)
        if parts.scheme != "oss" or not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", parts.netloc):
            raise ConfigError(f"{VARIABLE}={text!r}: use oss://<bucket>/<key prefix>[,<key prefix>...] "
                              "(the OSS triggers' prefixes)")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = sorted(set(query) - {"region", "endpoint"})
        if unknown:
            raise ConfigError(f"{VARIABLE}={text!r}: unknown option(s) {', '.join(unknown)} (region, endpoint)")
        region, endpoint = resolve_location(VARIABLE, text, query, env)
        try:
            settle = float(env.get("CALLBACK_RECONCILE_SETTLE") or DEFAULT_SETTLE)
            attempts = int(env.get("CALLBACK_RECONCILE_MAX_ATTEMPTS") or DEFAULT_MAX_ATTEMPTS)
        except ValueError:
            raise ConfigError("CALLBACK_RECONCILE_SETTLE and _MAX_ATTEMPTS must be numbers") from None
        if settle < 0 or attempts < 1:
            raise ConfigError("CALLBACK_RECONCILE_SETTLE must be >= 0 and CALLBACK_RECONCILE_MAX_ATTEMPTS >= 1")
        since = env.get("CALLBACK_RECONCILE_SINCE") or ""
        return cls(parts.netloc, _prefixes(text, parts.path.lstrip("/")), region, endpoint, settle, attempts,
                   parse_since(since) if since.strip() else None)


def _prefixes(text: str, path: str) -> tuple[str, ...]:
    """The comma-separated key prefixes: none empty beside another, none twice, none inside another."""
    prefixes = tuple(path.split(","))
    for i, one in enumerate(prefixes):
        for other in prefixes[i + 1:]:
            if one.startswith(other) or other.startswith(one):
                raise ConfigError(f"{VARIABLE}={text!r}: key prefixes {one!r} and {other!r} overlap (each is listed "
                                  "on its own: give disjoint prefixes, or one that covers both)")
    return prefixes


class OssLister:
    """The bucket's objects, a page (one ListObjectsV2 request) at a time."""

    def __init__(self, bucket: oss2.Bucket) -> None:
        self.bucket = bucket
        self.requests = 0

    def pages(self, prefix: str, start_after: str = "") -> Iterator[list[ListedObject]]:
        pages = list_pages(self.bucket, prefix, start_after)
        while True:
            try:
                page = next(pages, None)
            except oss2.exceptions.OssError as exc:
                raise StoreUnavailable(f"listing oss://{self.bucket.bucket_name}/{prefix} failed: "
                                       f"{exc.status} {getattr(exc, 'code', '')}".strip()) from None
            if page is None:
                return
            self.requests += 1
            yield [ListedObject(o.key, o.etag, float(o.last_modified), int(o.size or 0)) for o in page]


class ReconcileApp:
    """The function's app: settings read at cold start, one :class:`Reconciler` per invocation's options."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.settings = ReconcileSettings.from_env(env)
        config = CallbackConfig.from_env(env)
        self.app = CallbackApp(dataclasses.replace(config, confirm=ConfirmSpec()))  # only callbacks are confirmed
        self.client = OssClient(env)
        settings = self.settings
        self.lister_bucket = self.client.bucket(settings.endpoint, settings.bucket, settings.region, LIST_TIMEOUT)
        self.letters: Any = None
        if env.get("CALLBACK_DEAD_LETTERS"):
            from osscallback.callback.deadletter_oss import OssLetterBox

            self.letters = OssLetterBox(BoxSpec.parse(env["CALLBACK_DEAD_LETTERS"], env), env)

    def handle(self, payload: Any, context: Any = None) -> dict[str, Any]:
        credentials = getattr(context, "credentials", None)
        if credentials is not None:
            self.client.observe_credentials(credentials)
            self.app.idempotency.layer.observe_credentials(credentials)
            if self.letters is not None:
                self.letters.observe_credentials(credentials)
        settings = self.settings
        options = Options.from_payload(payload, settle=settings.settle)
        if options.budget is None:
            timeout = getattr(getattr(context, "function", None), "timeout", None)
            if timeout:
                options = Options(options.prefix, options.since, options.settle, options.dry_run,
                                  max(1.0, float(timeout) - MARGIN))
        reports: list[Report] = []
        started = time.monotonic()
        for i, key_prefix in enumerate(settings.key_prefixes):  # one listing and one checkpoint per prefix, in turn
            budget = options.budget
            if budget is not None and i:  # the first prefix gets the whole budget (0: stop after one object)
                budget -= time.monotonic() - started
                if budget <= 0:  # the budget is spent: this prefix waits for the next run (complete: false)
                    reports.append(Report(Summary(dry_run=options.dry_run)))
                    continue
            reconciler = Reconciler(self.app, bucket=settings.bucket, key_prefix=key_prefix,
                                    lister=OssLister(self.lister_bucket), letters=self.letters,
                                    max_attempts=settings.max_attempts, since=settings.since,
                                    function_arn=str(getattr(getattr(context, "function", None), "name", "") or ""))
            reports.append(reconciler.run(dataclasses.replace(options, budget=budget),
                                          invocation_id=str(getattr(context, "request_id", "") or ""),
                                          context=context))
        return merge_reports(reports).to_dict()


class BrokenReconcileApp:
    """Stands in for :class:`ReconcileApp` when the configuration is wrong: every run fails with the reason (logged
    once at start-up too), instead of an import error that hides it."""

    def __init__(self, error: ConfigError) -> None:
        self.error = error

    def handle(self, payload: Any, context: Any = None) -> dict[str, Any]:
        log.error(json.dumps({"error": "ConfigurationError", "message": str(self.error)}))
        raise self.error


def load_reconcile_app(env: Mapping[str, str]) -> ReconcileApp | BrokenReconcileApp:
    """Build the function's app at cold start; a configuration error is logged loudly once."""
    try:
        return ReconcileApp(env)
    except ConfigError as exc:
        log.error(json.dumps({"error": "ConfigurationError", "message": str(exc)}))
        return BrokenReconcileApp(exc)


def make_reconcile_handler(app: ReconcileApp | BrokenReconcileApp) -> Any:
    """An FC event handler (FC 2.0 and 3.0 alike): a timer event or the CLI's options in, the run's report out."""

    def handler(event: Any, context: Any = None) -> str:
        return json.dumps(app.handle(event, context), ensure_ascii=False)

    return handler


__all__ = ["BrokenReconcileApp", "OssLister", "ReconcileApp", "ReconcileSettings", "load_reconcile_app",
           "make_reconcile_handler", "parse_since"]
