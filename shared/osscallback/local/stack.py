"""The whole bundle on one machine: the local OSS server plus every function of a template, wired together.

This is what ``osscallback local`` runs. The local OSS plays OSS (signed callbacks, its own public key), the
local FC host runs the functions from the same ``template.yml`` Serverless Devs deploys, and the wiring is what a
deployment would configure:

- the upload and policy functions get the local OSS endpoint, bucket and temporary STS credentials (as FC gives a
  service role's), and ``CALLBACK_URL`` = the callback function's URL on the local host;
- the callback function also trusts the local OSS's public-key URL prefix (a local override it logs loudly);
- the bucket allows (CORS) the upload page's origin (the policy function's, not the local OSS's) and ``cors_origins``.

Both templates run: ``template.yml`` (FC 3.0, the default: function URLs and FC 3.0's HTTP event) and
``template.fc2.yml`` (FC 2.0: HTTP functions behind proxy URLs), events through each one's InvokeFunction. Either
way the host also serves the FC 3.0 control plane, with code read from the local OSS and a temporary code bucket
(:data:`TEMP_CODE_BUCKET`) for ``s deploy``.

:meth:`LocalStack.run_event` runs ``events/<function>-<name>.json``, playing the client for ``presign_put`` and
``post_policy``. Delivery is as deployed: one shared idempotency store (the ``oss://`` store on the local OSS, or
``store=``), ``instances`` workers per HTTP function, each upload's ``ObjectCreated`` event to the OSS-event
backstop through asynchronous invocation with FC's retries. An event succeeds when its object is stored and the
action ran exactly once for it, as the functions' logs tell (:mod:`osscallback.local.deliveries`).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from osscallback.callback.actions import upload_key
from osscallback.callback.idempotency.base import redact_url
from osscallback.deploy.templates import check_not_renamed
from osscallback.errors import OssCallbackError
from osscallback.local import preflight, wiring
from osscallback.local.clientsteps import complete_client_step
from osscallback.local.deliveries import Deliveries, Run
from osscallback.local.faults import EventDrops
from osscallback.local.preflight import function_of
from osscallback.local.project import project_root
from osscallback.logconfig import quiet_client_libraries

if TYPE_CHECKING:
    from osscallback.local.fc import LocalFCHost
    from osscallback.local.fc.spec import FunctionSpec
    from osscallback.local.inspector import Inspector
    from osscallback.local.oss import LocalOSS
    from osscallback.local.sts import LocalSTS

DEFAULT_BUCKET = "examplebucket"
#: Lifetime of the functions' temporary (STS) credentials. FC hands each invocation fresh role credentials; the local
#: host gives its workers one set at start-up, so that set must outlive any stack a developer leaves running (with
#: STS's usual hour, uploads from a stack started the day before failed with an expired token).
ROLE_CREDENTIALS_TTL = 30 * 24 * 3600.0
DEFAULT_REGION = "cn-hangzhou"
#: Where GetTempBucketToken tells Serverless Devs' fc3 to upload code zips: FC's bucket, old enough for fc3's V1.
TEMP_CODE_BUCKET = "fc-temp-code"
#: Where the local stack's ``oss://`` idempotency store keeps its markers: the templates' prefix.
LOCAL_MARKER_PREFIX = ".osscallback/idempotency/"
#: Seconds between an object's creation and its OSS event's delivery (OSS notifies asynchronously).
OSS_EVENT_DELAY = 0.5

LogSink = Callable[[str, str], None]  # (function name, log line), as the local FC host calls it


class LocalStackError(OssCallbackError):
    """The local stack could not start or an event could not be run."""


def default_template() -> Path:
    """The repository's ``template.yml`` (FC 3.0): the default of ``--template`` (a clear error when installed)."""
    return project_root() / "template.yml"


def default_events() -> Path:
    """The repository's ``events/``: the default of ``--events`` (a clear error when installed)."""
    return project_root() / "events"


