"""The MCP tools as plain methods over an Engine; ``TOOLS`` declares every tool once.

Each method returns a JSON-able dict and raises ``CodeWeaverError`` on bad input;
``server.build_mcp_server`` turns those into MCP tool errors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from pydantic import Field

from codeweaver.auth.rbac import CODE_READ, INDEX_READ, INDEX_WRITE, SEARCH_READ
from codeweaver.core.chunking import SUPPORTED_LANGUAGES, TREE_SITTER_LANGUAGES
from codeweaver.core.pathglob import MAX_GLOB_CHARS
from codeweaver.engine import Engine
from codeweaver.errors import InputError
from codeweaver.index.files import STRUCTURAL_LANGUAGES
from codeweaver.index.roots import Caller
from codeweaver.mcp.caller import audit_access, current
from codeweaver.search.service import SearchRequest
from codeweaver.types import Hit, IndexStats

__all__ = ["TOOLS", "CodeTools", "IndexRunner", "ToolSpec", "estimate_tokens", "trim_to_budget"]

ProjectArg = Annotated[
    str | None,
    Field(description="Project name from list_projects; omit when only one project exists."),
]


def estimate_tokens(text: str) -> int:
    """A rough token count: one token per four characters."""
    return (len(text) + 3) // 4


def _hit_dict(hit: Hit) -> dict[str, Any]:
    return {
        "location": f"{hit.path}:{hit.start_line}-{hit.end_line}",
        "symbol": hit.symbol,
        "kind": hit.kind,
        "language": hit.language,
        "score": round(hit.score, 4),
        "snippet": hit.snippet,
    }


def _cost(item: dict[str, Any]) -> int:
    return estimate_tokens(json.dumps(item, ensure_ascii=False, separators=(",", ":")))


def _cut(item: dict[str, Any], budget: int) -> dict[str, Any] | None:
    """``item`` with its snippet cut at a line end to fit ``budget``, or None (< 3 lines)."""
    lines = item["snippet"].split("\n")
    room = (budget - _cost({**item, "snippet": "", "snippet_truncated": True})) * 4
    keep = len(item["snippet"][: max(room, 0)].split("\n")) - 1
    while keep >= 3:
        cut = {**item, "snippet": "\n".join([*lines[:keep], "…"]), "snippet_truncated": True}
        if _cost(cut) <= budget:
            return cut
        keep -= 1
    return None


def trim_to_budget(hits: list[Hit], max_tokens: int | None) -> tuple[list[dict[str, Any]], int]:
    """The hits (as dicts) that fit ``max_tokens``, and how many were left out.

    Cost is the compact JSON of each result at ~4 characters per token. Results are
    kept in rank order; the first one that does not fit has its snippet cut at a line
    end to the remaining budget (when at least three lines fit).
    """
    items = [_hit_dict(h) for h in hits]
    if max_tokens is None:
        return items, 0
    kept: list[dict[str, Any]] = []
    used = 0
    for item in items:
        cost = _cost(item)
        if used + cost <= max_tokens:
            kept.append(item)
            used += cost
            continue
        cut = _cut(item, max_tokens - used)
        if cut is not None:
            kept.append(cut)
        break
    return kept, len(items) - len(kept)


class IndexRunner(Protocol):
    """Runs an index job to its end (the HTTP server's job queue)."""

    def run(
        self, path: str, project: str | None = None, *, caller: Caller, full: bool = False
    ) -> IndexStats: ...


class CodeTools:
    """The tool implementations; one method per entry of ``TOOLS``. With ``jobs``,
    indexing goes through that queue (its per-tenant cap and worker pool)."""

    def __init__(self, engine: Engine, jobs: IndexRunner | None = None) -> None:
        self._engine = engine
        self._jobs = jobs

    def search_code(
        self,
        query: Annotated[
            str, Field(description="Natural-language question or identifier to look for.")
        ],
        limit: Annotated[int, Field(description="Most results to return (1-100).")] = 10,
        project: ProjectArg = None,
        language: Annotated[
            str | None, Field(description="Only this language, e.g. 'python' (list_languages).")
        ] = None,
        path: Annotated[
            str | None,
            Field(
                description="Gitignore-style glob relative to the root, e.g. 'src/**/*.py'.",
                max_length=MAX_GLOB_CHARS,
            ),
        ] = None,
        max_tokens: Annotated[
            int | None,
            Field(description="Token budget for the whole answer (~4 characters per token)."),
        ] = None,
    ) -> dict[str, Any]:
        if max_tokens is not None and max_tokens < 1:
            raise InputError(f"max_tokens must be at least 1, got {max_tokens}")
        request = SearchRequest(query, limit=limit, language=language, path=path)
        tenants = current().tenants
        name = self._engine.resolve_project(project, tenants=tenants).name
        result = self._engine.search(request, name, tenants=tenants)
        audit_access("search_code", name, results=len(result.hits))
        results, omitted = trim_to_budget(result.hits, max_tokens)
        return {
            "project": name,
            "results": results,
            "omitted_for_budget": omitted,
            "took_ms": result.took_ms,
            **({"degraded": True} if result.degraded else {}),
        }

    def get_code(
        self,
        project: Annotated[str, Field(description="Project name from list_projects.")],
        path: Annotated[
            str, Field(description="File path relative to the project root, as search returns.")
        ],
        start_line: Annotated[
            int | None, Field(description="First line, 1-based (default: 1).")
        ] = None,
        end_line: Annotated[
            int | None, Field(description="Last line, inclusive (default: end of file).")
        ] = None,
    ) -> dict[str, Any]:
        files = self._engine.project_files(project, current().tenants, use_cwd=True)
        found = files.read(path, start_line, end_line)
        audit_access("get_code", found["project"], path=found["path"])
        return found

    def structural_search(
        self,
        pattern: Annotated[
            str,
            Field(description="ast-grep pattern, e.g. '$OBJ.close()' or 'def $F($$$A): $$$B'."),
        ],
        language: Annotated[
            str, Field(description="Language of the pattern, e.g. 'python', 'go', 'typescript'.")
        ],
        project: ProjectArg = None,
    ) -> dict[str, Any]:
        files = self._engine.project_files(project, current().tenants, use_cwd=True)
        found = files.structural(pattern, language)
        audit_access("structural_search", found["project"], results=len(found["matches"]))
        return found

    def index_codebase(
        self,
        path: Annotated[
            str, Field(description="Absolute path of the folder to index, on the server.")
        ],
        project: Annotated[
            str | None, Field(description="Name for the project (default: the folder name).")
        ] = None,
    ) -> dict[str, Any]:
        caller = current()
        if self._jobs is not None:
            stats = self._jobs.run(path, project, caller=caller)
        else:
            stats = self._engine.index(path, project, caller=caller)
        audit_access("index_codebase", stats.project)
        return stats.as_dict()

    def index_status(self, project: ProjectArg = None) -> dict[str, Any]:
        return self._engine.status(project, tenants=current().tenants)

    def list_projects(self) -> dict[str, Any]:
        return {"projects": self._engine.list_projects(tenants=current().tenants)}

    def list_languages(self) -> dict[str, Any]:
        def parser(name: str) -> str:
            if name in TREE_SITTER_LANGUAGES:
                return "definitions"
            return "sections" if name == "markdown" else "line windows"

        return {
            "languages": [
                {
                    "name": name,
                    "chunking": parser(name),
                    "structural_search": name in STRUCTURAL_LANGUAGES,
                }
                for name in sorted(SUPPORTED_LANGUAGES)
            ]
        }


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    read_only: bool = True
    permission: str = ""  # checked before every call (see mcp.server)


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "search_code",
        "Find code by meaning or by name in an indexed project. Use this FIRST for questions "
        "like 'where do we retry failed uploads?' or an identifier like 'parse_config'. "
        "Returns ranked chunks (functions, classes, sections) as 'path:start-end' with symbol, "
        "kind, score and the snippet. Narrow with language or a path glob; set max_tokens to "
        "keep the answer small. For an exact syntactic shape use structural_search instead.",
        permission=SEARCH_READ,
    ),
    ToolSpec(
        "get_code",
        "Read lines of one indexed file, e.g. to see more context around a search_code hit. "
        "Give the project and the project-relative path exactly as search results show it; "
        "start_line/end_line are 1-based and inclusive (omit both for the whole file, at most "
        "2000 lines). Only files the project's index knows can be read.",
        permission=CODE_READ,
    ),
    ToolSpec(
        "structural_search",
        "Find every place a syntactic code pattern occurs (ast-grep), across the project's "
        "indexed files of one language. Use it when you know the shape, not the words: all "
        "calls like '$CLIENT.put($$$ARGS)', every 'except $E: pass', each 'func ($R *Server) "
        "$M($$$P) error'. $NAME matches one node, $$$NAME any number. Exhaustive, unranked, "
        "at most 200 matches. For meaning-based lookup use search_code.",
        permission=SEARCH_READ,
    ),
    ToolSpec(
        "index_codebase",
        "Index (or incrementally re-index) a folder so it becomes searchable; waits until "
        "indexing finishes and returns the counts. Use when list_projects does not show the "
        "codebase or index_status says files changed. Re-running is cheap: unchanged files "
        "are skipped.",
        read_only=False,
        permission=INDEX_WRITE,
    ),
    ToolSpec(
        "index_status",
        "Show one project's index: root folder, files, chunks, failures, last run time, git "
        "commit and state. Use it to check an index is complete and fresh before trusting "
        "search results.",
        permission=INDEX_READ,
    ),
    ToolSpec(
        "list_projects",
        "List every indexed project with its root folder and size. Use it to learn the "
        "project names the other tools take.",
        permission=INDEX_READ,
    ),
    ToolSpec(
        "list_languages",
        "List the languages CodeWeaver recognises, how each is chunked and which ones "
        "structural_search supports. Use it to pick a value for the language arguments.",
        permission=SEARCH_READ,
    ),
)
