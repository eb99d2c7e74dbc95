"""The README is a front page and docs/ holds the reference: the page budget, the links, and the variable table.

docs/CONFIGURATION.md's tables are checked against the code both ways, as ARCHITECTURE.md is checked against the
tree (test_layout.py): the configuration loaders are run on a recording mapping, so every variable they read is
seen as they read it, and a scan of the library and the functions finds the variables read anywhere else. A
variable the code reads and the page does not list fails, and so does a listed variable nothing reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from osscallback.callback.config import CallbackConfig
from osscallback.upload.event import UploadEvent
from osscallback.upload.filesettings import UploadSettings
from tests.support import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
CONFIGURATION = DOCS / "CONFIGURATION.md"
README_BUDGET = 10 * 1024

_FENCE = re.compile(r"^```.*?^```", re.S | re.M)
_LINK = re.compile(r"\]\(([^)\s]+)\)")
# A path into this repository, as the docs write one: from a top-level folder (placeholders like <name> end it).
_REPO_PATH = re.compile(r"(?<![\w/.-])((?:tests|bench|shared|functions|events)/[\w./-]*\w)")
_VARIABLE = re.compile(r"`([A-Z][A-Z0-9_]+)`")
# How the code reads a variable: os.environ / an ``env`` mapping (not a WSGI ``environ``, which is a request), and
# the loaders' helpers that take ``env`` first (``_number(env, "X", ...)``, ``_env_int(env, "X", ...)``). A
# subscript followed by ``=`` is a write (the local FC host building a worker's environment), not a read.
_READS = (
    re.compile(r"""(?:\bos\.environ|\benv)\s*\.get\(\s*["']([A-Z][A-Z0-9_]+)["']"""),
    re.compile(r"""(?:\bos\.environ|\benv)\s*\[\s*["']([A-Z][A-Z0-9_]+)["']\s*\](?!\s*=[^=])"""),
    re.compile(r"""getenv\(\s*["']([A-Z][A-Z0-9_]+)["']"""),
    re.compile(r"""\w+\(\s*env\s*,\s*["']([A-Z][A-Z0-9_]+)["']"""),
)


def _prose(text: str) -> str:
    """Markdown without its fenced code blocks (a ``# comment`` in a shell block is not a heading)."""
    return _FENCE.sub("", text)


def _pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(m) for m in re.findall(r"^#+ (.+)$", _prose(path.read_text(encoding="utf-8")), re.M)}


# --------------------------------------------------------------------------------------------------- the README
def test_readme_is_a_front_page_within_its_budget() -> None:
    size = len(README.read_bytes())
    assert size <= README_BUDGET, f"README.md is {size} bytes; move reference text to docs/ (budget {README_BUDGET})"


def test_readme_links_every_docs_page() -> None:
    links = set(_LINK.findall(_prose(README.read_text(encoding="utf-8"))))
    missing = [p.name for p in _pages() if f"docs/{p.name}" not in links]
    assert _pages() and not missing, f"README.md does not link {missing}"


def test_readme_quick_start_has_the_command_ci_runs() -> None:
    """.ci/run runs "the README test command"; the quick start must show that very command, and the main job."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    pytest_lines = [line.strip() for line in ci.splitlines() if re.search(r"-m pytest\b", line)]
    assert pytest_lines, ".ci/run runs no pytest"
    blocks = re.findall(r"^```sh\n(.*?)^```", README.read_text(encoding="utf-8"), re.S | re.M)
    quick_start = blocks[0]
    assert pytest_lines[-1] in quick_start, f"README's quick start lacks .ci/run's {pytest_lines[-1]!r}"
    assert "osscallback local --once" in quick_start


def test_every_relative_link_resolves() -> None:
    """Every relative link in README, docs/ and tests/README.md names a file that exists, and an anchor names one of
    its headings."""
    broken = []
    for page in [README, *_pages(), ROOT / "tests" / "README.md"]:
        for target in _LINK.findall(_prose(page.read_text(encoding="utf-8"))):
            if re.match(r"[a-z]+:", target):  # https:, mailto:
                continue
            path_part, _, anchor = target.partition("#")
            file = (page.parent / path_part).resolve() if path_part else page
            if not file.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_every_repository_path_the_docs_name_exists() -> None:
    """A path into the tree named in prose (``tests/callback/test_load.py``, ``functions/upload/``) still exists:
    files and folders move (the tests were reorganised to mirror the package), and the docs must follow them."""
    stale = []
    for page in [README, *_pages()]:
        for path in _REPO_PATH.findall(page.read_text(encoding="utf-8")):
            if not (ROOT / path).exists() and not (ROOT / f"{path}.py").exists():
                stale.append(f"{page.relative_to(ROOT)}: {path}")
    assert not stale, "\n".join(stale)


def test_the_inspector_screenshot_is_shown_where_the_inspector_is_described() -> None:
    """tests/local/inspector retakes docs/img/inspector.png (OSSCB_UPDATE_SCREENSHOT=1); the inspector's page shows it."""
    assert (DOCS / "img" / "inspector.png").is_file()
    assert "](img/inspector.png)" in (DOCS / "INSPECTOR.md").read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------- the configuration page
