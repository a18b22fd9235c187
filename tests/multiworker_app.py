"""An app factory for running the HTTP API under several uvicorn workers in tests."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI

from codeweaver.api import create_app
from codeweaver.config import Settings
from codeweaver.container import build_engine
from embedder_twin import HashEmbedder


def app() -> FastAPI:
    """uvicorn binds 127.0.0.1 here (its default), so authentication can be off."""
    settings = Settings(home=Path(os.environ["CODEWEAVER_HOME"]))
    engine = build_engine(settings, embedder=HashEmbedder())
    return create_app(settings, engine, mount_mcp=False, bind_host="127.0.0.1")
