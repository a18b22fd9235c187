"""Which language a file is in, and how each tree-sitter grammar spells a definition.

A :class:`LanguageSpec` is data only; :mod:`codeweaver.core.chunking.resolve` reads it.
Grammars are loaded lazily (first use) and cached.
"""

from __future__ import annotations

import functools
import importlib
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field

import tree_sitter

__all__ = [
    "CONTAINER_QUALIFYING_KINDS",
    "SPECS",
    "SUPPORTED_LANGUAGES",
    "TEXT_LANGUAGES",
    "TREE_SITTER_LANGUAGES",
    "LanguageSpec",
    "detect_language",
    "grammar",
]

_GRAMMARS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "java": ("tree_sitter_java", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "csharp": ("tree_sitter_c_sharp", "language"),
    "ruby": ("tree_sitter_ruby", "language"),
    "php": ("tree_sitter_php", "language_php"),
}

_CODE_EXTENSIONS: dict[str, str] = {
    "py": "python", "pyi": "python", "pyw": "python",
    "js": "javascript", "mjs": "javascript", "cjs": "javascript", "jsx": "javascript",
    "ts": "typescript", "mts": "typescript", "cts": "typescript", "tsx": "tsx",
    "go": "go", "rs": "rust", "java": "java",
    "c": "c", "h": "c",
    "cpp": "cpp", "cc": "cpp", "cxx": "cpp", "c++": "cpp",
    "hpp": "cpp", "hh": "cpp", "hxx": "cpp", "h++": "cpp", "ipp": "cpp", "inl": "cpp",
    "cs": "csharp", "rb": "ruby", "rake": "ruby", "gemspec": "ruby",
    "php": "php", "phtml": "php",
    "md": "markdown", "markdown": "markdown", "mdx": "markdown",
}  # fmt: skip

_TEXT_EXTENSIONS: dict[str, str] = {
    "sh": "shell", "bash": "shell", "zsh": "shell", "ksh": "shell", "fish": "fish",
    "ps1": "powershell", "psm1": "powershell", "bat": "batch", "cmd": "batch",
    "yaml": "yaml", "yml": "yaml", "toml": "toml", "json": "json", "jsonc": "json",
    "json5": "json", "ini": "ini", "cfg": "ini", "conf": "conf", "properties": "properties",
    "env": "dotenv", "xml": "xml", "xsd": "xml", "xsl": "xml", "svg": "xml",
    "plist": "xml", "csproj": "xml", "html": "html", "htm": "html", "xhtml": "html",
    "css": "css", "scss": "scss", "sass": "sass", "less": "less",
    "vue": "vue", "svelte": "svelte", "astro": "astro",
    "sql": "sql", "graphql": "graphql", "gql": "graphql", "proto": "protobuf",
    "thrift": "thrift", "kt": "kotlin", "kts": "kotlin", "swift": "swift",
    "scala": "scala", "sc": "scala", "groovy": "groovy", "gradle": "groovy",
    "clj": "clojure", "cljs": "clojure", "edn": "clojure", "lua": "lua",
    "r": "r", "jl": "julia", "pl": "perl", "pm": "perl", "dart": "dart",
    "ex": "elixir", "exs": "elixir", "erl": "erlang", "hrl": "erlang",
    "hs": "haskell", "ml": "ocaml", "mli": "ocaml", "fs": "fsharp", "fsx": "fsharp",
    "elm": "elm", "nim": "nim", "zig": "zig", "v": "v", "sol": "solidity",
    "m": "objective-c", "mm": "objective-cpp", "vb": "vbnet", "pas": "pascal",
    "f90": "fortran", "f": "fortran", "asm": "assembly", "s": "assembly",
    "cmake": "cmake", "mk": "make", "tf": "hcl", "hcl": "hcl", "nix": "nix",
    "dockerfile": "dockerfile", "vim": "vim", "el": "elisp", "tex": "latex",
    "rst": "restructuredtext", "adoc": "asciidoc", "org": "org",
    "txt": "text", "text": "text", "csv": "csv", "tsv": "csv",
    "j2": "jinja", "jinja": "jinja", "hbs": "handlebars", "mustache": "mustache",
    "erb": "erb", "ejs": "ejs", "tmpl": "template", "tpl": "template",
}  # fmt: skip

