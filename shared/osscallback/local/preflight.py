"""The local stack's start-up checks: a bad setting is refused at once, with its cause, before anything serves.

Without them a wrong ``--store`` showed as twenty seconds of tracebacks ending in OSS's ``Error status : 503``, a
``--store memory`` beside an OSS-trigger function only in the backstop's stderr, an event file with a typo as
``0/0 succeeded``, and a malformed event once every server was up. Each check raises
:class:`~osscallback.local.stack.LocalStackError`-compatible :class:`PreflightError` with one line.

- :func:`read_events`: the event files to run (the ``<function>-<name>.json`` rule explained when a name matches no
  event function; an events directory with none is an error), each parsed as a JSON object (line and column on error:
  :func:`read_event`, which ``osscallback invoke`` uses too);
- :func:`refuse_memory_beside_triggers`: ``memory`` is one process's store, and an OSS-trigger function runs in
  another, so each upload's action would run twice (the backstop refuses it anyway);
- :func:`local_store_url`: ``oss://<a bucket of the local OSS>/…`` without an endpoint means the local OSS, not the
  region's internal endpoint nothing local can reach;
- :func:`check_store_reachable`: the store answers within :data:`STORE_TIMEOUT` seconds (Redis: a PING; OSS: a TCP
  connection to its endpoint).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from osscallback.callback.idempotency.base import redact_url
from osscallback.errors import OssCallbackError

if TYPE_CHECKING:
    from osscallback.local.fc.spec import FunctionSpec

#: Seconds the idempotency store may take to answer at start-up.
STORE_TIMEOUT = 2.0
EVENT_RULE = "event files are named <function>-<name>.json, e.g. upload-put.json for the upload function"


class PreflightError(OssCallbackError):
    """A setting of the local stack that cannot work (one readable line)."""


def function_of(event_path: Path, functions: Iterable[str] = ()) -> str:
    """``events/upload-put.json`` → ``upload``: the naming convention of ``events/``.

    With the template's event ``functions``, the longest one the name starts with (``oss-events-put.json`` →
    ``oss-events``: function names have hyphens too); without, or when none matches, the part before the first
    hyphen.
    """
    stem = event_path.stem
    known = [f for f in functions if stem.startswith(f + "-")]
    return max(known, key=len) if known else stem.split("-", 1)[0]


def event_functions(specs: Iterable[FunctionSpec]) -> list[str]:
    """The names event files may start with: the template's functions invoked with events (not HTTP)."""
    return sorted({s.module or s.name for s in specs if not s.is_http})


@dataclass(frozen=True)
class EventFile:
    """An event file to run, already read and parsed (so a malformed one fails before any server starts)."""

    path: Path
    function: str
    payload: bytes


def read_event(path: Path) -> bytes:
    """An event file's bytes, once they parse as JSON (else one line: the line and column of the mistake)."""
    if not path.is_file():
        raise PreflightError(f"no such event file: {path}")
    try:
        payload = path.read_bytes()
    except OSError as exc:
        raise PreflightError(f"cannot read event file {path}: {exc.strerror or exc}") from None
    try:
        event = json.loads(payload)
    except UnicodeDecodeError as exc:
        raise PreflightError(f"{path}: not UTF-8 JSON ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise PreflightError(f"{path}: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(event, dict):
        # every event FC hands these functions is an object (OSS trigger, timer, HTTP event, destination record,
        # the upload function's request): anything else is refused here, not after a stack started
        raise PreflightError(f"{path}: the event must be a JSON object {{...}}, not {type(event).__name__}")
    return payload


def _parse(path: Path, names: Sequence[str]) -> EventFile:
    return EventFile(path, function_of(path, names), read_event(path))


def read_events(
    files: Sequence[Path], events_dir: Path, functions: Iterable[str]
) -> tuple[list[EventFile], list[Path]]:
    """The events to run and the files of ``events_dir`` skipped because their name names no event function.

    ``files`` (``--event``) win over ``events_dir``; a file there that names no function is an error.
    """
    names = sorted(set(functions))
    known = ", ".join(names) or "none"
    if files:
        for path in files:
            if not path.is_file():
                raise PreflightError(f"no such event file: {path}")
            if function_of(path, names) not in names:
                raise PreflightError(f"{path.name}: {EVENT_RULE}, and {function_of(path)!r} is not one of this "
                                     f"template's event functions ({known})")
        return [_parse(p, names) for p in files], []
    if not events_dir.is_dir():
        raise PreflightError(f"no such events directory: {events_dir}")
    every = sorted(events_dir.glob("*.json"))
    chosen = [p for p in every if function_of(p, names) in names]
    if not chosen:
        raise PreflightError(f"no events in {events_dir}: {EVENT_RULE} (this template's event functions: {known})")
    return [_parse(p, names) for p in chosen], [p for p in every if p not in chosen]


def refuse_memory_beside_triggers(store: str | None, triggered: Sequence[str]) -> None:
    """``--store memory`` with an OSS-trigger function: refused, saying what it would break."""
    if (store or "").strip() != "memory" or not triggered:
        return
    raise PreflightError(
        f"--store memory: {', '.join(triggered)} runs on OSS events in a process of its own, which cannot see the "
        "callback function's memory, so each upload's action would run twice (the OSS-event function refuses "
        "memory); leave --store out (oss:// markers in the local OSS) or give a redis:// URL"
    )


def local_store_url(store: str, local_buckets: Iterable[str], endpoint: str, region: str) -> str:
    """``oss://<a local bucket>/…`` with no ``endpoint=`` → the same URL with the local OSS's endpoint (and the
    region when none is given); any other URL unchanged."""
    parts = urlsplit(store.strip())
    if parts.scheme != "oss" or parts.netloc not in set(local_buckets):
        return store
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if query.get("endpoint"):
        return store
    query = {"region": region, **query, "endpoint": endpoint}
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _probe(store: str) -> None:
    """Raise OSError (or the client's error) unless the store answers."""
    from osscallback.callback.idempotency.factory import StoreSpec

    spec = StoreSpec.parse(store, {"FC_REGION": "cn-hangzhou"})
    if spec.kind == "redis":
        try:
            import redis
        except ImportError as exc:
            raise PreflightError(f"--store is a Redis URL but the redis client is not installed ({exc})") from None
        client = redis.Redis.from_url(spec.url, socket_connect_timeout=STORE_TIMEOUT, socket_timeout=STORE_TIMEOUT)
        try:
            client.ping()
        finally:
            client.close()
    elif spec.kind == "oss":
        parts = urlsplit(spec.endpoint)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        with socket.create_connection((parts.hostname or "", port), timeout=STORE_TIMEOUT):
            pass


def check_store_reachable(store: str | None) -> None:
    """Refuse a ``--store`` that does not answer within :data:`STORE_TIMEOUT` seconds (name resolution included)."""
    if not store or store.strip() == "memory":
        return
    failure: list[BaseException] = []

    def probe() -> None:
        try:
            _probe(store)
        except Exception as exc:  # noqa: BLE001 - any client error: reported below as one line
            failure.append(exc)

    worker = threading.Thread(target=probe, name="store-probe", daemon=True)
    worker.start()
    worker.join(STORE_TIMEOUT + 1.0)
    if worker.is_alive():
        why = f"no answer within {STORE_TIMEOUT:g} s"
    elif failure:
        exc = failure[0]
        if isinstance(exc, PreflightError):
            raise exc
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    else:
        return
    raise PreflightError(f"--store {redact_url(store)}: the idempotency store does not answer ({why})")
