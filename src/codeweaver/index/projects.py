"""Named projects: each indexed root has a folder under ``<home>/projects/<name>``.

The folder holds ``project.json`` (name, root, tenant), the manifest and, for the
embedded store, the shard. Every project belongs to one tenant; projects written
before tenants existed belong to ``DEFAULT_TENANT``.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from codeweaver.errors import InputError, NotFoundError

__all__ = [
    "DEFAULT_TENANT",
    "Project",
    "ProjectRegistry",
    "validate_project_name",
    "validate_tenant",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
DEFAULT_TENANT = "default"


def validate_tenant(tenant: str) -> str:
    if not _NAME.match(tenant):
        raise InputError(
            f"invalid tenant {tenant!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return tenant


def validate_project_name(name: str) -> str:
    if not _NAME.match(name):
        raise InputError(
            f"invalid project name {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def default_project_name(root: Path) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", root.name).strip("-._") or "project"
    return cleaned[:64]


@dataclass(frozen=True, slots=True)
class Project:
    name: str
    root: Path
    folder: Path
    tenant: str = DEFAULT_TENANT

    @property
    def manifest_path(self) -> Path:
        return self.folder / "manifest.sqlite"

    @property
    def shard_path(self) -> Path:
        return self.folder / "shard"


class ProjectRegistry:
    def __init__(self, home: Path) -> None:
        self._base = home / "projects"

    def _folder(self, name: str) -> Path:
        return self._base / validate_project_name(name)

    def get(self, name: str) -> Project:
        folder = self._folder(name)
        meta = folder / "project.json"
        if not meta.is_file():
            known = ", ".join(p.name for p in self.list()) or "none"
            raise NotFoundError(f"unknown project {name!r} (known: {known})")
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
            tenant = str(data.get("tenant") or DEFAULT_TENANT)
            return Project(name=name, root=Path(data["root"]), folder=folder, tenant=tenant)
        except (OSError, ValueError, KeyError) as exc:
            raise NotFoundError(f"project {name!r} has an unreadable project.json: {exc}") from exc

    def ensure(self, name: str, root: Path, tenant: str = DEFAULT_TENANT) -> Project:
        """Create the project (in ``tenant``) or return it; one name always means one root."""
        validate_tenant(tenant)
        folder = self._folder(name)
        meta = folder / "project.json"
        if meta.is_file():
            project = self.get(name)
            if project.root != root:
                raise InputError(
                    f"project {name!r} already indexes {project.root}; "
                    f"pick another --project name for {root}"
                )
            return project
        folder.mkdir(parents=True, exist_ok=True)
        tmp = meta.with_suffix(".tmp")
        data = {"name": name, "root": str(root), "tenant": tenant}
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(meta)
        return Project(name=name, root=root, folder=folder, tenant=tenant)

    def list(self) -> list[Project]:
        if not self._base.is_dir():
            return []
        out: list[Project] = []
        for folder in sorted(self._base.iterdir()):
            if (folder / "project.json").is_file() and _NAME.match(folder.name):
                try:
                    out.append(self.get(folder.name))
                except NotFoundError:
                    continue
        return out

    def remove(self, name: str) -> None:
        project = self.get(name)
        shutil.rmtree(project.folder)
