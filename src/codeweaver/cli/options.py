"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["ConfigOpt", "JsonOpt", "ProjectOpt"]

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML settings file, trusted in full (default: ~/.config/codeweaver/config.toml, "
        "plus the index/chunking keys of ./codeweaver.toml).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
ProjectOpt = Annotated[
    str | None,
    typer.Option(
        "--project",
        "-p",
        help="Project name (default: every project; index names it after the folder).",
    ),
]
