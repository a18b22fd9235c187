"""Helpers for the server-mode backup tests: one in-process Qdrant (the client's local
mode) shared by the engine and the backup service, a fixture codebase, backup rewriting."""

from __future__ import annotations

import json
import random
import tarfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from qdrant_client import QdrantClient

from backup_support import archive_path, manifest_path, write_signed
from codeweaver.backup import BackupService
from codeweaver.backup.archive import pack
from codeweaver.config import Settings, load_settings
from codeweaver.container import build_backup_service, build_engine, build_qdrant_client
from codeweaver.engine import Engine
from codeweaver.search.service import SearchRequest
from embedder_twin import HashEmbedder

QUERIES = ("velka dorin", "mosa turen pilak", "quenta rivo", "sabel nodra frim")
_VOCAB = [
    "velka",
    "dorin",
    "mosa",
    "turen",
    "pilak",
    "quenta",
    "rivo",
    "sabel",
    "nodra",
    "frim",
    "garo",
    "lumet",
    "kesta",
    "wirn",
    "hobra",
    "ystel",
    "caro",
    "denvi",
    "falto",
    "gremi",
    "hulan",
    "ispor",
    "jorva",
    "kelda",
    "lorin",
    "mirva",
    "nusta",
    "orvel",
    "pesca",
    "quiro",
    "rasta",
    "selvo",
    "tamri",
    "ulvan",
    "vesko",
    "wolda",
    "xerin",
    "yarta",
    "zelko",
    "abrin",
    "bolka",
]


def make_codebase(root: Path, files: int = 12, seed: int = 7) -> None:
    """Functions whose docstrings differ in length and words, so that no two chunks tie
    on a score for ``QUERIES``: then search results are comparable exactly (the order
    of tied scores depends on where points sit inside a collection)."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        funcs = []
        for j in range(3):
            words = " ".join(rng.choice(_VOCAB) for _ in range(5 + 3 * i + j))
            funcs.append(f"def fn_{i}_{j}(arg):\n    '''{words}'''\n    return arg + {i * 3 + j}\n")
        (root / f"mod_{i:02d}.py").write_text("\n\n".join(funcs))


@dataclass
class Deployment:
    """A data directory on one in-process Qdrant; the engine and backups share the client."""

    settings: Settings
    client: QdrantClient
    service: BackupService

    @classmethod
    def create(cls, base: Path, **backup: Any) -> Deployment:
        settings = load_settings(
            home=base / "home",
            qdrant={"mode": "server", "url": ":memory:"},
            backup={"dest": (base / "vault").as_uri(), **backup},
        )
        client = build_qdrant_client(settings)
        return cls(settings, client, build_backup_service(settings, qdrant_client=client))

    @property
    def home(self) -> Path:
        return self.settings.home

    @property
    def vault(self) -> Path:
        return Path(str(self.settings.backup.dest).removeprefix("file://"))

    def engine(self) -> Engine:
        return build_engine(self.settings, embedder=HashEmbedder(), qdrant_client=self.client)

    def index(self, root: Path, project: str = "proj") -> None:
        engine = self.engine()
        try:
            engine.index(root, project)
        finally:
            engine.close()

    def state(self, project: str = "proj") -> tuple[list[list[tuple[str, float]]], dict[str, Any]]:
        """Top-10 results of every query (id, score to 5 places) and the project's counts."""
        engine = self.engine()
        try:
            rows = [
                [
                    (f"{h.path}:{h.start_line}", round(h.score, 5))
                    for h in engine.search(SearchRequest(q, limit=10), project).hits
                ]
                for q in QUERIES
            ]
            status = engine.status(project)
        finally:
            engine.close()
        assert all(rows), "a query found nothing"
        return rows, {k: status[k] for k in ("files", "chunks", "points", "model", "dim")}

    def collections(self) -> list[str]:
        return sorted(c.name for c in self.client.get_collections().collections)

    def aliases(self) -> dict[str, str]:
        return {a.alias_name: a.collection_name for a in self.client.get_aliases().aliases}


def rewrite_backup(vault: Path, bid: str, edit: Callable[[Path], None], work: Path) -> None:
    """Change the files inside a backup and fix every checksum in its manifest, signed
    again with the data directory's key (``vault`` and ``home`` are siblings), so that
    only the restore's own checks (counts, probes) can notice."""
    archive = archive_path(vault, bid)
    with tarfile.open(archive) as tar:
        tar.extractall(work / "x", filter="data")
    edit(work / "x")
    archive.unlink()
    files, entry = pack(work / "x", archive)
    path = manifest_path(vault, bid)
    manifest = json.loads(path.read_text())
    manifest["files"] = [asdict(f) for f in files]
    manifest["archive"] = asdict(entry)
    write_signed(path, manifest, vault.parent / "home" / "auth" / "backup.key")
