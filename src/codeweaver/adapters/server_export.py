"""A logical export of a Qdrant server collection: every point, streamed to three files.

- ``collection.json``: the format and its version, the dense dimension, the point count,
  how CodeWeaver creates the collection (``QdrantServerStore.creation_params``) and the
  server's own description of it (``config``, for reference);
- ``dense.npy``: the dense vectors, little-endian float32, one row per point (NumPy's
  format: any tool reads it, and a restore maps it instead of parsing text);
- ``points.jsonl``: one line per point, in the rows' order:
  ``{"id", "sparse": [[indices], [values]], "payload"}``.

The export scrolls the collection by id in pages and writes each page as it arrives, so
memory stays flat whatever the size. It uses only the client's point API: it works the
same against a server, a cluster and the client's local mode. An import creates the
collection with the adapter's own ``ensure`` and upserts the points in batches.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
from qdrant_client import models

from codeweaver.adapters.server_store import CLIENT_ERRORS, DENSE, SPARSE, QdrantServerStore
from codeweaver.errors import BackupError, StoreError
from codeweaver.types import SparseVec, StoredPoint

__all__ = [
    "DENSE_FILE",
    "FORMAT",
    "META_FILE",
    "POINTS_FILE",
    "Exported",
    "dense_dim",
    "export_collection",
    "import_collection",
    "read_meta",
]

FORMAT = "codeweaver-qdrant-export"
VERSION = 1
META_FILE = "collection.json"
DENSE_FILE = "dense.npy"
POINTS_FILE = "points.jsonl"
_DTYPE = np.dtype("<f4")


@dataclass(frozen=True, slots=True)
class Exported:
    """What an export wrote: the point count, the dimension and the sampled points
    (``{"point", "dense", "sparse": {"indices", "values"}}``, spread over the collection)."""

    points: int
    dim: int
    samples: list[dict[str, Any]] = field(default_factory=list)


def dense_dim(info: models.CollectionInfo, name: str) -> int:
    vectors = info.config.params.vectors
    params = vectors.get(DENSE) if isinstance(vectors, dict) else None
    if params is None:
        raise StoreError(f"collection {name!r} has no {DENSE!r} vector")
    return int(params.size)


def _row(record: models.Record, dim: int) -> tuple[list[float], list[list[Any]]]:
    vectors = record.vector if isinstance(record.vector, dict) else {}
    raw = vectors.get(DENSE)
    if not isinstance(raw, list) or len(raw) != dim or not all(isinstance(x, float) for x in raw):
        raise StoreError(f"point {record.id} has no {dim}-dimensional {DENSE!r} vector")
    dense = cast(list[float], raw)
    sparse = vectors.get(SPARSE)
    if isinstance(sparse, models.SparseVector):
        return dense, [list(sparse.indices), list(sparse.values)]
    return dense, [[], []]


def _sample(record_id: Any, dense: list[float], sparse: list[list[Any]]) -> dict[str, Any]:
    return {
        "point": str(record_id),
        "dense": [float(x) for x in dense],
        "sparse": {"indices": [int(i) for i in sparse[0]], "values": [float(v) for v in sparse[1]]},
    }


def _pages(store: QdrantServerStore, page: int) -> Iterator[list[models.Record]]:
    offset: models.ExtendedPointId | None = None
    while True:
        records, offset = store.client.scroll(
            store.collection, limit=page, offset=offset, with_payload=True, with_vectors=True
        )
        yield records
        if offset is None:
            return


def export_collection(
    store: QdrantServerStore,
    out: Path,
    *,
    sample: int = 0,
    page: int = 256,
    on_bytes: Callable[[int], None] | None = None,
) -> Exported:
    """Write every point of ``store``'s collection into the new folder ``out``.

    The collection must not change meanwhile (the caller holds the project's writer
    lock): a count that moves is an error. ``on_bytes`` is told each page's size."""
    name = store.collection
    try:
        info = store.client.get_collection(name)
        dim = dense_dim(info, name)
        total = int(store.client.count(name, exact=True).count)
        step = max(1, total // sample) if sample > 0 else 0
        samples: list[dict[str, Any]] = []
        written = 0
        out.mkdir(parents=True)
        with (out / DENSE_FILE).open("xb") as dense_fh, (out / POINTS_FILE).open("xb") as lines:
            header = {"descr": _DTYPE.str, "fortran_order": False, "shape": (total, dim)}
            np.lib.format.write_array_header_1_0(dense_fh, header)
            for records in _pages(store, page):
                if written + len(records) > total:
                    raise StoreError(f"collection {name!r} grew while it was exported")
                rows = np.empty((len(records), dim), dtype=_DTYPE)
                text: list[str] = []
                for i, rec in enumerate(records):
                    dense, sparse = _row(rec, dim)
                    rows[i] = dense
                    item = {"id": rec.id, "sparse": sparse, "payload": rec.payload or {}}
                    text.append(json.dumps(item, ensure_ascii=False, separators=(",", ":")))
                    if step and (written + i) % step == 0 and len(samples) < sample:
                        samples.append(_sample(rec.id, dense, sparse))
                raw = rows.tobytes()
                blob = "".join(f"{t}\n" for t in text).encode()
                dense_fh.write(raw)
                lines.write(blob)
                written += len(records)
                if on_bytes is not None:
                    on_bytes(len(raw) + len(blob))
        if written != total:
            raise StoreError(f"collection {name!r} shrank while it was exported")
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "collection": name,
            "dim": dim,
            "points": written,
            "created_with": store.creation_params(),
            "config": info.config.model_dump(mode="json"),
        }
        (out / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
    except CLIENT_ERRORS as exc:
        raise StoreError(f"could not export collection {name!r} from Qdrant: {exc}") from exc
    return Exported(written, dim, samples)


def read_meta(folder: Path) -> dict[str, Any]:
    """``collection.json`` of an export, checked for its format and version."""
    try:
        meta: dict[str, Any] = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT or meta.get("version") != VERSION:
            raise ValueError(f"not a {FORMAT} version {VERSION} export")
        int(meta["dim"])
        int(meta["points"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"collection export {folder / META_FILE} is unreadable: {exc}") from exc
    return meta


def _points(folder: Path, dense: np.ndarray[Any, Any]) -> Iterator[StoredPoint]:
    n = 0
    with (folder / POINTS_FILE).open("rb") as fh:
        for line in fh:
            if n >= len(dense):
                raise ValueError(f"{POINTS_FILE} has more lines than {DENSE_FILE} has rows")
            item = json.loads(line)
            indices, values = item["sparse"]
            sparse = SparseVec(tuple(int(i) for i in indices), tuple(float(v) for v in values))
            payload = item["payload"]
            if not isinstance(payload, dict):
                raise ValueError(f"line {n + 1}: the payload is not an object")
            yield StoredPoint(item["id"], dense[n], sparse, payload)
            n += 1
    if n != len(dense):
        raise ValueError(f"{POINTS_FILE} has {n} lines, {DENSE_FILE} has {len(dense)} rows")


def import_collection(store: QdrantServerStore, folder: Path, *, batch: int = 1024) -> int:
    """Create ``store``'s collection (which must not exist) from the export in ``folder``
    and upsert every point; returns the number of points written."""
    meta = read_meta(folder)
    dim = int(meta["dim"])
    try:
        dense = np.load(folder / DENSE_FILE, mmap_mode="r", allow_pickle=False)
        if dense.dtype != _DTYPE or dense.shape != (int(meta["points"]), dim):
            raise ValueError(
                f"{DENSE_FILE} holds {dense.dtype} {dense.shape}, expected "
                f"float32 ({meta['points']}, {dim})"
            )
    except (OSError, ValueError) as exc:
        raise BackupError(f"collection export in {folder} is damaged: {exc}") from exc
    store.ensure(dim)
    written = 0
    pending: list[StoredPoint] = []
    try:
        for point in _points(folder, dense):
            pending.append(point)
            if len(pending) >= batch:
                store.upsert(pending)
                written += len(pending)
                pending = []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"collection export in {folder} is damaged: {exc}") from exc
    store.upsert(pending)
    return written + len(pending)
