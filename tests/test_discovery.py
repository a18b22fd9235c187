import os
import subprocess
from pathlib import Path

import pytest

from codeweaver.errors import PathError
from codeweaver.index.discovery import discover, git_commit, resolve_root


def write(root: Path, rel: str, text: str = "x = 1\n") -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def tree(root: Path) -> None:
    write(root, ".gitignore", "*.log\nbuild/\n!keep.log\n")
    write(root, "src/app.py")
    write(root, "src/debug.log")
    write(root, "keep.log")
    write(root, "build/out.py")
    write(root, "src/nested/.gitignore", "secret.py\n")
    write(root, "src/nested/secret.py")
    write(root, "src/nested/open.py")


def paths(result):
    return sorted(f.path for f in result.files)


EXPECTED = [".gitignore", "keep.log", "src/app.py", "src/nested/.gitignore", "src/nested/open.py"]


def test_outside_git_applies_nested_gitignore_with_negation(tmp_path):
    tree(tmp_path)
    found = discover(tmp_path)
    assert not found.via_git
    assert paths(found) == EXPECTED


def git(root: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, env=env)


def test_inside_git_uses_git_view_including_info_exclude(tmp_path):
    tree(tmp_path)
    git(tmp_path, "init", "-q")
    (tmp_path / ".git/info").mkdir(parents=True, exist_ok=True)
    (tmp_path / ".git/info/exclude").write_text("src/nested/open.py\n")
    git(tmp_path, "add", "src/app.py")
    git(tmp_path, "commit", "-qm", "init")
    found = discover(tmp_path)
    assert found.via_git
    assert paths(found) == [p for p in EXPECTED if p != "src/nested/open.py"]
    assert git_commit(tmp_path) and len(git_commit(tmp_path)) == 40


def test_deleted_tracked_file_is_not_listed(tmp_path):
    write(tmp_path, "a.py")
    write(tmp_path, "b.py")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "init")
    (tmp_path / "b.py").unlink()
    assert paths(discover(tmp_path)) == ["a.py"]


def test_size_limit_exclude_list_and_escaping_symlink(tmp_path):
    root = tmp_path / "proj"
    write(root, "small.py")
    write(root, "big.py", "x" * 2000)
    write(root, "vendor/lib.py")
    outside = write(tmp_path, "outside.py")
    (root / "link.py").symlink_to(outside)
    (root / "inner_link.py").symlink_to(root / "small.py")
    found = discover(root, max_bytes=1000, exclude=["vendor/"])
    assert paths(found) == ["inner_link.py", "small.py"]
    reasons = dict(found.skipped)
    assert "larger than 1000 bytes" in reasons["big.py"]
    assert "leaves the project root" in reasons["link.py"]


def test_ignore_everything_gives_empty_result(tmp_path):
    write(tmp_path, ".gitignore", "*\n")
    write(tmp_path, "a.py")
    assert paths(discover(tmp_path)) == []


def test_resolve_root_errors(tmp_path):
    with pytest.raises(PathError, match="does not exist"):
        resolve_root(tmp_path / "missing")
    f = write(tmp_path, "file.py")
    with pytest.raises(PathError, match="not a folder"):
        resolve_root(f)
    assert resolve_root(tmp_path) == tmp_path.resolve()
