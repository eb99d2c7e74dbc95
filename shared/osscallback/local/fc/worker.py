"""One function instance: ``python -m osscallback.local.fc.worker``, started by the local FC host.

FC runs each function in its own instance with its own environment variables, and our functions read
``os.environ`` at import time, so each function gets its own process (env = the function's, cwd = its code
directory, code directory first on ``sys.path``) and imports its handler module once, as a cold start does.

Protocol with the host (private, loopback only):

- stdin: one JSON line (:class:`WorkerConfig`), then kept open. EOF means the host is gone (even if it was
  killed with SIGKILL): the worker exits at once, so a dead host never leaves instances behind.
- stdout: once serving, one line ``{"localfc_ready": {"port": N, "pid": P}}``; every other line is the
  function's log, which the host prints prefixed with the function name.
- HTTP on 127.0.0.1:N (waitress). Event functions: ``POST /invoke`` with the payload as body. FC 2.0 HTTP
  functions (WSGI): the original request with ``PATH_INFO`` already reduced to what follows
  ``/2016-08-15/proxy/<svc>/<fn>``. FC 3.0 functions (kind ``fc3``): invocations as for event functions, and
  requests to their function URL (marked ``X-Localfc-Trigger: http``) turned into FC 3.0's HTTP event and back
  (:mod:`.httpevent`).
  ``X-Localfc-*`` headers carry the request id, the raw URI the client sent, its address and the log type.

Each invocation logs ``FC Invoke Start RequestId: <id>`` / ``FC Invoke End RequestId: <id>``; log records get
the request id (``%(fc_request_id)s``) and everything the invocation writes to stdout/stderr or logs is also kept
so ``X-Fc-Log-Type: Tail`` can return its last 4 KB.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NoReturn, TextIO, cast

from osscallback.local.fc import httpevent, protocol
from osscallback.local.fc.context import FCContext
from osscallback.local.fc.protocol import READY_KEY, WorkerConfig
from osscallback.local.httpserver import WSGIServer

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("fc_request_id", default=None)
_request_log: contextvars.ContextVar[bytearray | None] = contextvars.ContextVar("fc_request_log", default=None)

StartResponse = Callable[..., Any]


# ------------------------------------------------------------------------------------------------ log capture
class _Tee:
    """Writes through to the real stream and also into the current invocation's log buffer (if any)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(text)
        if "\n" in text:
            self._stream.flush()
        buf = _request_log.get()
        if buf is not None:
            buf.extend(text.encode("utf-8", "replace"))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.fc_request_id = _request_id.get() or "-"
        return True


