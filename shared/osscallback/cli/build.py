"""``osscallback build``: one self-contained FC code directory per function (what ``s deploy`` uploads).

template.yml runs it as each function's Serverless Devs ``pre-deploy`` action, with ``--check-env`` so a deploy
with an unset ``${env(NAME)}`` (or, for FC 3.0, no role) stops here, with the names, before anything reaches the
cloud.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from osscallback.deploy.build import DEFAULT_OUT, DEFAULT_PLATFORMS, BuildOptions, build, describe
from osscallback.deploy.templates import TEMPLATE, check_not_renamed, check_roles


def register(sub: Any) -> None:
    p = sub.add_parser(
        "build",
        help="package each function for Function Compute (code + osscallback + Linux wheels) into .build/",
        description="Build one self-contained code directory per function under --out: the function's code, the "
        "osscallback library and the dependencies it imports at run time, installed as wheels for FC's Linux "
        "x86_64 CPython (the runtime in template.yml). Serverless Devs deploys these directories.",
    )
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help=f"output directory (default {DEFAULT_OUT}/)")
    p.add_argument(
        "--function",
        action="append",
        default=[],
        metavar="NAME",
        help="build only this function (a directory under functions/); repeatable; default: all",
    )
    p.add_argument(
        "--python-version",
        default=None,
        metavar="X.Y",
        help="CPython version to install wheels for (default: the function's runtime in the template, else 3.12)",
    )
    p.add_argument(
        "--platform",
        action="append",
        default=[],
        metavar="TAG",
        help=f"wheel platform tag to accept; repeatable (default {' '.join(DEFAULT_PLATFORMS)})",
    )
    p.add_argument("--root", default=".", metavar="DIR", help="project root holding functions/ (default: .)")
    p.add_argument("--template", default=None, metavar="FILE",
                   help="Serverless Devs template (default: template.yml; FC 2.0: template.fc2.yml)")
    p.add_argument(
        "--check-env",
        action="store_true",
        help="first check that every ${env(NAME)} in the template has a value and every FC 3.0 function a role "
        "(what a deploy needs)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve()
    template = Path(args.template) if args.template else root / TEMPLATE
    check_not_renamed(template)  # template.fc3.yml -> one line naming template.yml, exit 2
    if args.check_env:
        from osscallback.deploy.fcyaml import load_template

        check_roles(load_template(template, strict=True))  # ConfigError -> one readable line, exit 2 (cli.main)
    options = BuildOptions(
        project_root=root,
        out_dir=Path(args.out),
        python_version=args.python_version,
        platforms=tuple(args.platform) or DEFAULT_PLATFORMS,
        template=template,
    )
    packages = build(options, args.function or None)
    if args.json:
        print(json.dumps({"functions": [p.as_dict() for p in packages]}, indent=2))
    else:
        print(describe(packages))
    return 0
