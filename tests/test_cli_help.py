"""Every command's ``--help``: each option explains itself, flags do not read as taking a
value, and ``codeweaver --version`` names the package version."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from codeweaver import __version__
from codeweaver.cli.app import app


def _walk(cmd, path):
    yield path, cmd
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        yield from _walk(sub, [*path, name])


COMMANDS = list(_walk(typer.main.get_command(app), []))


def test_the_walk_sees_every_command():
    names = {" ".join(p) for p, _ in COMMANDS}
    assert {"search", "support triage", "cache warm", "backup create", "users add"} <= names
    assert len(COMMANDS) > 40


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=[" ".join(p) or "-" for p, _ in COMMANDS])
def test_every_option_has_help_and_flags_take_no_value(path, cmd):
    missing = [
        "/".join(p.opts)
        for p in cmd.params
        if p.param_type_name == "option" and not p.hidden and not (p.help or "").strip()
    ]
    assert not missing, f"codeweaver {' '.join(path)}: options without help: {missing}"
    vague = [p.opts for p in cmd.params if "see docs" in (getattr(p, "help", None) or "")]
    assert not vague
    out = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert out.exit_code == 0, out.output
    assert "<bool>" not in out.output, out.output
    for p in cmd.params:
        if p.param_type_name == "option" and getattr(p, "is_flag", False):
            line = next(ln for ln in out.output.splitlines() if p.opts[0] in ln)
            assert "<" not in line.split(p.opts[0], 1)[1].split("  ", 1)[0], line


def test_version_from_the_package():
    assert __version__ == version("codeweaver")
    entry = str(Path(sys.executable).parent / "codeweaver")  # main: the fast path first
    typer_app = [sys.executable, "-m", "codeweaver.cli.app"]
    for argv in ([entry, "--version"], [*typer_app, "--version"]):
        run = subprocess.run(argv, capture_output=True, text=True, check=False)
        assert run.returncode == 0 and run.stdout == f"codeweaver {__version__}\n", run
    assert "--version" in CliRunner().invoke(app, ["--help"]).output


@pytest.mark.parametrize("path", [["index"], ["support", "triage"], ["backup", "restore"]])
def test_help_on_a_terminal_shows_flags_without_a_value(path):
    """On a terminal too (where typer could pick its rich renderer), flags read as flags."""
    import os
    import pty

    main, child = pty.openpty()
    entry = str(Path(sys.executable).parent / "codeweaver")
    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm-256color"}
    proc = subprocess.Popen([entry, *path, "--help"], stdout=child, stderr=child, env=env)
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    assert proc.wait(60) == 0
    text = b"".join(chunks).decode(errors="replace")
    assert "--json" in text and "<bool>" not in text, text
