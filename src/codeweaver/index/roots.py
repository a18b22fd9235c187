"""Which folders a caller may index: the index-root policy.

Indexing a folder makes its files readable through search and the file tools, so it is
a privilege over the server's file system. Local callers (the CLI, stdio MCP, a server
in auth mode ``none``) act as the OS user and may index any folder that user can read.
Remote callers (authenticated HTTP and MCP-over-HTTP principals):

* give an absolute path; ``~`` is never expanded and relative paths are refused;
* may index only a folder that, with every symlink resolved, lies inside one of their
  allowed roots (``index.tenant_roots`` for their tenant, else ``index.allowed_roots``);
  with no roots configured for them, only admins (``codeweaver:*:*``) may index, any
  folder; everyone else is told the operator must set ``index.allowed_roots``;
* never index the data home, a folder inside or around it, or a secret file's location.

Every refusal about a remote caller's path is the same ``OutOfScopeError`` with the same
message, whatever the reason (missing, not a folder, outside the roots, protected), so
the answer says nothing about the server's file system; the reason goes to the audit log.
For everyone, discovery never picks up files in protected locations.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from codeweaver.errors import OutOfScopeError, PathError, PermissionDeniedError
from codeweaver.index.confined import protected_hit
from codeweaver.index.discovery import resolve_root

__all__ = [
    "ADMIN_PERMISSION",
    "PATH_REFUSED",
    "Caller",
    "LocalCaller",
    "RootPolicy",
    "is_remote",
    "refuse_path",
]

ADMIN_PERMISSION = "codeweaver:*:*"
PATH_REFUSED = (
    "path not available for indexing: give an existing folder inside an index root "
    "allowed for you, holding no CodeWeaver data and no other tenant's project"
)


class Caller(Protocol):
    """Who asks to index (an authenticated ``Principal`` fits)."""

    @property
    def kind(self) -> str: ...  # "local" for the OS user; anything else is remote

    @property
    def tenant(self) -> str: ...

    @property
    def tenants(self) -> Collection[str] | None: ...

    def allows(self, permission: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class LocalCaller:
    """The OS user (CLI, stdio MCP, watchers), limited to ``tenants`` if given."""

    tenant: str = "default"
    tenants: Collection[str] | None = None
    kind: str = "local"

    def allows(self, permission: str) -> bool:
        return True


def is_remote(caller: Caller) -> bool:
    return caller.kind != "local"


def refuse_path(reason: str) -> OutOfScopeError:
    """The one answer to a remote caller's refused path; ``reason`` is only audited."""
    return OutOfScopeError(PATH_REFUSED, reason=f"index path refused: {reason}")


def _resolved(paths: Iterable[Path]) -> tuple[Path, ...]:
    out: list[Path] = []
    for path in paths:
        try:
            real = Path(os.path.expanduser(path)).resolve()
        except (OSError, RuntimeError, ValueError):
            continue
        if real not in out:
            out.append(real)
    return tuple(out)


class RootPolicy:
    """Admits the folder a caller asks to index, or refuses it."""

    def __init__(
        self,
        home: Path,
        allowed: Iterable[Path] = (),
        tenant_roots: Mapping[str, Iterable[Path]] | None = None,
        secrets: Iterable[Path] = (),
    ) -> None:
        self.protected = _resolved([home, *secrets])
        self._allowed = _resolved(allowed)
        self._tenants = {t: _resolved(r) for t, r in (tenant_roots or {}).items()}

    def roots_for(self, tenant: str) -> tuple[Path, ...]:
        return self._tenants.get(tenant, self._allowed)

    def admit(self, path: str | Path, caller: Caller) -> Path:
        """The resolved folder ``caller`` may index at ``path``."""
        if not is_remote(caller):
            return self._admit_local(path)
        roots = self.roots_for(caller.tenant)
        if not roots and not caller.allows(ADMIN_PERMISSION):
            raise PermissionDeniedError(
                "indexing server folders needs an allowed index root: with none configured "
                "only admins may index; ask the operator to set index.allowed_roots "
                "(CODEWEAVER_INDEX__ALLOWED_ROOTS) or index.tenant_roots"
            )
        root = self._real_folder(str(path))
        guard = self._touches_protected(root)
        if guard is not None:
            raise refuse_path(f"{root} overlaps the protected location {guard}")
        if roots and not any(root == r or r in root.parents for r in roots):
            raise refuse_path(f"{root} is outside the allowed index roots")
        return root

    def _admit_local(self, path: str | Path) -> Path:
        root = resolve_root(path)
        guard = protected_hit(root, self.protected)
        if guard is not None:
            raise PathError(
                f"cannot index {root}: it is inside {guard}, CodeWeaver's data or secret "
                "location, which is never indexed"
            )
        return root

    @staticmethod
    def _real_folder(text: str) -> Path:
        if not text or "\0" in text or not os.path.isabs(text):
            raise refuse_path(f"{text!r} is not an absolute path")
        try:
            root = Path(text).resolve(strict=True)
        except (OSError, RuntimeError, ValueError) as exc:
            raise refuse_path(f"{text!r} cannot be resolved: {type(exc).__name__}") from None
        if not root.is_dir() or not os.access(root, os.R_OK | os.X_OK):
            raise refuse_path(f"{root} is not a readable folder")
        return root

    def _touches_protected(self, root: Path) -> Path | None:
        for guard in self.protected:
            if root == guard or guard in root.parents or root in guard.parents:
                return guard
        return None
