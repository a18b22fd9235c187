"""Per-process CLI state: the settings and the one engine, closed at exit.

Imports are lazy: a command answered by the data directory's owner never loads the
settings stack, the model or the store.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codeweaver.config import Settings
    from codeweaver.engine import Engine

__all__ = ["close_engine", "engine_from", "settings_from"]

_engine: Engine | None = None


def settings_from(config: Path | None) -> Settings:
    from codeweaver.config import load_settings
    from codeweaver.index.ignore import checked_excludes

    settings = load_settings(config)
    checked_excludes(settings.index.exclude)  # before a server binds or a job starts
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    return settings


def engine_from(settings: Settings) -> Engine:
    global _engine
    if _engine is None:
        from codeweaver.container import build_engine

        _engine = build_engine(settings)
    return _engine


def close_engine() -> None:
    global _engine
    from codeweaver.cli.target import close_target

    if _engine is not None:
        _engine.close()
        _engine = None
    close_target()
