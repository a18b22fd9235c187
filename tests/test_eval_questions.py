"""The hand-written evaluation questions name files and symbols that exist in the source tree."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from eval_quality import QUESTIONS  # noqa: E402


def test_every_question_target_is_defined() -> None:
    src = ROOT / "src" / "codeweaver"
    for query, path, symbol in QUESTIONS:
        tree = ast.parse((src / path).read_text(encoding="utf-8"))
        names = {
            n.name
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        }
        assert symbol in names, f"{query!r}: {symbol} is not defined in {path}"
