"""Runs one FC handler from a built code directory, the way FC does: that directory and the stdlib, nothing else.

Started as ``python -I -S -B isolated_runner.py <code dir> <spec.json>`` (``-S``: no site-packages, ``-I``: no
PYTHONPATH, user site or script directory), so the only non-stdlib code it can import is the package's. Uses only
the stdlib; prints one JSON line: the handler's answer and every module loaded from outside the package/stdlib.
"""

import base64
import importlib
import io
import json
import os
import sys
import sysconfig
import types


def main() -> None:
    code_dir, spec_file = os.path.realpath(sys.argv[1]), sys.argv[2]
    with open(spec_file, encoding="utf-8") as f:
        spec = json.load(f)
    leaked = [p for p in sys.path if "site-packages" in p or "dist-packages" in p]
    sys.path.insert(0, code_dir)
    os.chdir(code_dir)  # FC runs with the code directory (/code) as the working directory
    module = importlib.import_module(spec["module"])
    handler = getattr(module, spec["attr"])
    context = types.SimpleNamespace(
        request_id="isolated-run",
        credentials=None,
        region=spec.get("region"),
        account_id="0",
        function=types.SimpleNamespace(name=spec["function"], handler=spec["handler"], memory=256, timeout=10),
        service=types.SimpleNamespace(name=spec.get("service") or ""),
    )
    out: dict[str, object] = {}
    if spec["kind"] == "wsgi":
        body = spec["body"].encode("latin-1")
        environ = {
            "REQUEST_METHOD": spec.get("method", "POST"),
            "SCRIPT_NAME": "",
            "PATH_INFO": spec["path"],
            "QUERY_STRING": "",
            "CONTENT_TYPE": spec["headers"].get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "9000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "fc.request_uri": spec["path"],
            "fc.context": context,
        }
        for name, value in spec["headers"].items():
            key = name.upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ["HTTP_" + key] = value
        captured: dict[str, object] = {}

        def start_response(status: str, headers: list, exc_info: object = None) -> None:
            captured["status"] = status
            captured["headers"] = dict(headers)

        chunks = handler(environ, start_response)
        out["status"] = captured["status"]
        out["headers"] = captured["headers"]
        out["body"] = b"".join(chunks).decode("utf-8")
    elif spec["kind"] == "fc3":  # FC 3.0's HTTP event (docs: "HTTP trigger event format"), body base64-encoded
        body = spec["body"].encode("latin-1")
        event = {
            "version": "v1",
            "rawPath": spec["path"],
            "body": base64.b64encode(body).decode("ascii"),
            "isBase64Encoded": True,
            "headers": dict(spec["headers"]),
            "queryParameters": {},
            "requestContext": {"accountId": "0", "domainName": "127.0.0.1", "requestId": "isolated-run",
                               "http": {"method": spec.get("method", "POST"), "path": spec["path"],
                                        "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": ""}},
        }
        result = handler(json.dumps(event).encode("utf-8"), context)
        answer = result.get("body") or ""
        if result.get("isBase64Encoded"):
            answer = base64.b64decode(answer).decode("utf-8")
        out["status"] = str(result["statusCode"])
        out["headers"] = result.get("headers") or {}
        out["body"] = answer
    else:
        out["result"] = handler(spec["event"].encode("utf-8"), context)
    roots = [code_dir] + [os.path.realpath(sysconfig.get_path(n)) for n in ("stdlib", "platstdlib")]
    foreign = sorted(
        name
        for name, mod in list(sys.modules.items())
        if name not in ("__main__", "__mp_main__")  # multiprocessing (the STS SDK's deps) aliases __main__ so
        and getattr(mod, "__file__", None)
        and not any(os.path.realpath(str(mod.__file__)).startswith(r) for r in roots)
    )
    out.update(foreign=foreign, leaked_path=leaked, oss2_loaded="oss2" in sys.modules)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
