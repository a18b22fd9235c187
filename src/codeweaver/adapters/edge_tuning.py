"""Storage tuning of a Qdrant Edge shard (qdrant-edge-py 0.9): what ``StoreTuning`` sets there.

What the binding accepts, read from the package and measured:

* ``EdgeOptimizersConfig(deleted_threshold, vacuum_min_vector_number,
  default_segment_number, max_segment_size, indexing_threshold, prevent_unoptimized)``:
  no ``memmap_threshold``. The binding does not validate ranges (``deleted_threshold=5.0``
  is stored); the settings do.
* No WAL parameters: a shard's WAL is on or off (``wal_enabled``), in 32 MiB segments with
  one segment ahead.
* On disk: ``on_disk`` of the dense vectors, of the sparse index and of the HNSW graph, and
  ``on_disk_payload``.
* The shard keeps its config in ``edge_config.json``. ``EdgeShard.load(path, config)``
  overwrites it: a top-level field given replaces the stored one as a whole (an
  ``EdgeOptimizersConfig`` with one value set clears the others), a field left ``None``
  keeps the stored one, and ``vectors``/``sparse_vectors`` are checked against the
  segments. So a change is applied by loading with the stored config merged with the
  configured values; existing segments keep their on-disk placement until the optimizer
  rebuilds them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from codeweaver.adapters.store_tuning import EDGE_UNSUPPORTED, StoreTuning, not_applied

__all__ = [
    "CONFIG_FILE",
    "effective",
    "load_config",
    "optimizers",
    "stored_config",
]

CONFIG_FILE = "edge_config.json"
_DEFAULTS = {"deleted_threshold": 0.2, "vacuum_min_vector_number": 1000}
"""The binding's documented defaults for an unset value."""
_OPTIMIZER_FIELDS = (
    "deleted_threshold",
    "vacuum_min_vector_number",
    "default_segment_number",
    "max_segment_size",
    "indexing_threshold",
    "prevent_unoptimized",
)


def optimizers(tuning: StoreTuning, stored: dict[str, Any] | None = None) -> Any:
    """The ``EdgeOptimizersConfig``: ``stored`` (a shard's stored optimizers) with the
    configured values over it; ``None`` when neither sets anything."""
    values = {k: (stored or {}).get(k) for k in _OPTIMIZER_FIELDS}
    values.update(tuning.optimizers(with_memmap=False))
    if all(v is None for v in values.values()):
        return None
    return qe.EdgeOptimizersConfig(**values)


def stored_config(path: Path) -> dict[str, Any] | None:
    """The config the shard at ``path`` stored (``None``: none there)."""
    try:
        data = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _wanted(tuning: StoreTuning, stored: dict[str, Any]) -> dict[str, Any]:
    """``stored`` as the configured values would change it."""
    want = json.loads(json.dumps(stored))
    opt = dict(want.get("optimizers") or {})
    opt.update(tuning.optimizers(with_memmap=False))
    want["optimizers"] = opt
    if tuning.on_disk is not None:
        for section in ("vectors", "sparse_vectors"):
            for params in (want.get(section) or {}).values():
                params["on_disk"] = tuning.on_disk
        if want.get("hnsw_config"):
            want["hnsw_config"]["on_disk"] = tuning.on_disk
        want["on_disk_payload"] = tuning.on_disk
    return dict(want)


def _same(stored: dict[str, Any], want: dict[str, Any]) -> bool:
    have_opt = {k: (stored.get("optimizers") or {}).get(k) for k in _OPTIMIZER_FIELDS}
    want_opt = {k: (want.get("optimizers") or {}).get(k) for k in _OPTIMIZER_FIELDS}
    if have_opt != want_opt:
        return False
    keys = ("vectors", "sparse_vectors", "hnsw_config", "on_disk_payload")
    return all(stored.get(k) == want.get(k) for k in keys)


def load_config(tuning: StoreTuning, stored: dict[str, Any] | None) -> Any:
    """The ``EdgeConfig`` to load an existing shard with so that it takes the configured
    values; ``None`` when it has them already (or stored no config to merge with)."""
    if stored is None or not (tuning.optimizers(with_memmap=False) or tuning.on_disk is not None):
        return None
    want = _wanted(tuning, stored)
    if _same(stored, want):
        return None
    vectors = {
        name: qe.EdgeVectorParams(
            size=int(p["size"]),
            distance=getattr(qe.Distance, str(p.get("distance", "Cosine"))),
            on_disk=p.get("on_disk"),
        )
        for name, p in (want.get("vectors") or {}).items()
    }
    sparse = {
        name: qe.EdgeSparseVectorParams(
            modifier=qe.Modifier.Idf if p.get("modifier") == "idf" else None,
            on_disk=p.get("on_disk"),
        )
        for name, p in (want.get("sparse_vectors") or {}).items()
    }
    hnsw = want.get("hnsw_config")
    hnsw_config = None
    if hnsw and tuning.on_disk is not None:
        hnsw_config = qe.HnswIndexConfig(
            m=int(hnsw["m"]),
            ef_construct=int(hnsw["ef_construct"]),
            full_scan_threshold=int(hnsw["full_scan_threshold"]),
            max_indexing_threads=int(hnsw.get("max_indexing_threads") or 0),
            on_disk=hnsw.get("on_disk"),
        )
    return qe.EdgeConfig(
        vectors=vectors or None,
        sparse_vectors=sparse or None,
        hnsw_config=hnsw_config,
        optimizers=optimizers(StoreTuning(), want.get("optimizers")),
        on_disk_payload=tuning.on_disk,
    )


def effective(tuning: StoreTuning, stored: dict[str, Any] | None, segments: int) -> dict[str, Any]:
    """What the shard has (its stored config; unset values as the binding's defaults, or
    ``None`` where the shard chooses automatically), and what of ``tuning`` it lacks."""
    stored = stored or {}
    opt = stored.get("optimizers") or {}
    vectors: dict[str, Any] = next(iter((stored.get("vectors") or {}).values()), {})
    sparse: dict[str, Any] = next(iter((stored.get("sparse_vectors") or {}).values()), {})
    out: dict[str, Any] = {
        "backend": "embedded",
        "segments": segments,
        "deleted_threshold": opt.get("deleted_threshold", None),
        "vacuum_min_vector_number": opt.get("vacuum_min_vector_number", None),
        "default_segment_number": opt.get("default_segment_number", None),
        "max_segment_size_kb": opt.get("max_segment_size", None),
        "wal_enabled": stored.get("wal_enabled", True) is not False,
        "on_disk": {
            "vectors": vectors.get("on_disk"),
            "sparse_index": sparse.get("on_disk"),
            "hnsw": (stored.get("hnsw_config") or {}).get("on_disk"),
            "payload": stored.get("on_disk_payload"),
        },
    }
    for name, value in _DEFAULTS.items():
        if out[name] is None:
            out[name] = value
    reasons = {name: "not supported by the embedded Qdrant Edge shard" for name in EDGE_UNSUPPORTED}
    out["not_applied"] = not_applied(tuning, out, reasons)
    return out
