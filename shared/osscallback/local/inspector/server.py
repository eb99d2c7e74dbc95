"""``Inspector``: the callback history and its web page, served on 127.0.0.1 by waitress in a thread.

The history fills through :meth:`Inspector.observe`, the local OSS's callback observer; :meth:`Inspector.attach`
hands it the local OSS's sender so the page can replay and re-send. Both are separate from starting the server
because the local OSS needs the observer before it starts, and the inspector needs the sender after.
"""

from __future__ import annotations

from types import TracebackType

from osscallback.errors import ConfigError
from osscallback.local.fc.host import LocalFCHost
from osscallback.local.fc.model.asyncinvoke import AsyncInvocation
from osscallback.local.httpserver import CannotListen, WSGIServer
from osscallback.local.inspector.app import InspectorApp
from osscallback.local.inspector.deadletters import DeadLetterSource
from osscallback.local.inspector.history import DEFAULT_LIMIT, CallbackHistory
from osscallback.local.inspector.reconciled import delivery_of
from osscallback.local.oss.callbacks import CallbackRecord, CallbackSender


class Inspector:
    """The inspector web page on ``host:port`` (0 = any free port). Use as a context manager or start/stop."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, limit: int = DEFAULT_LIMIT) -> None:
        self.host = host
        self.port = port
        self.history = CallbackHistory(limit)
        self.app = InspectorApp(self.history, self._hosts)
        self._server: WSGIServer | None = None

    def observe(self, record: CallbackRecord) -> None:
        """The local OSS's callback observer: remember every callback it sent."""
        self.history.add(record)

    def observe_invocation(self, invocation: AsyncInvocation) -> None:
        """The local FC host's asynchronous-invocation observer: remember the OSS-trigger deliveries among them."""
        if invocation.source.startswith("oss:"):
            self.history.add_event(invocation)

    def observe_log(self, function: str, line: str) -> None:
        """A function's log line (the stack's log sink): each upload reconciliation delivered becomes a row
        ``via reconcile``, from the timer's runs and ``osscallback reconcile``'s alike (:mod:`.reconciled`)."""
        row = delivery_of(function, line)
        if row is not None:
            self.history.add_event(row)

    def watch_fc(self, host: LocalFCHost) -> None:
        """Observe ``host``'s asynchronous invocations, after whatever observer it already has."""
        previous = host.async_observer
        if previous is None:
            host.async_observer = self.observe_invocation
            return

        def both(invocation: AsyncInvocation) -> None:
            previous(invocation)
            self.observe_invocation(invocation)

        host.async_observer = both

    def watch_dead_letters(self, source: DeadLetterSource | None) -> None:
        """List ``source``'s dead letters on the page, with a Redeliver button (the local stack's)."""
        self.app.dead_letters = source

    def attach(self, sender: CallbackSender | None) -> None:
        """Let the page replay and re-send through the local OSS's sender (signed with its key)."""
        self.app.sender = sender

    def _hosts(self) -> tuple[str, ...]:
        port = self.port
        names = {self.host, "127.0.0.1", "localhost"} if self.host in ("127.0.0.1", "localhost") else {self.host}
        return tuple(f"{name}:{port}" for name in names)

    @property
    def url(self) -> str:
        if self._server is None:
            raise ConfigError("the inspector is not running")
        return self._server.url + "/"

    def start(self) -> Inspector:
        if self._server is not None:
            return self
        try:
            server = WSGIServer(self.app, host=self.host, port=self.port, threads=4)
        except CannotListen as exc:
            exc.what = "the inspector"
            raise
        self.port = server.port
        self._server = server.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def __enter__(self) -> Inspector:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