def _install_logging() -> None:
    sys.stdout = cast(TextIO, _Tee(sys.__stdout__ or sys.stdout))
    sys.stderr = cast(TextIO, _Tee(sys.__stderr__ or sys.stderr))
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter("%(asctime)s.%(msecs)03dZ %(fc_request_id)s [%(levelname)s] %(message)s",
                                  "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)


@contextlib.contextmanager
def invocation(request_id: str) -> Iterator[bytearray]:
    """Run one invocation's code inside: its output is tagged and kept in the yielded buffer."""
    buf = bytearray()
    rid_token = _request_id.set(request_id)
    log_token = _request_log.set(buf)
    print(f"FC Invoke Start RequestId: {request_id}", flush=True)
    try:
        yield buf
    finally:
        print(f"FC Invoke End RequestId: {request_id}", flush=True)
        _request_log.reset(log_token)
        _request_id.reset(rid_token)


# ------------------------------------------------------------------------------------------------ the function
#: Frames of the import machinery, which say nothing about the user's code.
_RUNTIME_FRAMES = ("<frozen ", os.path.dirname(importlib.__file__))


def _stack(exc: BaseException) -> list[list[str]]:
    """FC's ``stackTrace``: one ``[File "...", line N, in name, source]`` entry per frame of user code."""
    tb = exc.__traceback__
    frames = traceback.extract_tb(tb.tb_next if tb is not None and tb.tb_next is not None else tb)
    return [
        [f'File "{f.filename}"', f"line {f.lineno}", f"in {f.name}", f.line or ""]
        for f in frames
        if not f.filename.startswith(_RUNTIME_FRAMES)
    ]


class FunctionRuntime:
    """The imported handler plus the WSGI apps that call it the way FC does."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.handler: Callable[..., Any] | None = None
        self.import_error: bytes | None = None
        module_name, _, attr = config.handler.rpartition(".")
        try:
            if not module_name or not attr:
                raise ValueError(f"invalid handler {config.handler!r}: expected '<module>.<function>'")
            module = importlib.import_module(module_name)
            handler = getattr(module, attr, None)
            if not callable(handler):
                raise AttributeError(f"module '{module_name}' has no callable '{attr}'")
            self.handler = handler
        except Exception as exc:  # FC answers every invocation with the import error; so do we
            logging.getLogger("localfc").exception("Unable to import handler %s", config.handler)
            self.import_error = protocol.function_error(
                f"Unable to import module '{module_name}': {exc}", type(exc).__name__, _stack(exc)
            )

    # -- event functions
    def event_app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request_id = environ.get("HTTP_X_LOCALFC_REQUEST_ID") or str(uuid.uuid4())
        length = int(environ.get("CONTENT_LENGTH") or 0)
        payload = environ["wsgi.input"].read(length) if length else b""
        with invocation(request_id) as log:
            body, error_type = self._run_event(payload, self.config.context.for_request(request_id))
        headers = [("Content-Type", "application/octet-stream")]
        if error_type:
            headers.append((protocol.H_ERROR_TYPE, error_type))
        if environ.get("HTTP_X_LOCALFC_LOG_TYPE", "").lower() == "tail":
            headers.append((protocol.I_LOG_RESULT, protocol.log_tail(bytes(log))))
        start_response("200 OK", headers)
        return [body]

    def _run_event(self, payload: bytes, context: FCContext) -> tuple[bytes, str | None]:
        result, error = self._call_handler(payload, context)
        if error is not None:
            return error, protocol.UNHANDLED
        return _to_bytes(result), None

    def _call_handler(self, payload: bytes, context: FCContext) -> tuple[Any, bytes | None]:
        """``(returned value, None)``, or ``(None, FC's error document)`` when the handler failed."""
        if self.handler is None:
            return None, self.import_error or b""
        try:
            return self.handler(payload, context), None
        except SystemExit as exc:  # the process exits on FC too: the host reports it and starts a new one
            _exit_process(exc)
        except Exception as exc:
            logging.getLogger("localfc").exception("Function raised")
            return None, protocol.function_error(str(exc), type(exc).__name__, _stack(exc))

    # -- FC 3.0 functions: InvokeFunction, and the HTTP trigger's event
    def fc3_app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("HTTP_X_LOCALFC_TRIGGER", "").lower() != "http":
            return self.event_app(environ, start_response)
        request_id = environ.get("HTTP_X_LOCALFC_REQUEST_ID") or str(uuid.uuid4())
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        raw_uri = environ.get("HTTP_X_LOCALFC_REQUEST_URI") or "/"
        raw_path, _, raw_query = raw_uri.partition("?")
        headers = []
        for key, value in environ.items():
            if key.startswith("HTTP_") and not key.startswith("HTTP_X_LOCALFC_"):
                headers.append((key[5:].replace("_", "-"), _wsgi_text(str(value))))
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers.append((key.replace("_", "-"), str(environ[key])))
        event = httpevent.to_event(
            method=environ.get("REQUEST_METHOD", "GET"), raw_path=raw_path, raw_query=raw_query,
            headers=headers, body=body, source_ip=environ.get("HTTP_X_LOCALFC_REMOTE_ADDR", ""),
            request_id=request_id, account_id=self.config.context.account_id,
            domain=environ.get("HTTP_X_LOCALFC_DOMAIN", ""),
        )
        with invocation(request_id):
            status, out_headers, out_body = self._run_http_event(event, self.config.context.for_request(request_id))
        start_response(status, out_headers)
        return [out_body]

    def _run_http_event(self, event: dict[str, Any], context: FCContext) -> tuple[str, list[tuple[str, str]], bytes]:
        result, error = self._call_handler(json.dumps(event).encode("utf-8"), context)
        if error is not None:
            return "502 Bad Gateway", _error_headers(), error
        try:
            status, headers, body = httpevent.from_result(result)
        except (ValueError, TypeError) as exc:
            logging.getLogger("localfc").error("Invalid HTTP response from the function: %s", exc)
            body = protocol.function_error(f"the function's HTTP response is invalid: {exc}", "InvalidResponse")
            return "502 Bad Gateway", _error_headers(), body
        headers = [(k, v) for k, v in headers if k.lower() not in ("content-length", "transfer-encoding")]
        return f"{status} {_reason(status)}", headers, body

    # -- HTTP functions
    def http_app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request_id = environ.get("HTTP_X_LOCALFC_REQUEST_ID") or str(uuid.uuid4())
        log_tail = environ.get("HTTP_X_LOCALFC_LOG_TYPE", "").lower() == "tail"
        env = {k: v for k, v in environ.items() if not k.startswith("HTTP_X_LOCALFC_")}
        env["fc.context"] = self.config.context.for_request(request_id)
        env["fc.request_uri"] = environ.get("HTTP_X_LOCALFC_REQUEST_URI") or environ.get("REQUEST_URI", "/")
        if environ.get("HTTP_X_LOCALFC_REMOTE_ADDR"):
            env["REMOTE_ADDR"] = env["REMOTE_HOST"] = environ["HTTP_X_LOCALFC_REMOTE_ADDR"]
        env.pop("REQUEST_URI", None)  # waitress's raw URI of the hop from the host, not the client's
        with invocation(request_id) as log:
            status, headers, body = self._run_wsgi(env)
        if log_tail:
            headers.append((protocol.I_LOG_RESULT, protocol.log_tail(bytes(log))))
        start_response(status, headers)
        return [body]

    def _run_wsgi(self, env: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        if self.handler is None:
            return "502 Bad Gateway", _error_headers(), self.import_error or b""
        captured: dict[str, Any] = {}
        chunks: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
            if exc_info and captured:
                raise exc_info[1].with_traceback(exc_info[2])
            captured["status"], captured["headers"] = status, list(headers)
            return chunks.append

        try:
            result = self.handler(env, start_response)
            try:
                for chunk in result:
                    chunks.append(bytes(chunk))
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            if "status" not in captured:
                raise RuntimeError("the WSGI handler returned without calling start_response")
        except SystemExit as exc:
            _exit_process(exc)
        except Exception as exc:
            logging.getLogger("localfc").exception("Function raised")
            body = protocol.function_error(str(exc), type(exc).__name__, _stack(exc))
            return "502 Bad Gateway", _error_headers(), body
        headers = [(k, v) for k, v in captured["headers"] if k.lower() not in ("content-length", "transfer-encoding")]
        return str(captured["status"]), headers, b"".join(chunks)


def _wsgi_text(value: str) -> str:
    """WSGI header values are latin-1 decoded bytes; give back the UTF-8 text the client sent."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _error_headers() -> list[tuple[str, str]]:
    return [("Content-Type", "application/json"), (protocol.H_ERROR_TYPE, protocol.UNHANDLED)]


def _to_bytes(result: Any) -> bytes:
    """FC's Python runtime answers with the returned str/bytes; other JSON-able values are sent as JSON."""
    if result is None:
        return b""
    if isinstance(result, (bytes, bytearray, memoryview)):
        return bytes(result)
    if isinstance(result, str):
        return result.encode("utf-8")
    return json.dumps(result, ensure_ascii=False).encode("utf-8")


def _exit_process(exc: SystemExit) -> NoReturn:
    sys.stdout.flush()
    sys.stderr.flush()
    code = exc.code if isinstance(exc.code, int) else 1
    os._exit(code)


# ------------------------------------------------------------------------------------------------ main
def _watch_host(stdin_fd: int) -> None:
    """Exit as soon as the host's end of our stdin closes (host stopped us, or died)."""
    while True:
        try:
            data = os.read(stdin_fd, 4096)
        except OSError:
            data = b""
        if not data:
            os._exit(0)


def _read_config(stdin_fd: int) -> WorkerConfig:
    raw = bytearray()
    while not raw.endswith(b"\n"):
        chunk = os.read(stdin_fd, 1)
        if not chunk:
            raise SystemExit("localfc worker: no configuration on stdin")
        raw.extend(chunk)
    return WorkerConfig.from_json(raw.decode("utf-8"))


def _prefer_packaged_library(code_dir: str) -> None:
    """Let a package that ships its own ``osscallback/`` (what ``osscallback build`` makes) import that copy.

    The bootstrap (this module) came from the host's library; its ``osscallback`` modules are dropped from the
    import cache so the function's ``import osscallback...`` finds the packaged copy first on ``sys.path``, as on
    FC. The bootstrap keeps the modules it already holds.
    """
    if not os.path.isdir(os.path.join(code_dir, "osscallback")):
        return
    for name in [m for m in sys.modules if m == "osscallback" or m.startswith("osscallback.")]:
        del sys.modules[name]


def main() -> int:
    stdin_fd = os.dup(0)
    config = _read_config(stdin_fd)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # the function must not read (or hold) the host's pipe
    threading.Thread(target=_watch_host, args=(stdin_fd,), name="localfc-host-watch", daemon=True).start()

    _install_logging()
    os.chdir(config.code_dir)
    sys.path.insert(0, config.code_dir)
    _prefer_packaged_library(config.code_dir)
    runtime = FunctionRuntime(config)
    app = {"http": runtime.http_app, "fc3": runtime.fc3_app}.get(config.kind, runtime.event_app)
    server = WSGIServer(app, "127.0.0.1", 0, threads=config.threads)
    real_stdout = sys.__stdout__ or sys.stdout
    real_stdout.write(json.dumps({READY_KEY: {"port": server.port, "pid": os.getpid()}}) + "\n")
    real_stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