def _documented() -> dict[str, set[str]]:
    """The variables in each ``## section``'s tables of docs/CONFIGURATION.md (first column, one or more names)."""
    sections: dict[str, set[str]] = {}
    current = ""
    for line in _prose(CONFIGURATION.read_text(encoding="utf-8")).splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
        elif line.startswith("| `") and current:
            sections.setdefault(current, set()).update(_VARIABLE.findall(line.split("|")[1]))
    return sections


class _RecordingEnv(Mapping[str, str]):
    """An environment that remembers every name looked up in it (``get``, ``[]``, ``in``), set or not.

    Iterating over it (a loader taking every ``ALIBABA_CLOUD_*`` variable) is not a lookup; the test counts what the
    loader kept from it instead.
    """

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.read.add(name)
        return self._values[name]

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str):
            self.read.add(name)
        return name in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def items(self):  # type: ignore[override]
        return self._values.items()


FC_CREDENTIALS = {
    "ALIBABA_CLOUD_ACCESS_KEY_ID": "id",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "secret",
    "ALIBABA_CLOUD_SECURITY_TOKEN": "token",
}


def _callback_loader_reads() -> set[str]:
    read: set[str] = set()
    # The default store, and the templates' oss:// store without a region (which then asks for FC's region).
    for values in ({}, {"CALLBACK_IDEMPOTENCY_STORE": "oss://examplebucket/.osscallback/idempotency/"}):
        env = _RecordingEnv({**values, **FC_CREDENTIALS, "FC_REGION": "cn-hangzhou"})
        config = CallbackConfig.from_env(env)
        read |= env.read | set(config.credentials_env)
    return read


def _upload_loader_reads() -> set[str]:
    env = _RecordingEnv({
        "OSS_ENDPOINT": "http://127.0.0.1:1", "OSS_BUCKET": "examplebucket",
        "OSS_ACCESS_KEY_ID": "id", "OSS_ACCESS_KEY_SECRET": "secret",
    })
    UploadSettings.resolve(UploadEvent(action="put", key="k"), None, env, str(ROOT))
    return env.read


def _scanned_reads(*roots: Path) -> dict[str, set[str]]:
    """Variable names read in the Python files under ``roots``, with the files reading each."""
    found: dict[str, set[str]] = {}
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            for pattern in _READS:
                for name in pattern.findall(text):
                    found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


LIBRARY = ROOT / "shared" / "osscallback"


def test_the_recording_env_sees_what_the_loaders_read() -> None:
    """The probe itself works: known reads show up, and a name nobody reads does not."""
    callback, upload = _callback_loader_reads(), _upload_loader_reads()
    assert {"CALLBACK_ACTION", "CALLBACK_IDEMPOTENCY_STORE", "FC_REGION", "ALIBABA_CLOUD_ACCESS_KEY_ID"} <= callback
    assert {"OSS_ENDPOINT", "UPLOAD_PART_SIZE", "OSS_SESSION_TOKEN"} <= upload
    assert "OSS_ENDPOINT" not in callback and "CALLBACK_ACTION" not in upload


def test_configuration_page_lists_exactly_what_the_callback_function_reads() -> None:
    documented = _documented()["The callback function"]
    read = _callback_loader_reads() | set(
        _scanned_reads(LIBRARY / "callback", ROOT / "functions" / "callback")
    )
    assert not read - documented, f"read by the callback function, not in docs/CONFIGURATION.md: {read - documented}"
    assert not documented - read, f"in docs/CONFIGURATION.md, read by no callback code: {documented - read}"


def test_configuration_page_lists_exactly_what_the_upload_function_reads() -> None:
    documented = _documented()["The upload function"]
    read = _upload_loader_reads() | set(_scanned_reads(LIBRARY / "upload", ROOT / "functions" / "upload"))
    assert not read - documented, f"read by the upload function, not in docs/CONFIGURATION.md: {read - documented}"
    assert not documented - read, f"in docs/CONFIGURATION.md, read by no upload code: {documented - read}"


def test_every_variable_the_library_reads_is_documented() -> None:
    documented = set().union(*_documented().values())
    read = _scanned_reads(LIBRARY, ROOT / "functions")
    missing = {name: sorted(files) for name, files in read.items() if name not in documented}
    assert not missing, f"variables read but not in docs/CONFIGURATION.md: {missing}"


def test_every_documented_variable_exists_in_the_code() -> None:
    """The command-line, local and test variables are named in the code that reads them (or its help text)."""
    sources = "\n".join(
        p.read_text(encoding="utf-8")
        for root in (LIBRARY, ROOT / "functions", ROOT / "tests", ROOT / "bench")
        for p in root.rglob("*.py")
    )
    documented = set().union(*_documented().values())
    absent = sorted(name for name in documented if not re.search(rf"\b{name}\b", sources))
    assert not absent, f"documented in docs/CONFIGURATION.md but named nowhere in the code: {absent}"