def __getattr__(name: str) -> Path:
    """``DEFAULT_TEMPLATE`` / ``DEFAULT_EVENTS`` / ``PROJECT_ROOT``, the module constants these functions
    replaced, resolved on access so that importing this module works without a repository."""
    resolvers = {"DEFAULT_TEMPLATE": default_template, "DEFAULT_EVENTS": default_events, "PROJECT_ROOT": project_root}
    if name in resolvers:
        return resolvers[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class StackInfo:
    """Where everything listens: printed by ``osscallback local --json`` as one line once ready."""

    oss_endpoint: str
    bucket: str
    access_key_id: str
    access_key_secret: str
    public_key_url: str
    fc_endpoint: str
    callback_url: str
    service: str
    functions: list[str]
    region: str
    fc_access_key_id: str
    fc_access_key_secret: str
    fc_security_token: str
    inspector_url: str = ""  # the callback inspector page ("" when it is off)
    idempotency_store: str = ""  # the store every function shares (password hidden)
    instances: int = 1  # worker processes per HTTP-triggered function
    fc_version: int = 3  # of the template's functions (2: template.fc2.yml)
    account_id: str = ""  # the local FC account id (Serverless Devs' AccountID)
    upload_page_url: str = ""  # the policy function's upload page ("" when the template has none)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EventResult:
    """One event run through its function (and, where needed, the client step that follows)."""

    event: str
    function: str
    ok: bool
    action: str | None = None
    key: str | None = None
    callback_status: str | None = None
    callback: Any = None
    error: str | None = None
    latency_ms: float = 0.0
    upload_key: str | None = None  # the dedupe key both delivery paths use for this upload
    action_runs: int = 0  # how often the action ran for it: 1 is the only right answer
    delivered_via: list[str] = field(default_factory=list)  # "callback" / "oss_event", per run
    result: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class LocalStack:
    """Local OSS + local FC host for ``template.yml``. Use as a context manager."""

    def __init__(
        self,
        *,
        template: str | Path | None = None,
        data_dir: str | Path | None = None,
        oss_port: int = 0,
        fc_port: int = 0,
        bucket: str = DEFAULT_BUCKET,
        region: str = DEFAULT_REGION,
        log_sink: LogSink | None = None,
        env: Mapping[str, str] | None = None,
        inspector: bool = True,
        inspector_port: int = 0,
        store: str | None = None,
        instances: int = 1,
        settle_timeout: float = 20.0,
        oss_event_delay: float = OSS_EVENT_DELAY,
        cors_origins: Sequence[str] = (),
        async_backoff: float | None = None,  # the FC host's first retry delay (tests shorten FC's 0.5 s)
        signature_versions: Iterable[str] | None = None,  # the local OSS's (None: V4 only, as a bucket made today)
        drop_events: Sequence[str] = (),  # globs of keys whose OSS events are dropped on purpose (local/faults.py)
    ) -> None:
        self.template = Path(template) if template is not None else default_template()
        check_not_renamed(self.template)  # template.fc3.yml -> "is now template.yml", not "no such template"
        if not self.template.is_file():
            raise LocalStackError(f"no such template: {self.template}")
        self.data_dir = data_dir
        self.oss_port = oss_port
        self.fc_port = fc_port
        self.bucket = bucket
        self.region = region
        self.log_sink = log_sink
        self.env = dict(env or {})
        self.store = store
        if instances < 1:
            raise LocalStackError(f"instances must be at least 1, not {instances}")
        self.instances = instances
        self.settle_timeout = settle_timeout
        self.deliveries = Deliveries()
        #: every OSS event document the local OSS emitted, with the asynchronous invocations it caused
        self.oss_events: list[tuple[dict[str, Any], list[Any]]] = []
        self._events_lock = threading.Lock()
        self._last_oss_event = time.monotonic()
        self.oss_event_delay, self.drops = oss_event_delay, EventDrops(drop_events)  # drops: --drop-events
        self.async_backoff, self.signature_versions = async_backoff, signature_versions
        self._pending_oss_events = 0
        self._oss: LocalOSS | None = None
        self._fc: LocalFCHost | None = None
        self.local_sts: LocalSTS | None = None  # AssumeRole for the policy function's /sts, while running
        self.want_inspector = inspector
        #: Browser origins the bucket's CORS rule allows (LocalOSS.allow_origins); a page the stack serves adds its own.
        self.cors_origins = list(cors_origins)
        self.inspector_port = inspector_port
        self.inspector: Inspector | None = None
        self._specs: list[FunctionSpec] | None = None

    def load_specs(self) -> list[FunctionSpec]:
        """The template's functions (read once, before anything starts: the start-up checks need them)."""
        if self._specs is None:
            from osscallback.local.fc.spec import load_specs, source_code_dirs

            template_env = {"FC_REGION": self.region, "OSS_BUCKET": self.bucket, "CALLBACK_URL": "", **self.env}
            self._specs = load_specs(self.template, template_env, code_dirs=source_code_dirs(self.template))
            if not self._specs:
                raise LocalStackError(f"{self.template} declares no functions")
        return self._specs

    @property
    def oss(self) -> LocalOSS:
        """The running local OSS (:class:`LocalStackError` before :meth:`start` and after :meth:`stop`)."""
        if self._oss is None:
            raise LocalStackError("the local stack is not running: start() it first")
        return self._oss

    @property
    def fc(self) -> LocalFCHost:
        """The running local FC host (:class:`LocalStackError` before :meth:`start` and after :meth:`stop`)."""
        if self._fc is None:
            raise LocalStackError("the local stack is not running: start() it first")
        return self._fc

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> LocalStack:
        from osscallback.local.fc import LocalFCHost
        from osscallback.local.fc.context import FCCredentials
        from osscallback.local.fc.model.asyncinvoke import DEFAULT_BACKOFF
        from osscallback.local.oss import LocalOSS
        from osscallback.local.sts import LocalSTS

        specs = self.load_specs()
        preflight.refuse_memory_beside_triggers(self.store, [s.name for s in specs if s.oss_triggers])
        quiet_client_libraries()  # this process's own oss2 calls, as the functions quiet theirs
        observers = []
        if self.want_inspector:
            from osscallback.local.inspector import Inspector
            from osscallback.local.inspector.deadletters import StackDeadLetters

            self.inspector = Inspector(port=self.inspector_port).start()
            observers.append(self.inspector.observe)
        try:
            oss = self._oss = LocalOSS(
                data_dir=self.data_dir, port=self.oss_port, buckets=(self.bucket, TEMP_CODE_BUCKET),
                callback_observers=observers, signature_versions=self.signature_versions,
                old_buckets=(TEMP_CODE_BUCKET,),  # FC's own code bucket: old enough for fc3's V1 (TEMP_CODE_BUCKET)
                on_object_created=self.drops.wrap(self._on_object_created, self._log),  # --drop-events: faults.py
            )
            oss.start()
            if self.inspector is not None:
                self.inspector.attach(oss.callback_sender)
            key_id, secret, token = oss.issue_sts_token(ROLE_CREDENTIALS_TTL)
            self.local_sts = LocalSTS(oss.credentials).start()
            preflight.check_store_reachable(self.store_url)  # a dead --store: one line now, not 503s on every callback
            fc = self._fc = LocalFCHost(
                specs,
                port=self.fc_port,
                credentials=FCCredentials(key_id, secret, token),
                region=self.region,
                env_overrides=self._wiring,
                code_fetcher=self._fetch_code,
                temp_bucket=self._temp_code_bucket,
                log_sink=self._log,
                instances=self.instances,
                async_backoff=DEFAULT_BACKOFF if self.async_backoff is None else self.async_backoff,
            )
            if self.inspector is not None:
                self.inspector.watch_fc(fc)  # OSS-trigger deliveries show beside the callbacks
                self.inspector.watch_dead_letters(StackDeadLetters(  # and the backstop's dead letters
                    wiring.dead_letters_url(self), oss.access_key_id, oss.access_key_secret, fc))
            fc.start()
            page = urlsplit(self.upload_page_url)  # the page's origin (known once its function listens), and any asked
            if origins := [*self.cors_origins, *([f"{page.scheme}://{page.netloc}"] if page.netloc else [])]:
                oss.allow_origins(origins, bucket=self.bucket)  # else the bucket keeps its data directory's rules
        except BaseException:
            self.stop()
            raise
        return self

    def _log(self, function: str, line: str) -> None:
        self.deliveries.observe(function, line)
        if self.inspector is not None:  # its "via reconcile" rows come from the reconcile function's lines
            self.inspector.observe_log(function, line)
        if self.log_sink is not None:
            self.log_sink(function, line)
        else:
            from osscallback.local.fc.model.process import print_sink

            print_sink(function, line)

    def _on_object_created(self, document: dict[str, Any]) -> None:
        """The local OSS's event sink: what OSS's event notification does for an FC OSS trigger.

        OSS delivers event notifications asynchronously, typically after the upload has answered (and so after
        its callback); the local OSS hands the event over before it sends the callback. The delay puts the
        usual order back, so the backstop mostly meets uploads already delivered, as in the cloud; either order
        is handled (the tests drive both).
        """
        with self._events_lock:
            self._pending_oss_events += 1
            self._last_oss_event = time.monotonic()
        timer = threading.Timer(self.oss_event_delay, self._dispatch_oss_event, (document,))
        timer.daemon = True
        timer.start()

    def _dispatch_oss_event(self, document: dict[str, Any]) -> None:
        fc = self._fc
        try:
            invocations = fc.dispatch_oss_event(document) if fc is not None else []
        finally:
            with self._events_lock:
                self._pending_oss_events -= 1
                self._last_oss_event = time.monotonic()
        with self._events_lock:
            self.oss_events.append((document, invocations))

    def settle(self, key: str | None = None, timeout: float | None = None, quiet: float = 0.3) -> list[Run]:
        """Wait until the deliveries an upload set off are over: its OSS event dispatched, every asynchronous
        invocation finished (retries included), the logs quiet. With ``key``: that upload's action runs."""
        deadline = time.monotonic() + (self.settle_timeout if timeout is None else timeout)
        if key is not None:
            self.deliveries.wait_for(key, max(0.0, deadline - time.monotonic()))
        while time.monotonic() < deadline:
            with self._events_lock:
                events_quiet = time.monotonic() - self._last_oss_event if not self._pending_oss_events else 0.0
            if events_quiet >= quiet and self.fc.wait_async(max(0.0, deadline - time.monotonic())) and (
                    self.deliveries.quiet_for() >= quiet):
                break
            time.sleep(0.05)
        return self.deliveries.runs_of(key) if key is not None else []

    def _wiring(self, fc: LocalFCHost) -> dict[str, str]:
        """Environment every function gets on top of template.yml (:func:`osscallback.local.wiring.function_env`)."""
        return wiring.function_env(self, fc)

    def _fetch_code(self, bucket: str, key: str) -> bytes:
        """A code zip from the local OSS (CreateFunction/UpdateFunction with ``ossBucketName``/``ossObjectName``)."""
        import oss2

        auth = oss2.AuthV4(self.oss.access_key_id, self.oss.access_key_secret)
        return bytes(oss2.Bucket(auth, self.oss.endpoint, bucket, region=self.region).get_object(key).read())

    def _temp_code_bucket(self) -> dict[str, Any]:
        """GetTempBucketToken's answer: the local OSS's temporary code bucket and credentials for it."""
        key_id, secret, token = self.oss.issue_sts_token()
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        return {
            "ossBucket": TEMP_CODE_BUCKET,
            "objectName": f"{uuid.uuid4().hex}.zip",
            "ossRegion": f"oss-{self.region}",
            "credentials": {"AccessKeyId": key_id, "AccessKeySecret": secret, "SecurityToken": token,
                            "Expiration": expires},
        }

    def stop(self) -> None:
        for name in ("_fc", "local_sts", "_oss", "inspector"):  # in this order: the functions first
            part = getattr(self, name)
            if part is not None:
                part.stop()
                setattr(self, name, None)

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------------------------------------
    @property
    def store_url(self) -> str:
        """The idempotency store every function shares: ``--store`` if given, else markers in the local OSS (what
        the templates deploy, pointed at the local endpoint instead of the region's internal one)."""
        if self.store:  # oss://<a local bucket>/... means the local OSS
            return preflight.local_store_url(self.store, (self.bucket, TEMP_CODE_BUCKET), self.oss.endpoint,
                                             self.region)
        return wiring.local_oss_url(self.bucket, LOCAL_MARKER_PREFIX, self.region, self.oss.endpoint)

    @property
    def callback_function(self) -> FunctionSpec:
        specs = [s for s in (self._fc.specs if self._fc else []) if s.is_http and not s.handler.startswith("policy.")]
        http = sorted(specs, key=lambda s: s.module != "callback")  # the callback module first, never the policy's
        if not http:
            raise LocalStackError(f"{self.template.name} has no HTTP-triggered (callback) function")
        return http[0]

    @property
    def upload_page_url(self) -> str:
        """The policy function's (``policy.handler``) page on the local FC host: another origin than the local OSS."""
        page = next((s for s in self.fc.specs if s.is_http and s.handler.startswith("policy.")), None)
        return str(self.fc.url_for(page.name, service=page.service)).rstrip("/") + "/" if page else ""

    @property
    def callback_url(self) -> str:
        spec = self.callback_function
        return str(self.fc.url_for(spec.name, proxy=True, service=spec.service))

    def info(self) -> StackInfo:
        return StackInfo(
            oss_endpoint=self.oss.endpoint,
            bucket=self.bucket,
            access_key_id=self.oss.access_key_id,
            access_key_secret=self.oss.access_key_secret,
            public_key_url=self.oss.public_key_url,
            fc_endpoint=self.fc.endpoint,
            callback_url=self.callback_url,
            service=self.callback_function.service,
            functions=[s.name for s in self.fc.specs],
            region=self.region,
            fc_access_key_id=self.fc.credentials.access_key_id,
            fc_access_key_secret=self.fc.credentials.access_key_secret,
            fc_security_token=self.fc.credentials.security_token or "",
            inspector_url=self.inspector.url if self.inspector is not None else "",
            idempotency_store=redact_url(self.store_url),
            instances=self.instances,
            fc_version=3 if self.callback_function.is_fc3 else 2,
            account_id=self.fc.account_id,
            upload_page_url=self.upload_page_url,
        )

    # -- events --------------------------------------------------------------------------------------------
    def events(self, events_dir: str | Path | None = None) -> Iterator[Path]:
        """The events in ``events_dir`` (default: the repository's ``events/``) for the template's event functions."""
        names = preflight.event_functions(self.load_specs())
        paths = sorted(Path(events_dir or default_events()).glob("*.json"))
        yield from (p for p in paths if function_of(p, names) in names)

    def invoke(self, function: str, payload: bytes) -> dict[str, Any]:
        from osscallback.local.fc.errors import FunctionInvocationError

        try:
            raw = self.fc.invoke(self.function_name(function), payload)
        except FunctionInvocationError as exc:
            raise LocalStackError(f"function {function!r} failed: {exc}") from None
        try:
            data = json.loads(raw)
        except ValueError:
            raise LocalStackError(f"function {function!r} did not answer JSON: {raw[:200]!r}") from None
        if not isinstance(data, dict):
            raise LocalStackError(f"function {function!r} answered {type(data).__name__}, not a JSON object")
        return data

    def function_name(self, function: str) -> str:
        """The FC function a template module or function name means (FC 3.0 names differ from module keys)."""
        specs = list(self.fc.specs)
        if any(s.name == function for s in specs):
            return function
        return next((s.name for s in specs if s.module == function), function)

    def run_event(self, path: str | Path) -> EventResult:
        """Invoke the event's function; complete client-side actions; judge the outcome."""
        path = Path(path)
        function = function_of(path, preflight.event_functions(self.load_specs()))
        started = time.perf_counter()
        out = EventResult(event=path.name, function=function, ok=False)
        try:
            payload = path.read_bytes()
            result = self.invoke(function, payload)
            if result.get("ok") and result.get("action") in ("presign_put", "post_policy"):
                result = complete_client_step(result)
            out.result = result
            out.action = result.get("action")
            out.key = result.get("key")
            out.callback_status = result.get("callback_status")
            out.callback = result.get("callback")
            if not result.get("ok"):
                out.error = f"{result.get('error')}: {result.get('message')}"
            else:
                self._judge_delivery(out, result)
        except (OSError, OssCallbackError) as exc:
            out.error = str(exc)
        out.latency_ms = round((time.perf_counter() - started) * 1000, 1)
        return out

    def _judge_delivery(self, out: EventResult, result: dict[str, Any]) -> None:
        """Stored, and the action ran exactly once for the upload, by whichever path (callback or OSS event)."""
        key, etag, request_id = result.get("key"), result.get("etag"), result.get("request_id")
        if not (key and etag and request_id):
            out.error = "the upload did not report its key, ETag and request id: its delivery cannot be checked"
            return
        out.upload_key = upload_key(self.bucket, str(key), str(etag), str(request_id))
        runs = self.settle(out.upload_key)
        out.action_runs = len(runs)
        out.delivered_via = [r.source for r in runs]
        callback_failed = result.get("callback_status") == "failed"
        if len(runs) == 1:
            out.ok = True
        elif not runs:
            failure = (result.get("callback_error") or {}).get("message")
            cause = self.deliveries.failure_of(self.bucket, str(key))  # what the callback function itself said
            why = f" (callback failed: {failure}{f'; the callback function: {cause}' * bool(cause)})" * callback_failed
            out.error = f"the action never ran for the upload{why}"
        else:
            out.error = f"the action ran {len(runs)} times for one upload ({', '.join(out.delivered_via)})"
