"""``serve --tls-cert/--tls-key``: check the pair up front and turn it into uvicorn options.

A deployment without an ingress (compose, a single container) terminates TLS in the
process itself. The pair is loaded once here so a wrong path, an unreadable file or a
key that does not match the certificate is one clear line before the model loads,
instead of a traceback from inside uvicorn after it.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from codeweaver.errors import ConfigError

__all__ = ["tls_options"]


def _readable(kind: str, path: Path) -> Path:
    if not path.is_file():
        raise ConfigError(f"TLS {kind} {path}: no such file")
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise ConfigError(f"TLS {kind} {path}: cannot read it ({exc.strerror})") from None
    return path


def tls_options(cert: Path | None, key: Path | None) -> dict[str, Any]:
    """uvicorn's ``ssl_certfile``/``ssl_keyfile`` for a checked pair; ``{}`` for plain HTTP."""
    if cert is None and key is None:
        return {}
    if cert is None or key is None:
        raise ConfigError("--tls-cert and --tls-key go together: give both or neither")
    cert, key = _readable("certificate", cert), _readable("key", key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    except ssl.SSLError as exc:
        reason = exc.reason or str(exc)
        raise ConfigError(
            f"TLS certificate {cert} and key {key} cannot be used together: {reason}"
        ) from None
    return {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
