"""OSS's own callback key has 512 bits: the verifier must load it, and still refuse keys too small or too large.

The PEM below is what ``http(s)://gosspublic.alicdn.com/callback_pub_key_v1.pem`` serves, as pinned verbatim by
public code that verifies OSS callbacks: cloudreve/Cloudreve ``pkg/filesystem/driver/oss/callback_test.go``,
alphasnow/aliyun-oss-appserver-go ``callback_test.go``, a Koa ``uploadCallback`` (``crypto.createVerify('RSA-MD5')``)
and a Java ``checkCallbackSign`` (``MD5withRSA``). OSS's Go SDK FAQ (https://help.aliyun.com/zh/oss/go-sdk-faq,
"基于Go 1.20及以上版本验证OSS回调签名报错512-bit keys are insecure") is about this very key. Before this test,
``load_public_key`` refused it (1024-bit floor), so every real callback got 502 PubKeyFetchFailed. The callbacks OSS
really signed, in ``tests/callback/golden/``, verify against it.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from osscallback.callback.keys import KeyFetchError, PublicKeyCache
from osscallback.callback.signature import MAX_KEY_BITS, MIN_KEY_BITS, load_public_key

OSS_CALLBACK_PUB_KEY_V1 = b"""-----BEGIN PUBLIC KEY-----
MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAKs/JBGzwUB2aVht4crBx3oIPBLNsjGs
C0fTXv+nvlmklvkcolvpvXLTjaxUHR3W9LXxQ2EHXAJfCB+6H2YF1k8CAwEAAQ==
-----END PUBLIC KEY-----
"""


def _pem_of_size(bits: int) -> bytes:
    """A PEM public key with a modulus of exactly ``bits`` bits (not a real key pair: only its size matters here;
    cryptography refuses to generate keys this small or this large, but loads their public numbers)."""
    modulus = (1 << (bits - 1)) | 0xB7  # top bit set: exactly ``bits`` bits; odd
    key = rsa.RSAPublicNumbers(65537, modulus).public_key()
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_oss_real_key_loads() -> None:
    key = load_public_key(OSS_CALLBACK_PUB_KEY_V1)
    assert (key.key_size, key.public_numbers().e) == (512, 65537)


def test_oss_real_key_passes_the_key_cache() -> None:
    """Through the cache the function uses: the fetched PEM becomes a key, not a 502 PubKeyFetchFailed."""
    cache = PublicKeyCache(fetcher=lambda url: OSS_CALLBACK_PUB_KEY_V1)
    key = cache.get("http://gosspublic.alicdn.com/callback_pub_key_v1.pem")
    assert key.key_size == 512 and len(cache) == 1


@pytest.mark.parametrize("bits", [MIN_KEY_BITS, 1024, MAX_KEY_BITS])
def test_sizes_inside_the_bounds_load(bits: int) -> None:
    assert load_public_key(_pem_of_size(bits)).key_size == bits


@pytest.mark.parametrize("bits", [384, MIN_KEY_BITS - 1, MAX_KEY_BITS + 1, 16384])
def test_sizes_outside_the_bounds_are_refused(bits: int) -> None:
    with pytest.raises(ValueError, match=f"the RSA key has {bits} bits; a callback key must have 512 to 8192 bits"):
        load_public_key(_pem_of_size(bits))
    cache = PublicKeyCache(fetcher=lambda url: _pem_of_size(bits))
    with pytest.raises(KeyFetchError) as caught:
        cache.get("http://gosspublic.alicdn.com/callback_pub_key_v1.pem")
    assert caught.value.status == 502 and len(cache) == 0
