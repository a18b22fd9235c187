"""The image's HEALTHCHECK: exit 0 when ``/health/live`` answers 200, 1 otherwise.

Standard library only (the slim image has no curl). ``CODEWEAVER_HEALTH_URL`` overrides
the address, e.g. ``https://127.0.0.1:8080/health/live`` when ``serve`` runs with
``--tls-cert``; the loopback check then does not verify the certificate's name, which
belongs to the public host name, not to 127.0.0.1.
"""

from __future__ import annotations

import os
import ssl
import sys
import urllib.request

__all__ = ["main"]

DEFAULT_URL = "http://127.0.0.1:8080/health/live"


def main() -> int:
    url = os.environ.get("CODEWEAVER_HEALTH_URL", DEFAULT_URL)
    context = None
    if url.startswith("https://"):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=4, context=context) as response:
            return 0 if response.status == 200 else 1
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
