"""``osscallback doctor``: check a callback endpoint the way OSS will use it, before an upload finds out.

OSS reports a broken callback only as ``203 CallbackFailed`` with one line, and the user's server often logs
nothing. The doctor makes the requests OSS makes and reads the answers the way OSS does (OSS "Callback" API
reference; SPEC §2-4), one check at a time, each ending in pass, warn or fail with one line on how to fix it:

1. ``address``: the host resolves, to IPv4 (OSS supports no IPv6: neither literals nor domains that resolve only to
   IPv6) and to public addresses (OSS calls only public ones; a private address is a warning, since it is what the
   local stack uses).
2. ``connect``: a TCP connection within the time budget; for https also ``tls`` (handshake and certificate, verified
   against the public CAs) and ``sni`` (whether the server also works without SNI, which OSS sends only when the
   callback says ``"callbackSNI": true``).
3. ``answer time``: a POST is answered within 5 s (OSS's fixed limit), timed.
4. ``POST allowed``: a 405 means the route takes only GET (OSS always POSTs).
5. ``refuses unsigned`` / ``refuses forged``: a callback without a signature, and one signed with a key that is not
   OSS's (its key URL on a look-alike host), must be refused with a JSON 4xx: proof the endpoint verifies.
6. ``answer headers``: ``Content-Length`` (OSS refuses an answer without one) and ``Content-Type: application/json``.
7. ``JSON answer``: the body is JSON and at most 3 MB. Only OSS can make the endpoint answer 200 (it holds the key),
   so these two read the refusals; an endpoint built on this bundle answers everything the same way.
8. ``FC 2.0 path``: a hint when the path is an FC 2.0 proxy path, whose signed path FC strips from ``PATH_INFO``.

A failed prerequisite (no address, no connection, no answer) stops the checks that need it; they are listed as
not run. The doctor sends nothing but these probes: two POSTs of a made-up callback body.

The doctor checks a deployed (or local) callback endpoint from the outside; it never ships to FC and is no local
stand-in for the cloud, so it has a room of its own. ``report.py`` holds the outcome types, ``target.py`` the URL
and its addresses, ``wire.py`` reading answers and certificates, ``checks.py`` the checks in order.
"""

from __future__ import annotations

from osscallback.doctor.checks import Doctor, diagnose
from osscallback.doctor.report import FAIL, OSS_TIMEOUT, PASS, WARN, Check, DoctorError, Probe, Report
from osscallback.doctor.target import Resolver, Target, classify_addresses, default_resolver, parse_target

__all__ = [
    "FAIL",
    "OSS_TIMEOUT",
    "PASS",
    "WARN",
    "Check",
    "Doctor",
    "DoctorError",
    "Probe",
    "Report",
    "Resolver",
    "Target",
    "classify_addresses",
    "default_resolver",
    "diagnose",
    "parse_target",
]
