"""The one exception tree of CodeWeaver.

::

    CodeWeaverError                 base; ``str(err)`` is a one-line user message
    ├── ConfigError                 invalid settings (names the setting)
    ├── InputError                  bad user input (query, limit, path, glob …)
    │   └── PathError               path missing, not a folder, outside the root
    ├── NotFoundError               unknown project / file / job
    │   └── OutOfScopeError         exists, but outside the caller's tenants (shown as not found)
    ├── IndexingError               a pipeline step failed (carries what was done)
    ├── StoreError                  the vector store failed (adapters translate to this)
    ├── EmbeddingError              the embedder / model failed (adapters translate to this)
    ├── UnavailableError            an upstream (Prometheus, a server, the owner) cannot be reached
    ├── AuthenticationError         missing, invalid or expired credentials
    ├── PermissionDeniedError       authenticated, but the role lacks the permission
    ├── RateLimitedError            too many requests (carries retry_after seconds)
    └── BackupError                 a backup, verification or restore step failed

Edges map these to exit codes / HTTP statuses in exactly one place each.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "BackupError",
    "CodeWeaverError",
    "ConfigError",
    "EmbeddingError",
    "IndexingError",
    "InputError",
    "NotFoundError",
    "OutOfScopeError",
    "PathError",
    "PermissionDeniedError",
    "RateLimitedError",
    "StoreError",
    "UnavailableError",
]


class CodeWeaverError(Exception):
    """Base of every error CodeWeaver raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))

    @property
    def message(self) -> str:
        return str(self)


class ConfigError(CodeWeaverError):
    """Settings are invalid; the message names the setting."""


class InputError(CodeWeaverError):
    """The caller gave bad input."""


class PathError(InputError):
    """A path is missing, of the wrong kind, or escapes its root."""


class NotFoundError(CodeWeaverError):
    """A named thing (project, file, job) does not exist."""


class IndexingError(CodeWeaverError):
    """Indexing failed as a whole (single bad files are reported, not raised)."""


class StoreError(CodeWeaverError):
    """The vector store failed."""


class EmbeddingError(CodeWeaverError):
    """The embedding model or provider failed."""


class UnavailableError(CodeWeaverError):
    """An upstream the operation needs (Prometheus, a remote server, a database, an object
    store, the owner process) cannot be reached or answers that it is unavailable; trying
    again later may succeed."""


class OutOfScopeError(NotFoundError):
    """The thing exists but belongs to another tenant; callers see it as not found.

    ``reason`` says what was refused, for the audit record only (never the answer)."""

    def __init__(self, message: str, reason: str = "outside the caller's tenants") -> None:
        super().__init__(message)
        self.reason = reason


class AuthenticationError(CodeWeaverError):
    """Credentials are missing, malformed, expired, revoked or wrong."""


class PermissionDeniedError(CodeWeaverError):
    """The caller is known but its role does not grant the permission."""


class RateLimitedError(CodeWeaverError):
    """The caller (or its tenant) sent too many requests; retry after ``retry_after`` s."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BackupError(CodeWeaverError):
    """A backup, its verification, its destination or a restore step failed."""
