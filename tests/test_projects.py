"""The project registry caches reads but sees every change made by others at once."""

from __future__ import annotations

import json

import pytest

from codeweaver.errors import NotFoundError
from codeweaver.index.projects import ProjectRegistry


def test_cached_registry_sees_changes_made_elsewhere(tmp_path):
    home = tmp_path / "home"
    reader, writer = ProjectRegistry(home), ProjectRegistry(home)
    assert reader.list() == []
    writer.ensure("alpha", tmp_path / "a")
    assert [p.name for p in reader.list()] == ["alpha"]  # a new folder: re-listed
    writer.ensure("beta", tmp_path / "b", tenant="acme")
    assert [(p.name, p.tenant) for p in reader.list()] == [
        ("alpha", "default"),
        ("beta", "acme"),
    ]
    first = reader.get("alpha")
    assert reader.get("alpha") is first  # unchanged file: served from the cache
    meta = home / "projects" / "alpha" / "project.json"
    tmp = meta.with_suffix(".tmp")
    tmp.write_text(json.dumps({"name": "alpha", "root": str(tmp_path / "a"), "tenant": "t2"}))
    tmp.replace(meta)  # replaced the way ensure writes it: a new inode
    assert reader.get("alpha").tenant == "t2"
    writer.remove("beta")
    assert [p.name for p in reader.list()] == ["alpha"]
    with pytest.raises(NotFoundError):
        reader.get("beta")


def test_folder_without_project_json_is_not_a_project(tmp_path):
    home = tmp_path / "home"
    reg = ProjectRegistry(home)
    (home / "projects" / "half").mkdir(parents=True)
    assert reg.list() == []  # listed as a folder, skipped without its project.json
    ProjectRegistry(home).ensure("half", tmp_path / "h")  # project.json appears later
    assert [p.name for p in reg.list()] == ["half"]
