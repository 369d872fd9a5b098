"""A throwaway CA and server certificate for TLS tests, made with the ``openssl`` CLI."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.cache.redis_config import TlsFiles

_SERVER_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
"""


def openssl_binary() -> str | None:
    """Path of the openssl executable, or None when it is not installed."""
    return shutil.which("openssl")


def make_tls_files(directory: Path) -> TlsFiles:
    """Write ca.crt, server.crt and server.key (EC P-256, valid two days) into ``directory``."""
    binary = openssl_binary()
    if binary is None:
        raise RuntimeError("openssl is not installed")
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    key, csr, crt = directory / "server.key", directory / "server.csr", directory / "server.crt"
    extensions = directory / "server.ext"
    extensions.write_text(_SERVER_EXTENSIONS)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    steps = [
        [
            "req",
            "-x509",
            *ec,
            "-keyout",
            ca_key,
            "-out",
            ca_crt,
            "-days",
            "2",
            "-subj",
            "/CN=mcp-discoveryd test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
        ["req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=localhost"],
        [
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            ca_crt,
            "-CAkey",
            ca_key,
            "-CAcreateserial",
            "-out",
            crt,
            "-days",
            "2",
            "-extfile",
            extensions,
        ],
    ]
    for step in steps:
        subprocess.run(
            [binary, *map(str, step)],
            check=True,
            capture_output=True,
            timeout=30,
        )
    return TlsFiles(ca_path=ca_crt, cert_path=crt, key_path=key)
