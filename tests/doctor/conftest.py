"""Fixtures for the doctor's tests: a throwaway CA that the doctor trusts through SSL_CERT_FILE."""

from __future__ import annotations

from pathlib import Path

import pytest

from osscallback.testing import LocalCA


@pytest.fixture(scope="session")
def ca() -> LocalCA:
    return LocalCA("osscallback doctor test CA")


@pytest.fixture()
def trust_ca(ca: LocalCA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalCA:
    """Make the default (system) trust store this CA alone, as a public CA is for a deployed endpoint."""
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(ca.pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return ca
