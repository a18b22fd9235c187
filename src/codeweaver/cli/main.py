"""The ``codeweaver`` entry point: the hot path first (see ``fast``), else typer."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    from codeweaver.cli.fast import run

    code = run(sys.argv[1:])
    if code is not None:
        sys.stdout.flush()
        raise SystemExit(code)
    from codeweaver.cli.app import main as full

    full()
