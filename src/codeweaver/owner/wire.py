"""How errors cross the owner's socket: ``{"error": message, "type": name}`` and back.

The owner sends the class name of the ``CodeWeaverError`` it raised; the client raises
the same class again, so a command fails with the same message and exit code whether
the owner or the command itself ran the engine.
"""

from __future__ import annotations

from typing import Any

from codeweaver import errors as e

__all__ = ["VERSION_HEADER", "error_body", "raise_error", "status_for"]

VERSION_HEADER = "X-CodeWeaver-Version"
_CLASSES: dict[str, type[e.CodeWeaverError]] = {
    cls.__name__: cls
    for cls in (
        e.ConfigError,
        e.InputError,
        e.PathError,
        e.NotFoundError,
        e.IndexingError,
        e.StoreError,
        e.EmbeddingError,
        e.BackupError,
    )
}
_STATUS = ((e.InputError, 400), (e.NotFoundError, 404), (e.ConfigError, 400))


def status_for(exc: e.CodeWeaverError) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def error_body(exc: e.CodeWeaverError) -> dict[str, str]:
    # shown as not found, exactly like an unknown project (its own class needs a reason)
    name = "NotFoundError" if isinstance(exc, e.NotFoundError) else type(exc).__name__
    return {"error": str(exc), "type": name}


def raise_error(body: Any, status: int) -> None:
    """Raise the error an owner's answer carries."""
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        cls = _CLASSES.get(str(body.get("type")), e.CodeWeaverError)
        raise cls(body["error"])
    raise e.CodeWeaverError(f"the CodeWeaver owner answered {status} without an error message")
