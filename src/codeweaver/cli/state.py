"""Per-process CLI state: the settings and the one engine, closed at exit."""

from __future__ import annotations

import logging
from pathlib import Path

from codeweaver.config import Settings, load_settings
from codeweaver.container import build_engine, checked_excludes
from codeweaver.engine import Engine

__all__ = ["close_engine", "engine_from", "settings_from"]

_engine: Engine | None = None


def settings_from(config: Path | None) -> Settings:
    settings = load_settings(config)
    checked_excludes(settings.index.exclude)  # before a server binds or a job starts
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    return settings


def engine_from(settings: Settings) -> Engine:
    global _engine
    if _engine is None:
        _engine = build_engine(settings)
    return _engine


def close_engine() -> None:
    global _engine
    if _engine is not None:
        _engine.close()
        _engine = None
