"""Backup helpers for Qdrant Edge shards: probe vectors sampled from a shard.

A probe is a stored point's own dense and sparse vectors, replayed later as a hybrid
query; its top results must come back the same from a restored shard.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import qdrant_edge as qe

from codeweaver.errors import StoreError

__all__ = ["sample_vectors"]


def sample_vectors(path: Path, count: int, scan: int = 2000) -> list[dict[str, Any]]:
    """Up to ``count`` points spread over the first ``scan`` ids of the shard at ``path``:
    ``{"point", "dense", "sparse": {"indices", "values"}}``. The shard must be closed
    elsewhere (the caller passes a copy)."""
    if count < 1:
        return []
    try:
        shard = qe.EdgeShard.load(str(path))
    except Exception as exc:
        raise StoreError(f"could not open the index copy at {path}: {exc}") from exc
    try:
        records, _ = shard.scroll(qe.ScrollRequest(limit=scan, with_vector=True))
    except Exception as exc:
        raise StoreError(f"could not read the index copy at {path}: {exc}") from exc
    finally:
        shard.close()
    step = max(1, len(records) // count)
    out: list[dict[str, Any]] = []
    for rec in records[::step][:count]:
        vectors: dict[str, Any] = dict(rec.vector) if isinstance(rec.vector, dict) else {}
        dense = vectors.get("dense")
        sparse = vectors.get("sparse")
        if dense is None:
            continue
        out.append(
            {
                "point": str(rec.id),
                "dense": [float(x) for x in dense],
                "sparse": {
                    "indices": [int(i) for i in sparse.indices] if sparse is not None else [],
                    "values": [float(v) for v in sparse.values] if sparse is not None else [],
                },
            }
        )
    return out
