"""Storage tuning of a project's vector store: Qdrant's optimizer, WAL and on-disk parameters.

The names are Qdrant's (``optimizer_config`` / ``wal_config`` of a collection), with the
unit in the name where Qdrant's own name has none (``max_segment_size`` is in kilobytes:
``max_segment_size_kb``). ``None`` everywhere means "not set": a new shard or collection
gets the store's default and an existing one keeps what it has.

Where each one applies (the adapters ``edge_tuning`` and ``server_tuning`` do it):

============================  ==========================  ===============================
parameter                     embedded (Qdrant Edge)      server collection
============================  ==========================  ===============================
``deleted_threshold``         create and existing         create and existing
``vacuum_min_vector_number``  create and existing         create and existing
``default_segment_number``    create and existing         create and existing
``max_segment_size_kb``       create and existing         create and existing
``memmap_threshold_kb``       not supported               create and existing
``wal_capacity_mb``           not supported (fixed WAL)   create only
``wal_segments_ahead``        not supported (fixed WAL)   create only
``on_disk``                   create and existing (*)     create and existing (*)
============================  ==========================  ===============================

(*) an existing shard or collection takes a changed on-disk placement for the segments its
optimizer builds from then on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "EDGE_UNSUPPORTED",
    "OPTIMIZER_NAMES",
    "WAL_NAMES",
    "StoreTuning",
    "not_applied",
]

OPTIMIZER_NAMES = {
    "deleted_threshold": "deleted_threshold",
    "vacuum_min_vector_number": "vacuum_min_vector_number",
    "default_segment_number": "default_segment_number",
    "max_segment_size_kb": "max_segment_size",
    "memmap_threshold_kb": "memmap_threshold",
}
"""Our name -> Qdrant's field of ``optimizer_config``."""

WAL_NAMES = {"wal_capacity_mb": "wal_capacity_mb", "wal_segments_ahead": "wal_segments_ahead"}
"""Our name -> Qdrant's field of ``wal_config``."""

EDGE_UNSUPPORTED = ("memmap_threshold_kb", "wal_capacity_mb", "wal_segments_ahead")
"""What a Qdrant Edge shard (qdrant-edge-py 0.9) has no parameter for."""


@dataclass(frozen=True)
class StoreTuning:
    """The configured values (``None``: not set)."""

    deleted_threshold: float | None = None
    vacuum_min_vector_number: int | None = None
    default_segment_number: int | None = None
    max_segment_size_kb: int | None = None
    memmap_threshold_kb: int | None = None
    wal_capacity_mb: int | None = None
    wal_segments_ahead: int | None = None
    on_disk: bool | None = None

    def configured(self) -> dict[str, Any]:
        """The values that are set, by our name."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def optimizers(self, *, with_memmap: bool = True) -> dict[str, Any]:
        """The set optimizer values, by Qdrant's name."""
        out = {
            OPTIMIZER_NAMES[k]: v
            for k, v in self.configured().items()
            if k in OPTIMIZER_NAMES and (with_memmap or k != "memmap_threshold_kb")
        }
        return out

    def wal(self) -> dict[str, Any]:
        """The set WAL values, by Qdrant's name."""
        return {WAL_NAMES[k]: v for k, v in self.configured().items() if k in WAL_NAMES}


def not_applied(
    tuning: StoreTuning, effective: dict[str, Any], reasons: dict[str, str]
) -> dict[str, str]:
    """Each set value the store does not have, with why (``reasons`` by name, else a
    generic one)."""
    out: dict[str, str] = {}
    for name, want in tuning.configured().items():
        if name == "on_disk":
            have = effective.get("on_disk", {})
            if all(v is want for v in have.values()):
                continue
        elif name in effective and effective[name] == want:
            continue
        out[name] = reasons.get(name, f"the store reports {effective.get(name)!r}")
    return out
