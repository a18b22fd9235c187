"""Named projects: each indexed root has a folder under ``<home>/projects/<name>``.

The folder holds ``project.json`` (name, root, tenant), the manifest and, for the
embedded store, the shard. Every project belongs to one tenant; projects written
before tenants existed belong to ``DEFAULT_TENANT``.
"""

from __future__ import annotations

import builtins
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
    """Projects on disk. Reads are cached and re-validated with one ``stat`` per file, so
    a server resolving a project on every request does not re-read ``project.json``
    (another process creating, replacing or removing one is still seen at once)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._base = home / "projects"
        self._projects: dict[str, tuple[tuple[int, int, int], Project]] = {}
        self._folders: tuple[tuple[int, int], builtins.list[str]] | None = None

    def _folder(self, name: str) -> Path:
        return self._base / validate_project_name(name)

    def get(self, name: str) -> Project:
        folder = self._folder(name)
        meta = folder / "project.json"
        try:
            st = meta.stat()
        except OSError:
            st = None
        if st is None or not meta.is_file():
            self._projects.pop(name, None)
            known = ", ".join(p.name for p in self.list()) or "none"
            raise NotFoundError(f"unknown project {name!r} (known: {known})")
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        cached = self._projects.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
            tenant = str(data.get("tenant") or DEFAULT_TENANT)
            project = Project(name=name, root=Path(data["root"]), folder=folder, tenant=tenant)
        except (OSError, ValueError, KeyError) as exc:
            raise NotFoundError(f"project {name!r} has an unreadable project.json: {exc}") from exc
        self._projects[name] = (key, project)
        return project

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
        out: list[Project] = []
        for name in self._folder_names():
            if (self._base / name / "project.json").is_file():
                try:
                    out.append(self.get(name))
                except NotFoundError:
                    continue
        return out

    def _folder_names(self) -> builtins.list[str]:
        """Candidate project folders, re-listed only when the projects folder changed."""
        try:
            st = self._base.stat()
        except OSError:
            return []
        key = (st.st_mtime_ns, st.st_ino)
        if self._folders is None or self._folders[0] != key:
            names = sorted(
                f.name for f in self._base.iterdir() if f.is_dir() and _NAME.match(f.name)
            )
            self._folders = (key, names)
        return self._folders[1]

    def remove(self, name: str) -> None:
        project = self.get(name)
        shutil.rmtree(project.folder)