_FILENAMES: dict[str, str] = {
    "dockerfile": "dockerfile", "containerfile": "dockerfile",
    "makefile": "make", "gnumakefile": "make", "cmakelists.txt": "cmake",
    "gemfile": "ruby", "rakefile": "ruby", "vagrantfile": "ruby", "podfile": "ruby",
    "brewfile": "ruby", "justfile": "just", "procfile": "procfile",
    "jenkinsfile": "groovy", "build": "starlark", "build.bazel": "starlark",
    "workspace": "starlark", ".bashrc": "shell", ".zshrc": "shell", ".profile": "shell",
    ".gitignore": "ignore", ".dockerignore": "ignore", ".editorconfig": "ini",
    "license": "text", "readme": "text", "changelog": "text",
}  # fmt: skip

TREE_SITTER_LANGUAGES: frozenset[str] = frozenset(_GRAMMARS)
TEXT_LANGUAGES: frozenset[str] = (
    frozenset(_TEXT_EXTENSIONS.values()) | frozenset(_FILENAMES.values())
) - TREE_SITTER_LANGUAGES
SUPPORTED_LANGUAGES: frozenset[str] = TREE_SITTER_LANGUAGES | {"markdown"} | TEXT_LANGUAGES

# Containers of these kinds prefix their members' symbols (``Class.method``);
# namespaces and modules only appear in the context header.
CONTAINER_QUALIFYING_KINDS: frozenset[str] = frozenset(
    {"class", "struct", "interface", "trait", "impl", "enum", "union"}
)


def detect_language(path: str) -> str | None:
    """The language of a (posix, project-relative) path by file name or extension."""
    name = posixpath.basename(path.replace("\\", "/")).lower()
    if name in _FILENAMES:
        return _FILENAMES[name]
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem.strip("."):
        return _FILENAMES.get(name)
    return _CODE_EXTENSIONS.get(ext) or _TEXT_EXTENSIONS.get(ext)


@functools.cache
def grammar(language: str) -> tree_sitter.Language:
    """The tree-sitter grammar of ``language`` (imported on first use)."""
    module_name, function_name = _GRAMMARS[language]
    module = importlib.import_module(module_name)
    return tree_sitter.Language(getattr(module, function_name)())


@dataclass(frozen=True, slots=True)
class LanguageSpec:
    """How one grammar spells definitions.

    ``definitions``: node type → chunk kind. ``containers``: definition node types whose
    ``body`` members become chunks of their own. ``wrappers``: node types that wrap a
    definition (decorators, ``export``, templates); the value names the field holding
    it ("" = the first named child that is a definition). ``requires_body``: definition
    node types that only count with a ``body`` (declarations without one stay text).
    ``transparent``: node types whose members are read as if they were siblings (the
    value names the field holding them, "" = the node itself). ``leading``: comments,
    attributes and decorators that belong to the definition right below them.
    ``scope_setters``: statements that name the namespace for the rest of the file.
    ``script``: JavaScript-style functions bound to variables, fields and properties.
    """

    definitions: Mapping[str, str]
    containers: frozenset[str] = frozenset()
    wrappers: Mapping[str, str] = field(default_factory=dict)
    requires_body: frozenset[str] = frozenset()
    transparent: Mapping[str, str] = field(default_factory=dict)
    leading: frozenset[str] = frozenset({"comment"})
    scope_setters: frozenset[str] = frozenset()
    script: bool = False


_JS_DEFS = {
    "function_declaration": "function",
    "generator_function_declaration": "function",
    "function_expression": "function",
    "arrow_function": "function",
    "class_declaration": "class",
    "class": "class",
    "method_definition": "method",
}
_TS_DEFS = _JS_DEFS | {
    "abstract_class_declaration": "class",
    "interface_declaration": "interface",
    "type_alias_declaration": "type",
    "enum_declaration": "enum",
    "internal_module": "namespace",
    "module": "namespace",
}
_JS_SPEC = LanguageSpec(
    definitions=_JS_DEFS,
    containers=frozenset({"class_declaration", "class"}),
    wrappers={"export_statement": "", "expression_statement": ""},
    requires_body=frozenset({"method_definition"}),
    leading=frozenset({"comment", "decorator"}),
    script=True,
)
_TS_SPEC = LanguageSpec(
    definitions=_TS_DEFS,
    containers=frozenset(
        {"class_declaration", "abstract_class_declaration", "class", "internal_module", "module"}
    ),
    wrappers={
        "export_statement": "",
        "ambient_declaration": "",
        "expression_statement": "",
    },
    requires_body=frozenset({"method_definition", "module", "internal_module"}),
    leading=frozenset({"comment", "decorator"}),
    script=True,
)
_C_DEFS = {
    "function_definition": "function",
    "struct_specifier": "struct",
    "union_specifier": "union",
    "enum_specifier": "enum",
    "preproc_function_def": "macro",
}
_C_TRANSPARENT = {
    "preproc_if": "",
    "preproc_ifdef": "",
    "preproc_else": "",
    "preproc_elif": "",
    "preproc_elifdef": "",
}
_C_REQUIRE_BODY = frozenset({"struct_specifier", "union_specifier", "enum_specifier"})

