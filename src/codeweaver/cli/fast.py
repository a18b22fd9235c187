"""The hot path: ``codeweaver search`` answered by a running owner, before typer loads.

Typer builds every command and imports pydantic to parse any command line, which
costs more than a whole search answered by the owner. So ``main`` first offers the
command line here: a plain ``search`` (the options of ``codeweaver search``, nothing
else) with an owner answering is run at once, with the same output, errors and exit
codes, and so is ``--version``; anything else (``--help``, an unknown option, a bad
value, no owner) returns None and typer handles the command as usual.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["print_json", "read_batch", "run"]

_VALUED = {
    "--project": "project",
    "-p": "project",
    "--limit": "limit",
    "-n": "limit",
    "--language": "language",
    "-l": "language",
    "--path": "path",
    "--kind": "kind",
    "--batch": "batch",
    "--config": "config",
}


def print_json(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _parse(args: list[str]) -> dict[str, Any] | None:
    """The options of a plain search, or None for anything typer should judge."""
    opts: dict[str, Any] = {"limit": "10", "json": False, "query": None}
    it = iter(args)
    for arg in it:
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name == "--json" and not eq:
            opts["json"] = True
        elif name in _VALUED:
            value = value if eq else next(it, None)  # type: ignore[assignment]
            if value is None or (_VALUED[name] in opts and _VALUED[name] != "limit"):
                return None
            opts[_VALUED[name]] = value
        elif arg.startswith("-") or opts["query"] is not None:
            return None  # --help, an unknown option, a second argument
        else:
            opts["query"] = arg
    if not opts["limit"].lstrip("-").isdigit() or (opts["query"] is None) == ("batch" not in opts):
        return None
    return opts


def read_batch(path: Path) -> list[str]:
    """The queries of a ``--batch`` file, one a line."""
    from codeweaver.errors import InputError

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read batch file {path}: {exc}") from exc
    queries = [line.strip() for line in lines if line.strip()]
    if not queries:
        raise InputError(f"batch file {path} has no queries")
    return queries


def _queries(opts: dict[str, Any]) -> list[str]:
    if opts["query"] is not None:
        return [opts["query"]]
    return read_batch(Path(opts["batch"]))


def _search(opts: dict[str, Any]) -> int | None:
    from codeweaver.cli.target import Remote
    from codeweaver.owner.client import connect
    from codeweaver.owner.locate import quick_home

    home = quick_home(Path(opts["config"]) if "config" in opts else None)
    client = connect(home) if home is not None else None
    if client is None:
        return None
    remote = Remote(client)
    for text in _queries(opts):
        body = {"query": text, "project": opts.get("project"), "limit": int(opts["limit"])}
        body |= {k: opts.get(k) for k in ("language", "path", "kind")}
        answer = remote.search(body)
        if opts["json"]:
            print_json({k: answer[k] for k in ("results", "took_ms", "degraded") if k in answer})
        elif sys.stdout.isatty() or answer.get("degraded"):
            from codeweaver.cli import render

            render.search_results(answer)
        else:  # piped: the same text, without loading rich
            from codeweaver.cli.hits import search_lines, write_plain

            write_plain(search_lines(answer))
    client.close()
    return 0


def run(argv: list[str]) -> int | None:
    """The exit code of a command handled here, or None to let typer handle it."""
    if argv == ["--version"]:
        from codeweaver import __version__

        sys.stdout.write(f"codeweaver {__version__}\n")
        return 0
    if not argv or argv[0] != "search" or (opts := _parse(argv[1:])) is None:
        return None
    from codeweaver.errors import CodeWeaverError

    try:
        return _search(opts)
    except CodeWeaverError as exc:
        from codeweaver.cli import render
        from codeweaver.cli.errors import exit_code_for

        render.error(str(exc))
        return exit_code_for(exc)
    except KeyboardInterrupt:
        from codeweaver.cli import render

        render.error("interrupted")
        return 130
