"""Running git over a folder that may hold anyone's repository, without running their code.

A repository's own ``.git/config`` can name commands git runs as the server user
(``core.fsmonitor``, hooks, ``core.sshCommand``, pagers, filters …), and the server's
environment can point git elsewhere (``GIT_DIR``, ``GIT_CONFIG_*``, ``GIT_TRACE2*``).
Every git command the indexer runs goes through :func:`run_git`, which:

* drops every ``GIT_*`` variable inherited from the server's environment;
* ignores the system and global config (``GIT_CONFIG_NOSYSTEM``, ``GIT_CONFIG_GLOBAL``),
  so ``trace2.*`` targets and the like (read only from those) never apply;
* overrides, on the command line (which beats the repository's config), every setting
  that names a command ``ls-files`` / ``check-ignore`` / ``rev-parse`` could run:
  ``core.fsmonitor`` off, ``core.hooksPath`` empty, no pager, no ssh or askpass helper,
  and refuses bare repositories found by discovery (``safe.bareRepository=explicit``);
* takes no optional locks (never rewrites the index) and never prompts.

The indexer only runs read-only listing commands; filters, diff drivers and textconv
commands are used by commands that compare or convert content, which it never runs.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

__all__ = ["GIT_OVERRIDES", "git_env", "run_git"]

GIT_OVERRIDES: tuple[str, ...] = (
    "core.fsmonitor=false",
    "core.hooksPath=/dev/null",
    "core.pager=cat",
    "core.sshCommand=false",
    "core.askPass=false",
    "core.untrackedCache=false",
    "credential.helper=",
    "protocol.allow=never",
    "safe.bareRepository=explicit",
)
_TIMEOUT = 120


def git_env() -> dict[str, str]:
    """The server's environment without ``GIT_*``, plus the settings that disable
    system/global config, optional locks, prompts and pagers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_OPTIONAL_LOCKS="0",
        GIT_TERMINAL_PROMPT="0",
        GIT_PAGER="cat",
        GIT_ASKPASS="false",
        SSH_ASKPASS="false",
        GIT_NO_REPLACE_OBJECTS="1",
    )
    return env


def run_git(
    root: Path,
    args: Sequence[str],
    *,
    stdin: bytes | None = None,
    ok_codes: tuple[int, ...] = (0,),
) -> str | None:
    """``git ARGS`` in ``root`` with the hardening above; its stdout, or None on failure."""
    command = ["git", "--no-pager"]
    for setting in GIT_OVERRIDES:
        command += ["-c", setting]
    try:
        out = subprocess.run(
            [*command, *args],
            cwd=root,
            input=stdin,
            capture_output=True,
            check=False,
            timeout=_TIMEOUT,
            env=git_env(),
            stdin=None if stdin is not None else subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode not in ok_codes:
        return None
    return out.stdout.decode("utf-8", "surrogateescape")
