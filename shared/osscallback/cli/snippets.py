"""The copy-paste snippets ``osscallback local`` prints once its stack serves: each one runs as pasted.

Rules every snippet keeps (a test runs each one, exactly as printed, in ``env -i bash`` against a running stack):

- no indentation: a heredoc's closing ``PY`` must start its line, and Python code must start at column 0;
- this virtualenv's own ``python`` and ``osscallback`` by absolute path (the directory of ``sys.executable``,
  not resolved, since a venv's ``python`` is a symlink to the base interpreter), so nothing needs an activated
  venv, and event files and templates by absolute path, so the working directory does not matter;
- one block per thing to try, a ``# N. what it shows`` comment first and nothing indented; a block that keeps
  running (``osscallback serve``) says so, and the block after it is the one to paste in another shell.
"""

from __future__ import annotations

import shlex
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from osscallback.deploy.templates import INSTALL_S, TEMPLATE_LOCAL
from osscallback.local.stack import StackInfo


@dataclass(frozen=True)
class Snippet:
    """One block to paste: ``title`` becomes its ``# N. title`` line; ``code`` runs in bash as it is."""

    title: str
    code: str
    keeps_running: bool = False  # a server: Ctrl-C stops it


def bin_dir() -> Path:
    """Where this virtualenv's ``python`` and ``osscallback`` are (``sys.executable``'s directory, unresolved)."""
    return Path(sys.executable).absolute().parent


def free_port() -> int:
    """A port nothing listens on right now, for the ``osscallback serve`` snippet (9000 may well be taken)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _q(value: object) -> str:
    return shlex.quote(str(value))


def _oss_env(info: StackInfo, callback_url: str) -> str:
    """The ``export`` line ``osscallback upload`` reads (the variables the upload function reads on FC)."""
    return (f"export OSS_ENDPOINT={_q(info.oss_endpoint)} OSS_BUCKET={_q(info.bucket)} "
            f"OSS_REGION={_q(info.region)} \\\n"
            f"OSS_ACCESS_KEY_ID={_q(info.access_key_id)} OSS_ACCESS_KEY_SECRET={_q(info.access_key_secret)} \\\n"
            f"CALLBACK_URL={_q(callback_url)}")


def build(info: StackInfo, *, event_file: Path, template: Path, serve_port: int,
          bins: Path | None = None) -> list[Snippet]:
    """The snippets for the running stack ``info`` describes."""
    bins = bins or bin_dir()
    python, cli = _q(bins / "python"), _q(bins / "osscallback")
    creds = f"'{info.access_key_id}', '{info.access_key_secret}'"
    sample = "/tmp/osscallback-hello.txt"  # noqa: S108 - a file for the user to upload; any path works
    fc_env = (f"FC_ACCESS_KEY_ID={_q(info.fc_access_key_id)} FC_ACCESS_KEY_SECRET={_q(info.fc_access_key_secret)} "
              f"\\\nFC_SECURITY_TOKEN={_q(info.fc_security_token)} \\\n")
    key_prefix = info.public_key_url.rsplit("/", 1)[0] + "/"
    serve_url = f"http://127.0.0.1:{serve_port}/"
    out = [
        Snippet("Upload with oss2 and a callback to the local callback function:", f"""{python} - <<'PY'
import oss2
from osscallback.upload.templates import build_callback
bucket = oss2.Bucket(oss2.AuthV4({creds}), '{info.oss_endpoint}', '{info.bucket}', region='{info.region}')
spec = build_callback('json-full', {{'callback_url': '{info.callback_url}'}}, {{'x:user': 'me'}})
result = bucket.put_object('try/hello.txt', b'hello', headers=spec.headers())
print(result.status, result.resp.read().decode())
PY"""),
        Snippet("The callback function refuses anything OSS did not sign (a JSON 4xx, never a 500):",
                f"curl -s -X POST {_q(info.callback_url)} -d {_q(f'bucket={info.bucket}&object=forged.txt')}; echo"),
        Snippet("Invoke the upload function through FC's API with the official SDK:",
                f"{fc_env}{cli} invoke upload --event-file {_q(event_file)} --endpoint {_q(info.fc_endpoint)} "
                f"--template {_q(template)}"),
    ]
    if info.fc_version == 2:
        out.append(Snippet("... or from Python, with fc2:", f"""{python} - <<'PY'
