"""Backup and restore operations on the collections of one Qdrant server.

A restore builds the restored collection under a name of its own and swaps it in by
pointing the project's collection name at it as an alias (the server switches aliases
atomically). ``resolve`` tells what a name is now, ``switch`` re-points it, ``copy``
parks a collection's points under another name, ``drop`` deletes a collection. Every
client error leaves this module as ``StoreError``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from qdrant_client import QdrantClient, models

from codeweaver.adapters.server_export import (
    Exported,
    dense_dim,
    export_collection,
    import_collection,
)
from codeweaver.adapters.server_store import CLIENT_ERRORS, QdrantServerStore, alias_target
from codeweaver.errors import StoreError

__all__ = ["ServerCollections", "StoreMaker"]

StoreMaker = Callable[[str], QdrantServerStore]
_PAGE = 256


class ServerCollections:
    """The collections of the projects of one data directory on one Qdrant server.

    ``stores`` opens a store (with the configured collection parameters) on a collection
    name; every store shares ``client``."""

    def __init__(self, client: QdrantClient, stores: StoreMaker, prefix: str) -> None:
        self._client = client
        self._stores = stores
        self._prefix = prefix

    def live_name(self, project: str) -> str:
        """The name the engine searches and writes for ``project``."""
        return f"{self._prefix}{project}"

    def side_name(self, project: str, kind: str, token: str) -> str:
        """A collection beside the live one: ``<live>__<kind>_<token>``."""
        return f"{self.live_name(project)}__{kind}_{token}"

    def store(self, name: str) -> QdrantServerStore:
        return self._stores(name)

    @contextmanager
    def _calls(self, action: str) -> Iterator[None]:
        try:
            yield
        except CLIENT_ERRORS as exc:
            raise StoreError(f"could not {action} in Qdrant: {exc}") from exc

    def resolve(self, name: str) -> tuple[str | None, bool]:
        """``(collection, is_alias)``: the collection ``name`` reaches, and whether
        ``name`` is an alias; ``(None, False)`` when nothing has that name."""
        with self._calls(f"look up {name!r}"):
            target = alias_target(self._client, name)
            if target is not None:
                return target, True
            return (name, False) if self._client.collection_exists(name) else (None, False)

    def is_alias_target(self, name: str) -> bool:
        with self._calls("list the aliases"):
            return any(a.collection_name == name for a in self._client.get_aliases().aliases)

    def exists(self, name: str) -> bool:
        return self.resolve(name)[0] is not None

    def switch(self, alias: str, target: str | None) -> None:
        """Point ``alias`` at the collection ``target`` (``None``: remove the alias), in
        one atomic change. ``alias`` must not be a collection's own name."""
        current = self.resolve(alias)
        if current[0] is not None and not current[1]:
            raise StoreError(f"{alias!r} is a collection, not an alias; it cannot be re-pointed")
        ops: list[models.AliasOperations] = []
        if current[1]:
            ops.append(
                models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias))
            )
        if target is not None:
            create = models.CreateAlias(collection_name=target, alias_name=alias)
            ops.append(models.CreateAliasOperation(create_alias=create))
        if ops:
            with self._calls(f"point {alias!r} at {target!r}"):
                self._client.update_collection_aliases(change_aliases_operations=ops)

    def drop(self, name: str) -> None:
        """Delete the collection ``name`` (not an alias's name) if it exists."""
        with self._calls(f"delete {name!r}"):
            if alias_target(self._client, name) is None and self._client.collection_exists(name):
                self._client.delete_collection(name)

    def count(self, name: str) -> int:
        with self._calls(f"count {name!r}"):
            return int(self._client.count(name, exact=True).count)

    def copy(self, src: str, dst: str) -> int:
        """Copy every point of ``src`` into the new collection ``dst`` (made like every
        CodeWeaver collection); the counts must match. Returns the count."""
        with self._calls(f"copy {src!r} to {dst!r}"):
            self.drop(dst)
            self.store(dst).ensure(dense_dim(self._client.get_collection(src), src))
            offset: models.ExtendedPointId | None = None
            while True:
                records, offset = self._client.scroll(
                    src, limit=_PAGE, offset=offset, with_payload=True, with_vectors=True
                )
                points = [
                    models.PointStruct(id=r.id, vector=_vectors(r), payload=r.payload)
                    for r in records
                ]
                if points:
                    self._client.upsert(dst, points=points, wait=True)
                if offset is None:
                    break
        copied, expected = self.count(dst), self.count(src)
        if copied != expected:
            raise StoreError(f"copy of {src!r} holds {copied} points, not {expected}")
        return copied

    def wait_ready(self, name: str, timeout: float) -> str:
        """Wait (up to ``timeout`` s) while the server optimizes ``name`` (status
        yellow: the HNSW index is being built); returns the last status."""
        deadline = time.monotonic() + timeout
        while True:
            with self._calls(f"read the status of {name!r}"):
                status = str(self._client.get_collection(name).status.value)
            if status != "yellow" or time.monotonic() >= deadline:
                return status
            time.sleep(0.5)

    def export(
        self,
        name: str,
        out: Path,
        *,
        sample: int,
        on_bytes: Callable[[int], None] | None = None,
    ) -> Exported:
        return export_collection(self.store(name), out, sample=sample, on_bytes=on_bytes)

    def load(self, folder: Path, name: str) -> int:
        """Create ``name`` from the export in ``folder``; returns the points written."""
        return import_collection(self.store(name), folder)


def _vectors(record: models.Record) -> Any:
    return record.vector
