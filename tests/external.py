"""Independent implementations the tests check us against: the openssl command."""

from __future__ import annotations

import shutil
import subprocess

import pytest

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl missing")


def openssl(args: list[str], data: bytes) -> bytes:
    """Runs ``openssl ARGS`` with ``data`` on stdin and returns its stdout."""
    return subprocess.run(
        ["openssl", *args], input=data, capture_output=True, check=True, timeout=30
    ).stdout


def openssl_cbc_hex(value: str, key_hex: str, iv_hex: str) -> str:
    """AES-256-CBC with PKCS#7 by openssl, as lower-case hex (what a website would send)."""
    return openssl(["enc", "-aes-256-cbc", "-K", key_hex, "-iv", iv_hex], value.encode()).hex()
