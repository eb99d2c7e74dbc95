"""The FC 3.0 control plane deploys outside its own lock, and in the order its changes were made.

The host and the control plane used to import each other, and the control plane called the host while it held
its lock: a slow deploy held up every control-plane request, and a registry that called back would deadlock. Now
the control plane deploys through the ``FunctionRegistry`` protocol with no lock held. Here the real
:class:`Registry` is subclassed only to call the control plane from inside ``deploy``/``undeploy``: had the control
plane kept its (non-reentrant) lock across the call, that call would never return.
"""

from __future__ import annotations

import base64
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from osscallback.local.fc import FCCredentials, FunctionSpec
from osscallback.local.fc.api.controlplane import ControlPlane
from osscallback.local.fc.model.instances import Launcher
from osscallback.local.fc.model.registry import Registry
from osscallback.local.httpserver import WSGIServer


def _app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("204 No Content", [])
    return [b""]


class CallingBack(Registry):
    """The real registry, which asks the control plane for its functions in the middle of every change."""

    control: ControlPlane

    def __init__(self) -> None:
        super().__init__([], launcher=Launcher(FCCredentials("id", "secret"), "cn-hangzhou", "1"),
                         url_server=lambda name: WSGIServer(_app))
        self.seen: list[tuple[str, str, list[str]]] = []

    def _listed(self) -> list[str]:
        return [doc["functionName"] for doc in self.control.list_functions({})["functions"]]

    def deploy(self, spec: FunctionSpec, *, restart: bool = True) -> None:
        self.seen.append(("deploy", spec.name, self._listed()))
        super().deploy(spec, restart=restart)

    def undeploy(self, function: str, service: str = "") -> None:
        self.seen.append(("undeploy", function, self._listed()))
        super().undeploy(function, service)


def _zip() -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


@pytest.fixture()
def plane(tmp_path: Path) -> Iterator[tuple[ControlPlane, CallingBack]]:
    registry = CallingBack()
    control = ControlPlane(registry, region="cn-hangzhou", account_id="1", code_root=tmp_path)
    registry.control = control
    yield control, registry
    for server in registry.url_servers():
        server.stop()


def _in_thread(work: Any) -> None:
    """Run ``work``; a deadlock leaves the thread alive (daemon, so the test run still ends) and fails the test."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "the control plane held its lock while it called the registry"
    assert not errors, errors


def test_the_registry_can_use_the_control_plane_while_it_deploys(plane: tuple[ControlPlane, CallingBack]) -> None:
    control, registry = plane
    code = {"zipFile": _zip()}

    def lifecycle() -> None:
        control.create_function({"functionName": "f", "handler": "index.handler", "runtime": "python3.10",
                                 "code": code})
        control.update_function("f", {"environmentVariables": {"A": "1"}})
        control.create_trigger("f", {"triggerName": "web", "triggerType": "http",
                                     "triggerConfig": {"methods": ["GET"]}})
        control.delete_trigger("f", "web")
        control.delete_function("f")

    _in_thread(lifecycle)
    assert [(op, name) for op, name, _ in registry.seen] == [("deploy", "f")] * 4 + [("undeploy", "f")]
    # Each change was recorded before it was handed over: the registry already sees "f" while it is deployed...
    assert all(listed == ["f"] for op, _, listed in registry.seen if op == "deploy")
    # ...and no longer while it is removed; the registry ends empty.
    assert registry.seen[-1][2] == [] and registry.specs == []


def test_concurrent_updates_reach_the_registry_in_the_order_they_were_made(
    plane: tuple[ControlPlane, CallingBack],
) -> None:
    control, registry = plane
    control.create_function({"functionName": "f", "handler": "index.handler", "runtime": "python3.10",
                             "code": {"zipFile": _zip()}})

    def updates() -> None:
        for round_ in range(10):
            threads = [threading.Thread(target=control.update_function,
                                        args=("f", {"environmentVariables": {"N": f"{round_}-{i}"}}))
                       for i in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            # Whichever update the control plane recorded last is the one the registry runs.
            assert registry.spec("f").env == control.get_function("f")["environmentVariables"]

    _in_thread(updates)
