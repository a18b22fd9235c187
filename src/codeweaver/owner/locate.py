"""Where a data directory's owner lives, found without loading the settings stack.

A client must know the data directory before it can reach the owner, and loading
``codeweaver.config`` (pydantic) costs more than the whole answered search, so
``quick_home`` resolves ``home`` the way ``load_settings`` does for that one key:
``CODEWEAVER_HOME``, else ``home`` in the ``--config`` file, else in the user's config
file, else ``~/.codeweaver`` (a test keeps the two in step).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

__all__ = ["OwnerPaths", "quick_home"]

RUN_DIR = "run"


def _user_config_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "codeweaver" / "config.toml"


def quick_home(config: Path | None) -> Path | None:
    """The data directory ``load_settings(config)`` would choose, or None when only the
    full loader can tell (an unreadable or invalid file: it then reports the error)."""
    env = os.environ.get("CODEWEAVER_HOME")
    if env:
        return Path(env).expanduser()
    default = Path.home() / ".codeweaver"
    source = config if config is not None else _user_config_file()
    if config is None and not source.is_file():
        return default
    try:
        with source.open("rb") as fh:
            value = tomllib.load(fh).get("home")
    except (OSError, tomllib.TOMLDecodeError):
        return None
    if value is None:
        return default
    return Path(value).expanduser() if isinstance(value, str) and value else None


class OwnerPaths:
    """``<home>/run/`` (mode 0700): the socket, the owner record, the lock, the log."""

    __slots__ = ("home",)

    def __init__(self, home: Path) -> None:
        self.home = home

    @property
    def run_dir(self) -> Path:
        return self.home / RUN_DIR

    @property
    def socket(self) -> Path:
        return self.run_dir / "owner.sock"

    @property
    def record(self) -> Path:
        return self.run_dir / "owner.json"

    @property
    def lock(self) -> Path:
        return self.run_dir / "owner.lock"

    @property
    def log(self) -> Path:
        return self.run_dir / "owner.log"

    def ensure_run_dir(self) -> Path:
        """Create ``run/`` owner-only (0700), tightening it if it exists."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.run_dir, 0o700)
        return self.run_dir
