"""The TLS certificate a server presents: expiry, subject and whether it is trusted."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509

from codeweaver.adapters.http_get import tls_context
from codeweaver.errors import CodeWeaverError, UnavailableError

__all__ = ["CertInfo", "fetch_certificate"]


@dataclass(frozen=True, slots=True)
class CertInfo:
    subject: str
    not_after: datetime
    trusted: bool
    trust_error: str | None

    def days_left(self, now: datetime | None = None) -> float:
        now = now or datetime.now(UTC)
        return (self.not_after - now).total_seconds() / 86400.0


def _peer_der(host: str, port: int, timeout: float) -> bytes:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            ctx.wrap_socket(raw, server_hostname=host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except ssl.SSLError as exc:
        raise CodeWeaverError(f"TLS handshake with {host}:{port} failed: {exc}") from exc
    except OSError as exc:  # refused, timed out, no route: nothing answers there
        raise UnavailableError(f"TLS handshake with {host}:{port} failed: {exc}") from exc
    if not der:
        raise CodeWeaverError(f"{host}:{port} presented no certificate")
    return der


def _trust(host: str, port: int, timeout: float, ca_file: Path | None) -> str | None:
    ctx = tls_context(ca_file)
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            ctx.wrap_socket(raw, server_hostname=host),
        ):
            return None
    except ssl.SSLCertVerificationError as exc:
        return str(exc.verify_message or exc)
    except (OSError, ssl.SSLError) as exc:
        return str(exc)


def fetch_certificate(
    host: str, port: int, *, ca_file: Path | None = None, timeout: float = 10.0
) -> CertInfo:
    cert = x509.load_der_x509_certificate(_peer_der(host, port, timeout))
    error = _trust(host, port, timeout, ca_file)
    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        not_after=cert.not_valid_after_utc,
        trusted=error is None,
        trust_error=error,
    )
