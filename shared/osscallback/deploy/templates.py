"""The templates this project ships, by name, and the names they used to have.

``template.yml`` is the FC 3.0 template (Serverless Devs 3.x, component ``fc3``): what today's ``s`` deploys.
``template.fc2.yml`` is the FC 2.0 one (Serverless Devs 2.x, ``devsapp/fc``), kept for existing FC 2.0 services,
and ``template.local.yml`` extends ``template.yml`` for a deploy into the local stack. Until issue 27 the FC 3.0
template was ``template.fc3.yml``: a tool given an old name answers with the new one instead of "no such file"
(and never silently reads another file in its place).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from osscallback.errors import ConfigError


class _Function(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def raw(self) -> Mapping[str, Any]: ...


class _Template(Protocol):
    """What :func:`check_roles` reads of an :class:`osscallback.deploy.fcyaml.Template` (which imports this module:
    a Protocol keeps the import graph free of cycles)."""

    @property
    def path(self) -> Path: ...
    @property
    def is_fc3(self) -> bool: ...
    @property
    def functions(self) -> Sequence[_Function]: ...

#: The canonical template: FC 3.0, ``edition: 3.0.0``, component ``fc3``.
TEMPLATE = "template.yml"
#: The legacy FC 2.0 template: ``edition: 1.0.0``, component ``devsapp/fc``.
TEMPLATE_FC2 = "template.fc2.yml"
#: ``extend: template.yml`` for ``s deploy`` into the local stack.
TEMPLATE_LOCAL = "template.local.yml"

#: The Serverless Devs CLI that deploys template.yml, pinned (what the CI rehearsal installs), and the Node.js it
#: needs: its package.json says "engines": {"node": ">=14.14.0"} (npm view @serverless-devs/s@3.1.10 engines).
SERVERLESS_DEVS = "@serverless-devs/s@3.1.10"
SERVERLESS_DEVS_NODE = ">=14.14.0"
#: One line on installing it, for where `s` is missing.
INSTALL_S = f"npm i -g {SERVERLESS_DEVS} (Node.js {SERVERLESS_DEVS_NODE}; check with s -v)"

#: Old name -> new name (issue 27).
RENAMED = {"template.fc3.yml": TEMPLATE, "template.fc3.local.yml": TEMPLATE_LOCAL}


def check_not_renamed(path: str | Path) -> None:
    """A :class:`ConfigError` naming the new file when ``path`` is a template's old name that no longer exists."""
    file = Path(path)
    new = RENAMED.get(file.name)
    if new is not None and not file.exists():
        raise ConfigError(f"{file.name} is now {file.with_name(new)} (FC 3.0; the FC 2.0 template is "
                          f"{TEMPLATE_FC2}): pass that instead")


#: What a cloud deploy of template.yml needs and fc3 will not create (docs/DEPLOY.md, "The role to create").
ROLE_FIX = ("create the role once (docs/DEPLOY.md, 'The role to create') and export "
            "FC_ROLE_ARN=acs:ram::<account-id>:role/oss-callback-fc-role")


def check_roles(template: _Template) -> None:
    """A :class:`ConfigError` (one line, with the fix) when an FC 3.0 function would deploy without a role.

    ``template.yml`` reads the role as ``${env('FC_ROLE_ARN', '')}``: empty is what ``template.local.yml`` needs (it
    names a local ARN instead), but in the cloud fc3 would create the function with no role at all, and every call
    it makes to OSS would fail at run time. FC 2.0's devsapp/fc creates its service role itself, so it is exempt.
    """
    if not template.is_fc3:
        return
    missing = [fn.name for fn in template.functions if not str(fn.raw.get("role") or "").strip()]
    if missing:
        raise ConfigError(f"{template.path.name}: no role for {', '.join(missing)} (FC_ROLE_ARN is empty): "
                          f"{ROLE_FIX}")
