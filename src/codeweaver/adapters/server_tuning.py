"""Storage tuning of a Qdrant server collection (qdrant-client 1.20): what ``StoreTuning``
sets there.

A new collection is created with every set optimizer and WAL value and the on-disk
placement. An existing collection is brought to the set optimizer values and on-disk
placement with one ``PATCH /collections/{name}`` (``update_collection``) holding only what
differs, so an unchanged setting sends nothing and a value an operator set on the server
is kept unless CodeWeaver's setting names it. Qdrant cannot change a collection's WAL after
creation: a differing WAL value is reported in ``not_applied``.
"""

from __future__ import annotations

from typing import Any

from qdrant_client import models

from codeweaver.adapters.store_tuning import OPTIMIZER_NAMES, WAL_NAMES, StoreTuning, not_applied

__all__ = ["create_args", "effective", "update_args"]


def create_args(tuning: StoreTuning) -> dict[str, Any]:
    """``create_collection`` keyword arguments for the set optimizer and WAL values."""
    out: dict[str, Any] = {}
    if opt := tuning.optimizers():
        out["optimizers_config"] = models.OptimizersConfigDiff(**opt)
    if wal := tuning.wal():
        out["wal_config"] = models.WalConfigDiff(**wal)
    return out


def _on_disk(info: models.CollectionInfo, dense: str, sparse: str) -> dict[str, bool | None]:
    params = info.config.params
    vectors = params.vectors.get(dense) if isinstance(params.vectors, dict) else None
    sparse_params = (params.sparse_vectors or {}).get(sparse)
    index = sparse_params.index if sparse_params is not None else None
    return {
        "vectors": bool(vectors.on_disk) if vectors is not None else None,
        "sparse_index": bool(index.on_disk) if index is not None else False,
        "hnsw": bool(info.config.hnsw_config.on_disk),
        "payload": bool(params.on_disk_payload),
    }


def update_args(
    tuning: StoreTuning, info: models.CollectionInfo, dense: str, sparse: str
) -> dict[str, Any]:
    """``update_collection`` keyword arguments bringing the collection described by ``info``
    to the set values (empty: nothing differs)."""
    current = info.config.optimizer_config
    changed = {
        field: value
        for field, value in tuning.optimizers().items()
        if getattr(current, field, None) != value
    }
    out: dict[str, Any] = {}
    if changed:
        out["optimizers_config"] = models.OptimizersConfigDiff(**changed)
    want = tuning.on_disk
    if want is None:
        return out
    have = _on_disk(info, dense, sparse)
    if have["vectors"] is not want:
        out["vectors_config"] = {dense: models.VectorParamsDiff(on_disk=want)}
    if have["sparse_index"] is not want:
        out["sparse_vectors_config"] = {
            sparse: models.SparseVectorParams(
                index=models.SparseIndexParams(on_disk=want), modifier=models.Modifier.IDF
            )
        }
    if have["hnsw"] is not want:
        out["hnsw_config"] = models.HnswConfigDiff(on_disk=want)
    if have["payload"] is not want:
        out["collection_params"] = models.CollectionParamsDiff(on_disk_payload=want)
    return out


def effective(
    tuning: StoreTuning, info: models.CollectionInfo, dense: str, sparse: str
) -> dict[str, Any]:
    """What the server reports for the collection, and what of ``tuning`` it lacks."""
    opt = info.config.optimizer_config
    wal = info.config.wal_config
    out: dict[str, Any] = {"backend": "server", "segments": info.segments_count}
    for ours, theirs in OPTIMIZER_NAMES.items():
        out[ours] = getattr(opt, theirs, None)
    for ours, theirs in WAL_NAMES.items():
        out[ours] = getattr(wal, theirs, None) if wal is not None else None
    out["on_disk"] = _on_disk(info, dense, sparse)
    wal_reason = "Qdrant sets a collection's WAL when it is created; this one keeps its own"
    out["not_applied"] = not_applied(tuning, out, dict.fromkeys(WAL_NAMES, wal_reason))
    return out
