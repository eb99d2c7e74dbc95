"""A real multi-threaded WSGI server (waitress) that can be started and stopped from Python.

Used by ``osscallback serve``, the local FC host, the tests and the benchmarks, so all of them exercise the
functions through the same production-grade HTTP stack. waitress is pure Python, so it runs wherever the library
does; it has no public "stop" for a server run in a thread, hence the small shutdown routine below (the approach
webtest's StopableWSGIServer takes).
"""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from waitress.server import create_server

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class CannotListen(OSError):
    """``host:port`` could not be bound. ``str()`` is one line with the fix when the port is taken; ``what`` (the
    server) and ``option`` (the flag that sets its port) are filled in by whoever knows them, so the line can say
    "the inspector ... --inspector-port" instead of a bare ``[Errno 98] Address already in use``."""

    def __init__(self, host: str, port: int, cause: OSError, what: str = "", option: str = "") -> None:
        super().__init__(cause.errno, cause.strerror or str(cause))
        self.host, self.port, self.what, self.option = host, port, what, option

    def __str__(self) -> str:
        text = f"{self.what + ' ' if self.what else ''}cannot listen on {self.host}:{self.port}: "
        text += (self.strerror or "cannot bind").lower()
        if self.errno == errno.EADDRINUSE:
            text += f"; choose another port{' with ' + self.option if self.option else ''}, or 0 for any free one"
        return text


class WSGIServer:
    """Serve ``app`` on ``host:port`` (0 = any free port) in a background thread.

    ``with WSGIServer(app) as server: server.url`` — the server accepts connections once the block starts and
    every socket and worker thread is released when it ends.
    """

    def __init__(
        self,
        app: WSGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        threads: int = 16,
        connection_limit: int = 1000,
        channel_timeout: int = 60,
        **adjustments: Any,
    ) -> None:
        try:
            self._server: Any = create_server(
                app,
                host=host,
                port=port,
                threads=threads,
                connection_limit=connection_limit,
                channel_timeout=channel_timeout,
                clear_untrusted_proxy_headers=True,
                ident="osscallback",
                **adjustments,
            )
        except OSError as exc:  # waitress says "Address already in use" without saying which address
            raise CannotListen(host, port, exc) from None
        self.host = host
        self.port = int(self._server.effective_port)
        self._thread: threading.Thread | None = None
        self._stopped = False

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> WSGIServer:
        self._thread = threading.Thread(target=self._run, name=f"wsgi-{self.port}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._server.run()
        except (OSError, ValueError):
            if not self._stopped:
                raise

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`stop` is called from elsewhere (or Ctrl-C)."""
        self._run()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        server = self._server
        logging.getLogger("waitress").setLevel(logging.CRITICAL)  # asyncore noise while closing sockets
        for channel in list(server._map.values()):
            try:
                channel.handle_close()
            except (OSError, ValueError):
                pass
        try:
            server.task_dispatcher.shutdown(timeout=5)
        except (OSError, RuntimeError):
            pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> WSGIServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
