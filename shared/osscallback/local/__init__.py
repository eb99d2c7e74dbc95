"""Local development tooling that is never deployed: stand-ins for the cloud on 127.0.0.1.

- :mod:`~osscallback.local.oss`: the local OSS (oss2-compatible, performs real signed upload callbacks);
- :mod:`~osscallback.local.fc`: the local Function Compute host, driven by the Serverless Devs template;
- :mod:`~osscallback.local.stack`: both wired together like a deployment, running the events in ``events/``;
- :mod:`~osscallback.local.httpserver`: waitress in a thread, for the servers above;
- :mod:`~osscallback.local.clientsteps`: what an uploader's client does (PUT a presigned URL, POST a form).

It may import the deployed packages (it runs them) and :mod:`osscallback.deploy` (the template reader), never the
CLI. ``osscallback build`` never ships it.
"""
