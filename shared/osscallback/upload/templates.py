"""Callback templates: jinja2 files that render to validated OSS callback parameters.

Hand-assembling base64 JSON (the seed document's ``encode_callback``) is where callback bugs are born: a quoted
JSON placeholder, a ``${mimetype}`` typo, an uppercase custom key or a 6 KB callback is only discovered when OSS
rejects the upload — or worse, when the callback server receives empty values. Here a template is a ``*.j2`` file
rendering a JSON callback document; the result is checked before anything is sent, and each failure names what to
fix.

Templates come from the library's ``callback_templates/`` directory and a user directory (``CALLBACK_TEMPLATE_DIR``)
that overrides or adds. Rendering is sandboxed, ``StrictUndefined`` (a missing variable is an error naming it) and
not autoescaped; OSS's own ``${…}`` placeholders pass through untouched, since jinja2 only reacts to ``{{``/``{%``.
Each template receives the caller's variables plus ``custom_keys`` (the sorted ``x:`` keys of the custom variables),
so a body can list the custom variables it is given, and has an ``as_bool`` filter so that a flag given as text
(``--var callback_sni=false`` on the command line) means what it says.

SNI: OSS sends SNI on an HTTPS callback only when the parameters say ``"callbackSNI": true`` (default false), and
an HTTPS host that needs it (FC custom domains, most CDN-fronted hosts) then fails the callback with 203
``CallbackFailed`` ("Error status : 502"; cloudreve/cloudreve#448, #2100). So the shipped templates send it whenever
a callback URL is ``https://`` (the ``any_https`` filter), unless ``callback_sni`` says otherwise.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from osscallback.errors import TemplateError
from osscallback.upload.callback_params import (
    FORM,
    JSON,
    MAX_CALLBACK_URLS,
    SYSTEM_VARIABLES,
    CallbackParamError,
    CallbackParams,
    encode_callback_var,
    placeholders,
    render_body,
    validate_custom_var_key,
)

SHIPPED_DIR = Path(__file__).with_name("callback_templates")
SUFFIX = ".j2"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
# What may appear in a percent-encoded URL (RFC 3986 reserved + unreserved + '%').
_URL_CHARS = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,=%]+$")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# callbackHost is the Host header of the callback request: a domain name or IPv4 address, optionally with a port.
_HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?(?::[0-9]{1,5})?$")
_UNDEFINED_NAME = re.compile(r"^'([^']+)' is undefined$")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off", "none"})

# Realistic values for checking that a JSON body is valid once OSS has substituted its placeholders.
SAMPLE_VALUES: dict[str, str] = {
    "bucket": "examplebucket",
    "object": 'dir/a "quoted" name+%&=中文.jpg',
    "etag": "D41D8CD98F00B204E9800998ECF8427E",
    "size": "1024",
    "mimeType": "image/jpeg",
    "imageInfo.height": "480",
    "imageInfo.width": "640",
    "imageInfo.format": "jpg",
    "crc64": "1234567890123456789",
    "contentMd5": "1B2M2Y8AsgTpgAmY7PhCfg==",
    "vpcId": "",
    "clientIp": "192.0.2.1",
    "reqId": "5F2A0000000000000000SAMPLE",
    "operation": "PutObject",
}


class TemplateNotFound(TemplateError):
    """No template of that name in the user directory or the shipped ones."""


class TemplateRenderError(TemplateError):
    """The template failed to render (a missing variable, a syntax error) or did not render a JSON document."""


class CallbackValidationError(TemplateError):
    """The rendered callback would be refused by OSS, or would not do what its author meant."""


@dataclass(frozen=True)
class CallbackSpec:
    """Validated callback parameters, encoded for every place OSS takes them."""

    params: CallbackParams
    callback_b64: str
    callback_var_b64: str | None = None
    custom_vars: dict[str, str] = field(default_factory=dict)

    def headers(self) -> dict[str, str]:
        """For PutObject / CompleteMultipartUpload: ``x-oss-callback`` [and ``x-oss-callback-var``]."""
        result = {"x-oss-callback": self.callback_b64}
        if self.callback_var_b64:
            result["x-oss-callback-var"] = self.callback_var_b64
        return result

    def query_params(self) -> dict[str, str]:
        """For presigned URLs: ``callback`` [and ``callback-var``] query parameters."""
        result = {"callback": self.callback_b64}
        if self.callback_var_b64:
            result["callback-var"] = self.callback_var_b64
        return result

    def post_fields(self) -> dict[str, str]:
        """For PostObject forms: ``callback`` plus each ``x:`` variable as its own field."""
        return {"callback": self.callback_b64, **self.custom_vars}

    def document(self) -> dict[str, Any]:
        """The decoded callback document (what OSS sees after base64-decoding)."""
        return self.params.to_document()


def as_bool(value: object) -> bool:
    """Template filter: a flag that may arrive as text (CLI ``--var``, environment) read the way a person means it.

    Plain jinja truthiness would turn ``"false"`` into True; an unrecognised word is an error rather than a guess.
    """
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise TemplateRenderError(f"{value!r} is not a yes/no value: use true or false.")


def any_https(urls: object) -> bool:
    """Template filter: whether a callback URL (one, a ``;``-joined list, or a list) is ``https://``: SNI then
    costs nothing and is what a host serving several names needs."""
    items = urls if isinstance(urls, (list, tuple)) else str(urls or "").split(";")
    return any(str(u).strip().lower().startswith("https://") for u in items)


def check_custom_keys(custom_vars: Mapping[str, str]) -> None:
    """Custom variable keys are ``x:`` + lowercase (OSS refuses others); checked before a template sees them."""
    for key in custom_vars:
        try:
            validate_custom_var_key(key)
        except CallbackParamError:
            raise CallbackValidationError(
                f"Custom variable key {key!r} is invalid: use 'x:' followed by lowercase letters, digits or _ "
                "(e.g. 'x:user_id')."
            ) from None


class TemplateLibrary:
    """Finds and renders callback templates: the user directory first (override or add), then the shipped ones."""

    def __init__(self, user_dir: str | Path | None = None) -> None:
        if user_dir is None:
            user_dir = os.environ.get("CALLBACK_TEMPLATE_DIR") or None
        self.user_dir = Path(user_dir) if user_dir else None
        if self.user_dir is not None and not self.user_dir.is_dir():
            raise TemplateNotFound(f"CALLBACK_TEMPLATE_DIR {str(self.user_dir)!r} is not a directory.")
        search = [str(self.user_dir)] if self.user_dir else []
        search.append(str(SHIPPED_DIR))
        self._env = ImmutableSandboxedEnvironment(
            loader=jinja2.FileSystemLoader(search, encoding="utf-8"),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
        )
        self._env.filters["as_bool"] = as_bool
        self._env.filters["any_https"] = any_https

    def names(self) -> list[str]:
        """Every template name available, user and shipped."""
        found = {p.stem for p in SHIPPED_DIR.glob(f"*{SUFFIX}")}
        if self.user_dir:
            found |= {p.stem for p in self.user_dir.glob(f"*{SUFFIX}")}
        return sorted(found)

    def origin(self, name: str) -> Path:
        """The file a name resolves to (user directory wins)."""
        self._check_name(name)
        for base in (self.user_dir, SHIPPED_DIR):
            if base is not None and (base / f"{name}{SUFFIX}").is_file():
                return base / f"{name}{SUFFIX}"
        raise TemplateNotFound(f"No callback template {name!r}; available: {', '.join(self.names())}.")

    @staticmethod
    def _check_name(name: str) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise TemplateNotFound(f"Invalid template name {name!r}: use a plain name such as 'form-basic'.")

    def render_document(
        self, name: str, variables: Mapping[str, Any], custom_vars: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """Render a template to its callback document (not yet validated)."""
        path = self.origin(name)
        check_custom_keys(custom_vars or {})  # before a key reaches a body, where a bad one garbles the JSON
        context = dict(variables)
        context.setdefault("custom_keys", sorted(custom_vars or {}))
        try:
            text = self._env.get_template(f"{name}{SUFFIX}").render(**context)
        except (jinja2.UndefinedError, TypeError) as exc:  # TypeError: an undefined value through tojson
            match = _UNDEFINED_NAME.match(str(getattr(exc, "message", None) or ""))
            missing = self._missing(path, context)
            if match and match.group(1) not in context and match.group(1) not in missing:
                missing.insert(0, match.group(1))
            if not missing:  # e.g. an attribute missing on a value that was given
                raise TemplateRenderError(f"Template {name!r} failed to render: {exc}") from None
            raise TemplateRenderError(
                f"Template {name!r} needs variable(s) not given: {', '.join(missing)}. Pass them as template "
                "variables (upload event: template_vars; CLI: --var NAME=VALUE)."
            ) from None
        except TemplateRenderError as exc:  # raised by our own filters (as_bool)
            raise TemplateRenderError(f"Template {name!r}: {exc}") from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateRenderError(
                f"Template {name!r} has a syntax error at line {exc.lineno}: {exc.message}"
            ) from None
        except (jinja2.TemplateError, ValueError) as exc:
            raise TemplateRenderError(f"Template {name!r} failed to render: {exc}") from None
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise TemplateRenderError(
                f"Template {name!r} did not render a JSON document ({exc}); a callback template renders "
                '{"callbackUrl": ..., "callbackBody": ..., ...}.'
            ) from None
        if not isinstance(doc, dict):
            raise TemplateRenderError(f"Template {name!r} rendered JSON that is not an object.")
        return doc

    def _missing(self, path: Path, context: Mapping[str, Any]) -> list[str]:
        """Variables the template uses unconditionally or not that the caller did not give."""
        from jinja2 import meta

        source = path.read_text(encoding="utf-8")
        used = meta.find_undeclared_variables(self._env.parse(source))
        # A variable the template guards with "is defined" is optional.
        return sorted(v for v in used if v not in context and f"{v} is defined" not in source)

    def render(
        self, name: str, variables: Mapping[str, Any], custom_vars: Mapping[str, str] | None = None
    ) -> CallbackParams:
        """Render and validate a template into callback parameters."""
        doc = self.render_document(name, variables, custom_vars)
        url = doc.get("callbackUrl")
        if isinstance(url, list):  # templates may pass a list of URLs through tojson
            if not all(isinstance(u, str) for u in url):
                raise CallbackValidationError(
                    f"callbackUrl must be a URL or a list of URLs (strings), got {url!r}."
                )
            doc = {**doc, "callbackUrl": ";".join(url)}
        elif url is not None and not isinstance(url, str):
            raise CallbackValidationError(f"callbackUrl must be a URL or a list of URLs (strings), got {url!r}.")
        params = _to_params(doc)
        validate(params, custom_vars or {})
        return params


def _to_params(doc: Mapping[str, Any]) -> CallbackParams:
    url = doc.get("callbackUrl")
    if not isinstance(url, str) or not url.strip():
        raise CallbackValidationError(
            "callbackUrl is missing: give the URL OSS should call (template var callback_url)."
        )
    urls = [u.strip() for u in url.split(";") if u.strip()]
    if len(urls) > MAX_CALLBACK_URLS:
        raise CallbackValidationError(
            f"callbackUrl lists {len(urls)} URLs; OSS tries at most {MAX_CALLBACK_URLS}: "
            f"remove {len(urls) - MAX_CALLBACK_URLS}."
        )
    try:
        return CallbackParams.from_document(dict(doc))
    except CallbackParamError as exc:
        raise CallbackValidationError(_advice(exc)) from None


def _advice(exc: CallbackParamError) -> str:
    hints = {
        "0007-00000011": " Give the template a non-empty callbackBody.",
        "0007-00000012": f" Use {FORM} or {JSON}.",
        "0007-00000013": " In a JSON body write placeholders unquoted: {\"object\":${object}}, not \"${object}\".",
        "0007-00000001": " Shorten the callbackBody or use fewer URLs.",
        "0007-00000101": " Use fewer or shorter custom variables.",
    }
    return exc.message + hints.get(exc.ec, "")


def check_url(url: str) -> None:
    """A callback URL must be absolute http(s), percent-encoded, and not an IPv6 literal (OSS has no IPv6)."""
    if not _URL_CHARS.match(url) or _BAD_ESCAPE.search(url):
        raise CallbackValidationError(
            f"callbackUrl {url!r} is not percent-encoded: encode spaces and non-ASCII characters "
            "(e.g. urllib.parse.quote(path) and urlencode(query))."
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CallbackValidationError(
            f"callbackUrl {url!r} must be an absolute http:// or https:// URL (write the scheme and the host)."
        )
    if parts.netloc.startswith("[") or "[" in parts.netloc:
        raise CallbackValidationError(f"callbackUrl {url!r} uses an IPv6 address, which OSS does not support.")
    try:
        _ = parts.port  # raises ValueError on a port that is not a number in range
    except ValueError:
        raise CallbackValidationError(f"callbackUrl {url!r} has an invalid port.") from None
    if not parts.hostname:
        raise CallbackValidationError(f"callbackUrl {url!r} has no host name.")


def check_host(host: str) -> None:
    """callbackHost is a Host header value: a domain name or IP address (optionally ``:port``), not a URL."""
    if "://" in host or "/" in host:
        raise CallbackValidationError(
            f"callbackHost {host!r} is a URL: give only the host name, e.g. 'cb.example.com' (it becomes the "
            "Host header of the callback request)."
        )
    if not _HOST.match(host):
        raise CallbackValidationError(
            f"callbackHost {host!r} is not a host name: use a domain name or IPv4 address, optionally with :port "
            "(non-ASCII domains in their xn-- form)."
        )


def validate(params: CallbackParams, custom_vars: Mapping[str, str]) -> None:
    """Client-side checks beyond OSS's own: URLs, placeholder names, custom keys, JSON validity with samples."""
    for url in params.urls:
        check_url(url)
    if params.host is not None:
        check_host(params.host)
    check_custom_keys(custom_vars)
    for name in placeholders(params.body):
        if name.startswith("x:"):
            try:
                validate_custom_var_key(name)
            except CallbackParamError:
                raise CallbackValidationError(
                    f"${{{name}}}: custom variable names are 'x:' followed by lowercase letters, digits or _ "
                    f"(e.g. ${{{name.lower()}}})."
                ) from None
        elif name not in SYSTEM_VARIABLES:
            close = difflib.get_close_matches(name, sorted(SYSTEM_VARIABLES), n=1, cutoff=0.6)
            close = close or [v for v in SYSTEM_VARIABLES if v.lower() == name.lower()]
            hint = f" Did you mean ${{{close[0]}}}?" if close else f" Known: {', '.join(sorted(SYSTEM_VARIABLES))}."
            raise CallbackValidationError(f"${{{name}}} is not an OSS system variable; OSS would send it empty.{hint}")
    if params.body_type == JSON:
        sample = {**SAMPLE_VALUES, **{k: v for k, v in custom_vars.items()}}
        try:
            json.loads(render_body(params.body, JSON, sample))
        except ValueError:
            raise CallbackValidationError(
                "callbackBody is not valid JSON once OSS fills in the placeholders: write them unquoted "
                '({"object":${object}}), and check braces and commas.'
            ) from None


def build_callback(
    name: str,
    variables: Mapping[str, Any],
    custom_vars: Mapping[str, str] | None = None,
    *,
    library: TemplateLibrary | None = None,
) -> CallbackSpec:
    """Render template ``name`` with ``variables`` and encode it (with ``custom_vars``) for OSS."""
    library = library or TemplateLibrary()
    custom = dict(custom_vars or {})
    params = library.render(name, variables, custom)
    try:
        callback_b64 = params.to_base64()
        var_b64 = encode_callback_var(custom) if custom else None
    except CallbackParamError as exc:
        raise CallbackValidationError(_advice(exc)) from None
    return CallbackSpec(params=params, callback_b64=callback_b64, callback_var_b64=var_b64, custom_vars=custom)
