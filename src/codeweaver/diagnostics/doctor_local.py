"""``doctor`` without a server: the data dir, the shipped model, the stores, disk, freshness."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from codeweaver.config import OperationsSettings
from codeweaver.diagnostics.checks import Check, Status, run_check
from codeweaver.types import Embedder

__all__ = ["LocalEngine", "local_checks"]

MODEL_FILES = ("minilm-l6-v2-int8.onnx", "minilm-l6-v2.tokenizer.json")


class LocalEngine(Protocol):
    @property
    def embedder(self) -> Embedder: ...

    def list_projects(self) -> list[dict[str, Any]]: ...


def _data_dir(home: Path) -> tuple[Status, str]:
    if not home.exists():
        return "WARN", f"{home} does not exist yet (created on first index)"
    if not home.is_dir():
        return "FAIL", f"{home} is not a folder"
    if not os.access(home, os.W_OK | os.X_OK):
        return "FAIL", f"{home} is not writable"
    return "PASS", f"{home} is writable"


def _model_files() -> tuple[Status, str]:
    folder = resources.files("codeweaver") / "models"
    missing = [n for n in MODEL_FILES if not (folder / n).is_file()]
    if missing:
        return "FAIL", f"missing from the package: {', '.join(missing)}"
    return "PASS", f"{', '.join(MODEL_FILES)} present"


def _embedder(engine: LocalEngine) -> tuple[Status, str]:
    emb = engine.embedder
    vec = emb.embed_query("doctor")
    if len(vec) != emb.dim:
        return "FAIL", f"model returned {len(vec)} dims, expected {emb.dim}"
    return "PASS", f"{emb.model_id} loads and embeds ({emb.dim} dims)"


def _disk(home: Path, limits: OperationsSettings) -> tuple[Status, str]:
    probe = home
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free / 1024**3
    status: Status = "PASS" if free >= limits.disk_min_gib else "WARN"
    return status, f"{free:.2f} GiB free at {probe} (want ≥ {limits.disk_min_gib:g} GiB)"


def _age_hours(stamp: Any) -> float | None:
    if isinstance(stamp, int | float):
        return (time.time() - float(stamp)) / 3600
    if isinstance(stamp, str):
        try:
            return (time.time() - datetime.fromisoformat(stamp).timestamp()) / 3600
        except ValueError:
            return None
    return None


def _freshness(projects: list[dict[str, Any]], limits: OperationsSettings) -> tuple[Status, str]:
    if not projects:
        return "SKIP", "no projects indexed"
    problems = []
    for p in projects:
        age = _age_hours(p.get("last_run_at"))
        if p.get("state") != "complete":
            problems.append(f"{p['project']} is {p.get('state')}")
        elif age is not None and age > limits.index_max_age_hours:
            problems.append(f"{p['project']} last indexed {age:.1f} h ago")
    if problems:
        return "WARN", "; ".join(problems)
    return "PASS", f"{len(projects)} projects complete"


def local_checks(
    home: Path, limits: OperationsSettings, engine: Callable[[], LocalEngine]
) -> list[Check]:
    """Checks on this machine; ``engine`` is built lazily (it opens the stores)."""
    out = [
        run_check("data dir", lambda: _data_dir(home)),
        run_check("model files", _model_files),
    ]
    projects: list[dict[str, Any]] = []

    def store() -> tuple[Status, str]:
        projects.extend(engine().list_projects())
        if not projects:
            return "WARN", "no collections (nothing indexed yet)"
        points = sum(int(p["points"]) for p in projects)
        return "PASS", f"{len(projects)} collections, {points} points"

    out.append(run_check("vector store", store))
    out.append(run_check("embedder", lambda: _embedder(engine())))
    out.append(run_check("disk space", lambda: _disk(home, limits)))
    if out[2].status == "FAIL":
        out.append(Check("index freshness", "SKIP", "store unavailable"))
    else:
        out.append(run_check("index freshness", lambda: _freshness(projects, limits)))
    return out
