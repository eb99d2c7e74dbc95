"""The templates this project ships, by name, and the names they used to have.

``template.yml`` is the FC 3.0 template (Serverless Devs 3.x, component ``fc3``): what today's ``s`` deploys.
``template.fc2.yml`` is the FC 2.0 one (Serverless Devs 2.x, ``devsapp/fc``), kept for existing FC 2.0 services,
and ``template.local.yml`` extends ``template.yml`` for a deploy into the local stack. Until issue 27 the FC 3.0
template was ``template.fc3.yml``: a tool given an old name answers with the new one instead of "no such file"
(and never silently reads another file in its place).
"""

from __future__ import annotations

from pathlib import Path

from osscallback.errors import ConfigError

#: The canonical template: FC 3.0, ``edition: 3.0.0``, component ``fc3``.
TEMPLATE = "template.yml"
#: The legacy FC 2.0 template: ``edition: 1.0.0``, component ``devsapp/fc``.
TEMPLATE_FC2 = "template.fc2.yml"
#: ``extend: template.yml`` for ``s deploy`` into the local stack.
TEMPLATE_LOCAL = "template.local.yml"

#: Old name -> new name (issue 27).
RENAMED = {"template.fc3.yml": TEMPLATE, "template.fc3.local.yml": TEMPLATE_LOCAL}


def check_not_renamed(path: str | Path) -> None:
    """A :class:`ConfigError` naming the new file when ``path`` is a template's old name that no longer exists."""
    file = Path(path)
    new = RENAMED.get(file.name)
    if new is not None and not file.exists():
        raise ConfigError(f"{file.name} is now {file.with_name(new)} (FC 3.0; the FC 2.0 template is "
                          f"{TEMPLATE_FC2}): pass that instead")
