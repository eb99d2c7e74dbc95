"""An https callback URL gets SNI only when the callback parameter says ``"callbackSNI": true``, as on OSS.

OSS's "Callback" API reference: ``callbackSNI`` says whether OSS sends Server Name Indication to the callbackUrl's
host, default false; OSS wants it as a JSON boolean ("The callback sni is invalid" otherwise: OSS, "Error 'The
callback sni is invalid' occurs during an upload callback with the OSS Android SDK"). A host that needs SNI (FC
custom domains, CDN-fronted sites) then fails the TLS handshake, and the upload answers 203 CallbackFailed with
"Error status : 502." (cloudreve/cloudreve#448, its 2026-03-28 comment naming SNI as the cause; #1693, #1896).

The server here is real TLS on 127.0.0.1 that aborts any ClientHello without a server name; the local OSS, like
OSS, does not check a callback host's certificate (its sender trusts any), so the test's own CA is enough.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import oss2
import pytest

from osscallback.local.oss import LocalOSS
from osscallback.testing import LocalCA
from tests.support.doctor import RawServer, http_answer, sni_context
from tests.support.oss import b64json

OK = http_answer("200 OK", json.dumps({"Status": "OK"}).encode())


@pytest.fixture()
def needs_sni(tmp_path: Path) -> Iterator[RawServer]:
    """An HTTPS callback host that refuses a handshake without SNI (``localhost``: a name, so SNI can carry it)."""
    context = sni_context(LocalCA().server_context(["localhost"], tmp_path), require_sni=True)
    with RawServer(lambda _request: OK, tls=context) as server:
        yield server


@pytest.fixture()
def bucket(tmp_path: Path) -> Iterator[oss2.Bucket]:
    with LocalOSS(tmp_path / "oss", callback_timeout=3) as oss:
        creds = oss2.credentials.StaticCredentialsProvider(oss.access_key_id, oss.access_key_secret)
        yield oss2.Bucket(oss2.ProviderAuthV4(creds), oss.endpoint, oss.bucket, region=oss.region)


def _callback(url: str, **extra: object) -> dict[str, str]:
    return {"x-oss-callback": b64json({"callbackUrl": url, "callbackBody": "object=${object}", **extra})}


def test_without_callback_sni_a_host_that_needs_it_fails_as_on_oss(needs_sni: RawServer, bucket: oss2.Bucket) -> None:
    result = bucket.put_object("no-sni.txt", b"kept", headers=_callback(needs_sni.url("https", "localhost")))
    assert result.status == 203
    root = ET.fromstring(result.resp.read())
    assert root.findtext("Code") == "CallbackFailed"
    assert root.findtext("Message") == "Error status : 502."  # what OSS answered (cloudreve/cloudreve#448, #1693)
    assert needs_sni.requests == []  # the handshake failed: no request reached the host
    assert bucket.get_object("no-sni.txt").read() == b"kept"  # stored anyway, as on OSS
    off = bucket.put_object("sni-false.txt", b"x", headers=_callback(needs_sni.url("https", "localhost"),
                                                                      callbackSNI=False))
    assert off.status == 203


def test_with_callback_sni_the_handshake_names_the_host(needs_sni: RawServer, bucket: oss2.Bucket) -> None:
    result = bucket.put_object("sni.txt", b"x", headers=_callback(needs_sni.url("https", "localhost"),
                                                                  callbackSNI=True))
    assert result.status == 200
    assert json.loads(result.resp.read()) == {"Status": "OK"}
    assert len(needs_sni.requests) == 1
    assert needs_sni.requests[0].startswith(b"POST / HTTP/1.1\r\n")


def test_a_string_callback_sni_is_refused_as_oss_does(needs_sni: RawServer, bucket: oss2.Bucket) -> None:
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        bucket.put_object("bad.txt", b"x", headers=_callback(needs_sni.url("https", "localhost"), callbackSNI="true"))
    assert exc.value.status == 400
