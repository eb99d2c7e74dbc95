"""The 512-bit keys the local OSS and the test kit sign with: OSS's own size, which ``cryptography`` will not make.

OSS signs callbacks with ``https://gosspublic.alicdn.com/callback_pub_key_v1.pem``, a 512-bit RSA key with
e=65537 (issue 19). These tests check what :mod:`osscallback.keygen` makes against that, and that our own
verifier (:func:`load_public_key` on the served PEM, then :func:`verify`) accepts what such a key signs.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from osscallback.callback.signature import load_public_key, public_pem, sign, string_to_sign, verify
from osscallback.keygen import OSS_KEY_BITS, generate_private_key, is_probable_prime


def test_the_key_is_oss_s_size_and_exponent() -> None:
    key = generate_private_key()  # the default: OSS's size
    assert OSS_KEY_BITS == 512
    assert key.key_size == 512
    numbers = key.private_numbers()
    assert numbers.public_numbers.e == 65537
    assert numbers.public_numbers.n.bit_length() == 512
    assert numbers.p * numbers.q == numbers.public_numbers.n
    assert numbers.p.bit_length() == numbers.q.bit_length() == 256
    assert is_probable_prime(numbers.p) and is_probable_prime(numbers.q)
    assert (numbers.d * 65537) % math.lcm(numbers.p - 1, numbers.q - 1) == 1


def test_it_signs_and_our_verifier_accepts_it_through_the_pem_a_key_url_serves() -> None:
    key = generate_private_key()
    data = string_to_sign("/callback", "a=1", b'{"object":"photo.jpg"}')
    signature = sign(key, data)
    assert len(signature) == 64  # what a real OSS callback's Authorization decodes to
    public = load_public_key(public_pem(key))  # what the callback function does with the key URL's answer
    assert public.key_size == 512
    assert verify(public, signature, data)
    assert not verify(public, signature, data + b" ")
    assert not verify(public, bytes([signature[0] ^ 1]) + signature[1:], data)


def test_the_private_key_survives_pem_as_the_local_oss_stores_it() -> None:
    key = generate_private_key()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    loaded = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    assert loaded.private_numbers() == key.private_numbers()


def test_two_keys_differ() -> None:
    first, second = generate_private_key(), generate_private_key()
    a, b = first.private_numbers(), second.private_numbers()
    assert a.public_numbers.n != b.public_numbers.n
    assert {a.p, a.q}.isdisjoint({b.p, b.q})


def test_a_512_bit_key_costs_no_more_than_the_2048_bit_key_the_local_oss_made_before() -> None:
    """Switching the local OSS and the test kit to OSS's size must not slow a run: a 512-bit key from our
    generator against a 2048-bit one from cryptography's (OpenSSL), the median of several, on the same machine."""

    def median_seconds(make: Callable[[], object], runs: int = 7) -> float:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            make()
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    ours = median_seconds(lambda: generate_private_key(512))
    openssl_2048 = median_seconds(lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))
    assert ours < openssl_2048


@pytest.mark.parametrize("bits", [768, 1024, 2048])
def test_other_sizes_when_a_test_needs_them(bits: int) -> None:
    key = generate_private_key(bits)
    assert key.key_size == bits and key.public_key().public_numbers().e == 65537


@pytest.mark.parametrize("bits", [0, 256, 510, 511, 513, 767])
def test_sizes_it_cannot_make_are_refused(bits: int) -> None:
    with pytest.raises(ValueError, match="RSA key size"):
        generate_private_key(bits)


def test_miller_rabin_tells_primes_from_composites() -> None:
    primes = [2, 3, 5, 131, 7919, 2**127 - 1, 2**255 - 19]
    # Carmichael numbers fool a Fermat test; 2^128 + 1 and a product of two 128-bit primes are plain composites.
    composites = [0, 1, 4, 561, 1105, 8911, 2**128 + 1, (2**127 - 1) * (2**89 - 1)]
    assert all(is_probable_prime(n) for n in primes)
    assert not any(is_probable_prime(n) for n in composites)