import fc2
c = fc2.Client(endpoint='{info.fc_endpoint}', accessKeyID='{info.fc_access_key_id}',
accessKeySecret='{info.fc_access_key_secret}', securityToken='{info.fc_security_token}')
print(c.invoke_function('{info.service}', 'upload', payload=open({str(event_file)!r}, 'rb').read()).data.decode())
PY"""))
    out.append(Snippet(
        "Send the OSS-event backstop's dead letters through it again (docs/DELIVERY.md; none until every retry of "
        "an event failed, e.g. with the store down):",
        f"{fc_env}OSS_ACCESS_KEY_ID={_q(info.access_key_id)} OSS_ACCESS_KEY_SECRET={_q(info.access_key_secret)} \\\n"
        f"{cli} redeliver --endpoint {_q(info.fc_endpoint)} --oss-endpoint {_q(info.oss_endpoint)} "
        f"--template {_q(template)}"))
    out += [
        Snippet("Upload a file of your own from the command line (settings come from the environment):",
                f"{_oss_env(info, info.callback_url)}\nprintf 'hello, OSS\\n' > {sample}\n"
                f"{cli} upload {sample} --key try/cli-hello.txt"),
        Snippet("Serve the callback function yourself; it verifies the local OSS's callbacks only when it trusts "
                "the local OSS's key URL (this keeps running: Ctrl-C stops it):",
                f"{cli} serve --port {serve_port} --trust-key-prefix {_q(key_prefix)}", keeps_running=True),
        Snippet("... and in another shell, upload with a callback to it:",
                f"{_oss_env(info, serve_url)}\nprintf 'hello, OSS\\n' > {sample}\n"
                f"{cli} upload {sample} --key try/served.txt"),
        _deploy_block(info, template, bins),
    ]
    return out


def _deploy_block(info: StackInfo, template: Path, bins: Path) -> Snippet:
    """``s deploy`` of template.local.yml into this stack, as pasted in a fresh shell (issue 27): ``s`` named (and
    how to install it when missing), this venv's ``osscallback`` on PATH for the pre-deploy actions (``s`` runs
    them with its own environment, through ``/bin/sh``), the project as working directory (the actions' ``path:
    ./``), ``s config add -f`` (a second stack's keys replace the first's), no empty variable (``s`` treats
    ``${env('NAME')}`` set but empty as missing; template.local.yml names its own role, so none is exported)."""
    project = template.parent
    return Snippet(
        "Deploy with Serverless Devs (s 3.x + fc3) into this stack (docs/DEPLOY.md, \"Deploy into the local stack\"):",
        f"command -v s >/dev/null || echo {_q('s (Serverless Devs) is missing: ' + INSTALL_S)} >&2\n"
        f"export PATH={_q(bins)}:\"$PATH\"\n"
        f"cd {_q(project)}\n"
        f"s config add --AccessKeyID {_q(info.fc_access_key_id)} --AccessKeySecret "
        f"{_q(info.fc_access_key_secret)} \\\n--SecurityToken {_q(info.fc_security_token)} "
        f"--AccountID {info.account_id} -a local -f\n"
        f"export FC_CLIENT_CUSTOM_ENDPOINT={_q(info.fc_endpoint)} FC_CODE_TEMP_OSS_ENDPOINT={_q(info.oss_endpoint)} "
        f"\\\nFC_REGION={_q(info.region)} OSS_BUCKET={_q(info.bucket)}\n"
        f"s deploy -t {_q(project / TEMPLATE_LOCAL)} -a local -y")


def render(info: StackInfo, snippets: list[Snippet]) -> str:
    """The text printed after the events: where things listen, then every snippet, nothing indented."""
    lines = [f"Try it: local OSS at {info.oss_endpoint} (bucket {info.bucket}), local FC at {info.fc_endpoint}"]
    if info.inspector_url:
        lines.append(f"Inspector: {info.inspector_url}  (every callback the local OSS sends, live; replay, edit "
                     "& re-send)")
    if info.upload_page_url:
        lines.append(f"Upload page: {info.upload_page_url}  (pick or drop files: they go from the browser straight "
                     "to the local OSS, with the callback)")
    lines.append("Paste each block into a shell as it is (they call this virtualenv's python and osscallback):")
    for number, snippet in enumerate(snippets, 1):
        lines += ["", f"# {number}. {snippet.title}", snippet.code]
    lines += ["", "Ctrl-C stops everything."]
    return "\n".join(lines)
