"""RSA key pairs the size OSS signs callbacks with: 512 bits, which ``cryptography`` refuses to generate.

OSS signs every upload callback with the key at ``gosspublic.alicdn.com/callback_pub_key_v1.pem``, a 512-bit RSA
key (e=65537). The local OSS and the test kit sign with a key of that size so every local run exercises what
production sees (64-byte signatures, the verifier's lower bound). ``cryptography`` loads and uses such a key but
will not make one (its floor is 1024 bits), so this module builds it from two primes of half the size: random odd
candidates with the top two bits set (so ``n`` has exactly ``bits`` bits), sieved by small primes, then 40
Miller–Rabin rounds (error below 4^-40), with ``gcd(e, p-1) = gcd(e, q-1) = 1``. A 512-bit key takes a few
milliseconds. Sizes from 1024 bits up go to ``cryptography``'s own generator.

These keys are for local signing only, and the module never ships: the local OSS (``local/``), the test kit
(``testing``) and the doctor's forged callback (``doctor/``) use it, and the import contracts let none of those
import another, so it is a top-level module one layer below them, beside ``deploy/`` (``.importlinter``), that
``osscallback build`` leaves out of every function package (``deploy/contents.py``'s ``LOCAL_MODULES``) and
deployed code may not import.
"""

from __future__ import annotations

import math
import secrets

from cryptography.hazmat.primitives.asymmetric import rsa

#: The size of OSS's callback signing key (``callback_pub_key_v1.pem``), in bits.
OSS_KEY_BITS = 512
PUBLIC_EXPONENT = 65537
#: Smallest size this module makes: below 512 bits an MD5withRSA signature (34 bytes of DigestInfo plus 11 of
#: padding) does not fit.
MIN_BITS = 512
_MR_ROUNDS = 40
_SMALL_PRIMES = tuple(p for p in range(3, 2000, 2) if all(p % d for d in range(3, math.isqrt(p) + 1, 2)))
#: One gcd with their product sieves a candidate by all the small odd primes at once.
_SMALL_PRODUCT = math.prod(_SMALL_PRIMES)


def generate_private_key(bits: int = OSS_KEY_BITS) -> rsa.RSAPrivateKey:
    """A fresh RSA private key of exactly ``bits`` bits with e=65537 (``bits`` even, at least 512): by default
    like the one OSS signs callbacks with."""
    if bits >= 1024:
        return rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=bits)
    if bits < MIN_BITS or bits % 2:
        raise ValueError(f"RSA key size must be an even number of bits, at least {MIN_BITS}; got {bits}")
    half = bits // 2
    p = _prime(half)
    q = _prime(half)
    while q == p:  # pragma: no cover - two equal 256-bit primes: probability about 2^-250
        q = _prime(half)
    if p < q:
        p, q = q, p  # the PKCS#1 convention (p > q), as OpenSSL makes them
    n = p * q  # exactly `bits` bits: the top two bits of each prime are set
    d = pow(PUBLIC_EXPONENT, -1, math.lcm(p - 1, q - 1))
    public = rsa.RSAPublicNumbers(PUBLIC_EXPONENT, n)
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=public,
    )
    return numbers.private_key()


def _prime(bits: int) -> int:
    """A random prime of exactly ``bits`` bits, its top two bits set, with ``gcd(e, prime - 1) == 1``."""
    top = (1 << (bits - 1)) | (1 << (bits - 2))
    while True:
        candidate = secrets.randbits(bits) | top | 1
        if math.gcd(candidate, _SMALL_PRODUCT) != 1:
            continue
        if math.gcd(PUBLIC_EXPONENT, candidate - 1) != 1:
            continue
        if is_probable_prime(candidate):
            return candidate


def is_probable_prime(n: int, rounds: int = _MR_ROUNDS) -> bool:
    """Miller–Rabin with ``rounds`` random bases: ``False`` means composite for certain, ``True`` prime with an
    error probability below 4^-rounds."""
    if n < 2:
        return False
    for small in (2, *_SMALL_PRIMES[:30]):
        if n % small == 0:
            return n == small
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(rounds):
        a = 2 + secrets.randbelow(n - 3)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True
