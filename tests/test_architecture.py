"""Layering rules of the design page, checked on the source's import statements."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from codeweaver.config import setting_names

SRC = Path(__file__).resolve().parents[1] / "src" / "codeweaver"
README = Path(__file__).resolve().parents[1] / "README.md"

FORBIDDEN_IN_PURE = {
    "fastapi",
    "mcp",
    "redis",
    "qdrant_client",
    "qdrant_edge",
    "prometheus_client",
    "onnxruntime",
    "uvicorn",
    "boto3",
    "typer",
    "rich",
}

# layer -> codeweaver subpackages/modules it may import
ALLOWED = {
    "types": set(),
    "errors": set(),
    "core": {"types", "errors", "core"},
    "index": {"types", "errors", "core", "index"},
    "search": {"types", "errors", "core", "search"},
    "adapters": {"types", "errors", "config", "adapters"},
    "config": {"errors"},
    # domain packages: types, errors, config, adapters, and each other only as listed
    "auth": {"errors", "config", "auth"},
    # the identity component of a backup is the identity store's export
    "backup": {"types", "errors", "config", "adapters", "auth", "backup"},
    "telemetry": {"types", "errors", "telemetry"},
    "diagnostics": {"types", "errors", "config", "adapters", "diagnostics"},
    "support": {"types", "errors", "config", "support"},
    "engine": {"types", "errors", "core", "index", "search"},
    "container": {
        "types",
        "errors",
        "core",
        "index",
        "search",
        "adapters",
        "config",
        "engine",
        "backup",
        "telemetry",
    },
    "mcp": {
        "types",
        "errors",
        "core",
        "index",
        "search",
        "config",
        "engine",
        "container",
        "mcp",
        "auth",
    },
    "cli": {
        "types",
        "errors",
        "core",
        "index",
        "search",
        # the doctor and report commands build their HTTP and Prometheus clients
        "adapters",
        "config",
        "engine",
        "container",
        "cli",
        "mcp",
        "api",
        "workers",
        "owner",
        "auth",
        "backup",
        "diagnostics",
        "support",
        "telemetry",
    },
    # the one owner process of a data directory: hosts the engine, the local API and
    # the MCP endpoint on its socket; its client modules use the standard library only
    "owner": {
        "types",
        "errors",
        "core",
        "index",
        "search",
        "config",
        "engine",
        "container",
        "workers",
        "mcp",
        "owner",
        "auth",
        "diagnostics",
    },
    "workers": {"types", "errors", "core", "index", "search", "config", "engine", "workers"},
    "api": {
        "types",
        "errors",
        "core",
        "index",
        "search",
        "config",
        "engine",
        "container",
        "workers",
        "mcp",
        "api",
        "auth",
        "backup",
        "support",
        "telemetry",
    },
}

DOMAIN = ("auth", "backup", "telemetry", "diagnostics", "support")


def modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py"))


def layer_of(path: Path) -> str:
    rel = path.relative_to(SRC).parts
    return rel[0].removesuffix(".py") if rel[0] != "__init__.py" else "package"


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_layer_imports(path):
    layer = layer_of(path)
    if layer == "package":
        return
    allowed = ALLOWED[layer]
    for name in imports(path):
        top, _, rest = name.partition(".")
        if top == "codeweaver":
            target = rest.split(".")[0]
            if not target:  # the package root: ``__version__`` only
                continue
            assert target in allowed, f"{layer} must not import codeweaver.{target}"
        elif layer in ("types", "errors"):
            assert top in sys.stdlib_module_names or top == "__future__", name
        elif layer in ("core", "index", "search", "engine"):
            assert top not in FORBIDDEN_IN_PURE, f"{layer} must not import {top}"


EDGES = ("cli", "api", "mcp", "workers", "owner")


def test_every_package_has_a_rule():
    layers = {layer_of(p) for p in modules()} - {"package"}
    assert layers == set(ALLOWED), f"layers without a rule: {layers - set(ALLOWED)}"


def test_domain_packages_stay_below_the_services():
    above = {"engine", "container", *EDGES}
    for layer in DOMAIN:
        assert not ALLOWED[layer] & above, f"{layer} may import {ALLOWED[layer] & above}"
        assert ALLOWED[layer] <= {"types", "errors", "config", "adapters", *DOMAIN}, layer


def test_nothing_imports_an_edge():
    for path in modules():
        layer = layer_of(path)
        for name in imports(path):
            top, _, rest = name.partition(".")
            target = rest.split(".")[0]
            if top != "codeweaver" or target not in EDGES or target == layer:
                continue
            assert layer in EDGES, f"{path}: core layer {layer} imports edge {target}"
            # any edge may use the background workers; only the CLI starts other edges
            # the HTTP server mounts the MCP endpoint
            allowed = (
                target == "workers"
                or (layer == "cli" and target in ("api", "mcp", "owner"))
                or (layer in ("api", "owner") and target == "mcp")
            )
            assert allowed, f"{path}: {name}"


def test_every_setting_is_documented():
    text = README.read_text(encoding="utf-8")
    missing = [n for n in setting_names() if f"`{n}`" not in text]
    assert not missing, f"README does not document: {missing}"
