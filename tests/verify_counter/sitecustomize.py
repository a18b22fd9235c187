"""Loaded by a server subprocess started with this folder on ``PYTHONPATH``: every
argon2 password verification appends one line to ``$CODEWEAVER_TEST_VERIFY_LOG``, so a
test can count the password checks a real server made (whatever code path made them)."""

from __future__ import annotations

import os
from typing import Any


def _install(path: str) -> None:
    from argon2 import PasswordHasher

    original = PasswordHasher.verify

    def counted(self: PasswordHasher, stored: Any, password: Any) -> Any:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, b"verify\n")
        finally:
            os.close(fd)
        return original(self, stored, password)

    PasswordHasher.verify = counted  # type: ignore[method-assign]


if os.environ.get("CODEWEAVER_TEST_VERIFY_LOG"):
    _install(os.environ["CODEWEAVER_TEST_VERIFY_LOG"])
