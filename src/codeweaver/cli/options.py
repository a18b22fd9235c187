"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["ConfigOpt"]

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML settings file, trusted in full (default: ~/.config/codeweaver/config.toml, "
        "plus the index/chunking keys of ./codeweaver.toml).",
    ),
]
