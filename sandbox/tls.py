"""A self-signed certificate for 127.0.0.1.

kubectl will not send a bearer token over plain HTTP, so the sandbox speaks
HTTPS. The certificate is generated with the ``openssl`` command line tool, per run or once per
state folder, and written into the kubeconfig as ``certificate-authority-data``.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import tempfile
from pathlib import Path


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """Create cert.pem and key.pem in ``directory``; return their paths."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the sandbox needs the `openssl` command (apt-get install openssl)")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "365",
            "-subj",
            "/CN=sandbox",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def server_context(directory: Path | None = None) -> tuple[ssl.SSLContext, bytes]:
    """An SSL server context and the PEM certificate clients should trust.

    With ``directory``, the certificate kept there is used (and made there the first time), so
    kubeconfigs written earlier stay valid; otherwise a new one is made for this run.
    """
    with tempfile.TemporaryDirectory(prefix="sandbox-tls-") as tmp:
        if directory is None:
            cert, key = make_certificate(Path(tmp))
        else:
            cert, key = directory / "cert.pem", directory / "key.pem"
            if not (cert.exists() and key.exists()):
                directory.mkdir(parents=True, exist_ok=True)
                make_certificate(directory)
                key.chmod(0o600)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        return context, cert.read_bytes()