SPECS: dict[str, LanguageSpec] = {
    "python": LanguageSpec(
        definitions={"function_definition": "function", "class_definition": "class"},
        containers=frozenset({"class_definition"}),
        wrappers={"decorated_definition": "definition"},
    ),
    "javascript": _JS_SPEC,
    "typescript": _TS_SPEC,
    "tsx": _TS_SPEC,
    "go": LanguageSpec(
        definitions={
            "function_declaration": "function",
            "method_declaration": "method",
            "type_declaration": "type",
        },
    ),
    "rust": LanguageSpec(
        definitions={
            "function_item": "function",
            "struct_item": "struct",
            "enum_item": "enum",
            "union_item": "union",
            "trait_item": "trait",
            "impl_item": "impl",
            "mod_item": "module",
            "macro_definition": "macro",
            "type_item": "type",
        },
        containers=frozenset({"trait_item", "impl_item", "mod_item"}),
        requires_body=frozenset({"mod_item"}),
        leading=frozenset({"line_comment", "block_comment", "attribute_item"}),
    ),
    "java": LanguageSpec(
        definitions={
            "class_declaration": "class",
            "interface_declaration": "interface",
            "enum_declaration": "enum",
            "record_declaration": "class",
            "annotation_type_declaration": "interface",
            "method_declaration": "method",
            "constructor_declaration": "method",
            "compact_constructor_declaration": "method",
        },
        containers=frozenset(
            {
                "class_declaration",
                "interface_declaration",
                "enum_declaration",
                "record_declaration",
            }
        ),
        requires_body=frozenset({"method_declaration"}),
        transparent={"enum_body_declarations": ""},
        leading=frozenset({"line_comment", "block_comment"}),
    ),
    "c": LanguageSpec(
        definitions=_C_DEFS,
        wrappers={"declaration": "type", "type_definition": "type"},
        requires_body=_C_REQUIRE_BODY,
        transparent=_C_TRANSPARENT,
    ),
    "cpp": LanguageSpec(
        definitions=_C_DEFS | {"class_specifier": "class", "namespace_definition": "namespace"},
        containers=frozenset(
            {"class_specifier", "struct_specifier", "union_specifier", "namespace_definition"}
        ),
        wrappers={
            "declaration": "type",
            "type_definition": "type",
            "field_declaration": "type",
            "template_declaration": "",
        },
        requires_body=_C_REQUIRE_BODY | {"class_specifier", "function_definition"},
        transparent=_C_TRANSPARENT | {"linkage_specification": "body"},
    ),
    "csharp": LanguageSpec(
        definitions={
            "class_declaration": "class",
            "struct_declaration": "struct",
            "interface_declaration": "interface",
            "enum_declaration": "enum",
            "record_declaration": "class",
            "record_struct_declaration": "struct",
            "namespace_declaration": "namespace",
            "method_declaration": "method",
            "constructor_declaration": "method",
            "destructor_declaration": "method",
            "operator_declaration": "method",
            "conversion_operator_declaration": "method",
            "local_function_statement": "function",
        },
        containers=frozenset(
            {
                "class_declaration",
                "struct_declaration",
                "interface_declaration",
                "record_declaration",
                "record_struct_declaration",
                "namespace_declaration",
            }
        ),
        requires_body=frozenset({"method_declaration", "operator_declaration"}),
        scope_setters=frozenset({"file_scoped_namespace_declaration"}),
    ),
    "ruby": LanguageSpec(
        definitions={
            "method": "function",
            "singleton_method": "method",
            "class": "class",
            "module": "module",
        },
        containers=frozenset({"class", "module"}),
        transparent={"singleton_class": "body"},
    ),
    "php": LanguageSpec(
        definitions={
            "function_definition": "function",
            "method_declaration": "method",
            "class_declaration": "class",
            "interface_declaration": "interface",
            "trait_declaration": "trait",
            "enum_declaration": "enum",
            "namespace_definition": "namespace",
        },
        containers=frozenset(
            {
                "class_declaration",
                "interface_declaration",
                "trait_declaration",
                "enum_declaration",
                "namespace_definition",
            }
        ),
        requires_body=frozenset({"method_declaration", "namespace_definition"}),
        scope_setters=frozenset({"namespace_definition"}),
    ),
}
