"""The MCP tool helpers: token budgets and the path guard of get_code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeweaver.errors import InputError, NotFoundError, PathError
from codeweaver.index.files import ProjectFiles
from codeweaver.index.projects import Project
from codeweaver.mcp.tools import TOOLS, CodeTools, trim_to_budget
from codeweaver.types import Hit


def cost(item: dict) -> int:
    return (len(json.dumps(item, ensure_ascii=False, separators=(",", ":"))) + 3) // 4


def hit(i: int, lines: int = 20) -> Hit:
    body = "\n".join(f"    value_{i}_{n} = compute({n})" for n in range(lines))
    return Hit(f"src/m{i}.py", 1, lines, f"f{i}", "function", "python", 1.0 / (i + 1), body)


def test_every_tool_is_declared_once_and_implemented():
    names = [spec.name for spec in TOOLS]
    assert len(names) == len(set(names)) == 7
    assert all(callable(getattr(CodeTools, name)) for name in names)


def test_budget_keeps_rank_order_and_cuts_the_last_snippet():
    hits = [hit(i) for i in range(5)]
    everything, omitted = trim_to_budget(hits, None)
    assert len(everything) == 5 and omitted == 0
    assert everything[0]["location"] == "src/m0.py:1-20"

    one = cost(everything[0])
    budget = 2 * one + one // 2
    kept, omitted = trim_to_budget(hits, budget)
    assert [k["symbol"] for k in kept] == ["f0", "f1", "f2"] and omitted == 2
    assert kept[2]["snippet_truncated"] and kept[2]["snippet"].endswith("\n…")
    assert 5 <= len(kept[2]["snippet"].splitlines()) < 20
    assert sum(cost(k) for k in kept) <= budget

    tiny, omitted = trim_to_budget(hits, 5)
    assert tiny == [] and omitted == 5


def test_file_reads_refuse_escapes(tmp_path: Path):
    root = tmp_path / "root"
    (root / "src").mkdir(parents=True)
    (root / "src/a.py").write_text("x = 1\n")
    (tmp_path / "outside.py").write_text("secret = 1\n")
    (root / "src/link.py").symlink_to(tmp_path / "outside.py")
    project = Project("p", root, tmp_path / "folder")
    files = ProjectFiles(project, ["src/a.py", "src/link.py"])

    assert files.text("src/a.py") == ("src/a.py", "x = 1\n")
    assert files.text("./src/a.py") == ("src/a.py", "x = 1\n")
    assert files.text("src//./a.py")[0] == "src/a.py"
    with pytest.raises(PathError, match="resolves outside the project root"):
        files.text("src/link.py")
    with pytest.raises(PathError, match="must not contain"):
        files.text("src/../src/a.py")
    with pytest.raises(PathError, match="must be relative"):
        files.text(str(root / "src/a.py"))
    with pytest.raises(PathError, match="not '\\\\'"):
        files.text("src\\a.py")
    with pytest.raises(PathError, match="NUL"):
        files.text("src/a.py\x00")
    with pytest.raises(NotFoundError, match="not indexed"):
        files.text("src/b.py")
    with pytest.raises(InputError, match="path is empty"):
        files.text(" ")
