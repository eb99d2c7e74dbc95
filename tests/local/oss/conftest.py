"""Fixtures for the local OSS tests: a LocalOSS on a temp data dir, oss2 buckets (V1, V4), clients of the v2 SDK
(``alibabacloud_oss_v2``, V1 and V4, path-style as for any IP endpoint), and a callback receiver.

The local OSS is a bucket created today (V4 only) for every test, except one that signs V1 or V2 on purpose to
check those verifiers: a V1 parameter of ``auth_version``/``v2client``, the ``bucket_v1`` fixture, or the
``old_bucket`` marker gives that test a bucket that predates 2025-09-01 (``signature_versions=ALL_VERSIONS``),
said here, in one place, and nowhere else."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import alibabacloud_oss_v2 as oss_v2
import oss2
import pytest

from osscallback.local.oss import ALL_VERSIONS, LocalOSS
from tests.support.oss import Receiver
from tests.support.oss_clients import REGION, make_auth, make_v2


def signs_before_v4(request: pytest.FixtureRequest) -> bool:
    """Whether the test signs V1 or V2 on purpose (then its bucket predates 2025-09-01)."""
    callspec = getattr(request.node, "callspec", None)
    params = callspec.params if callspec is not None else {}
    return (
        request.node.get_closest_marker("old_bucket") is not None
        or "bucket_v1" in request.fixturenames
        or "v1" in (params.get("auth_version"), params.get("v2client"))
    )


@pytest.fixture()
def local_oss(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[LocalOSS]:
    # The default 512-bit signing key: OSS's own size (callback_pub_key_v1.pem), and quick to make.
    versions = ALL_VERSIONS if signs_before_v4(request) else None  # None: V4 only, a bucket created today
    with LocalOSS(
        tmp_path / "oss", port=0, buckets=["examplebucket"], callback_timeout=1.5, signature_versions=versions
    ) as oss:
        yield oss


@pytest.fixture(params=["v1", "v4"])
def auth_version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture()
def bucket(local_oss: LocalOSS, auth_version: str) -> oss2.Bucket:
    return oss2.Bucket(make_auth(local_oss, auth_version), local_oss.endpoint, local_oss.bucket, region=REGION)


@pytest.fixture()
def bucket_v1(local_oss: LocalOSS) -> oss2.Bucket:
    return oss2.Bucket(make_auth(local_oss, "v1"), local_oss.endpoint, local_oss.bucket)


@pytest.fixture()
def bucket_v4(local_oss: LocalOSS) -> oss2.Bucket:
    return oss2.Bucket(make_auth(local_oss, "v4"), local_oss.endpoint, local_oss.bucket, region=REGION)


@pytest.fixture()
def make_bucket(local_oss: LocalOSS) -> Callable[..., oss2.Bucket]:
    def build(version: str = "v1", secret: str | None = None, **kwargs: object) -> oss2.Bucket:
        return oss2.Bucket(
            make_auth(local_oss, version, secret), local_oss.endpoint, local_oss.bucket, region=REGION, **kwargs
        )

    return build


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture(params=["v1", "v4"])
def v2client(local_oss: LocalOSS, request: pytest.FixtureRequest) -> oss_v2.Client:
    return make_v2(local_oss, str(request.param))
