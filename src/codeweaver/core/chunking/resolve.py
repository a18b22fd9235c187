"""Recognising a definition among a body's statements (one node, no deep walks)."""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node

from codeweaver.core.chunking.languages import LanguageSpec
from codeweaver.core.chunking.naming import definition_name, go_type_kind

__all__ = ["Definition", "resolve"]

# Values that make ``const f = …`` / ``obj.f = …`` / ``f = …`` (class field) a definition.
_SCRIPT_FUNCTIONS = frozenset(
    {"arrow_function", "function_expression", "function", "generator_function"}
)
_SCRIPT_CLASSES = frozenset({"class"})
_MAX_WRAPPER_DEPTH = 4
_C_CLASS_SPECIFIERS = frozenset({"class_specifier", "struct_specifier"})


@dataclass(frozen=True, slots=True)
class Definition:
    """A definition found at one statement.

    ``node`` is the definition itself (its signature starts at ``signature_start``);
    ``body`` is what its members or inner statements hang off (may be absent);
    ``container`` says whether members of ``body`` may become chunks of their own.
    """

    node: Node
    kind: str
    name: str
    body: Node | None
    container: bool
    signature_start: int


@dataclass(frozen=True, slots=True)
class _Found:
    node: Node
    kind: str
    body: Node | None
    container: bool
    signature_node: Node


def resolve(statement: Node, spec: LanguageSpec) -> Definition | None:
    """The definition ``statement`` makes, or ``None`` for any other code."""
    found = _find(statement, spec, 0)
    if found is None:
        return None
    kind = found.kind
    if found.node.type == "type_declaration":
        kind = go_type_kind(found.node)
    elif found.node.type == "function_definition":
        kind = _macro_class_kind(found.node, kind)
    return Definition(
        node=found.node,
        kind=kind,
        name=definition_name(found.node, statement),
        body=found.body,
        container=found.container,
        signature_start=found.signature_node.start_byte,
    )


def _macro_class_kind(node: Node, kind: str) -> str:
    """``class EXPORT_MACRO Name {…}`` parses as a function returning ``class EXPORT_MACRO``."""
    type_node = node.child_by_field_name("type")
    if type_node is not None and type_node.type in _C_CLASS_SPECIFIERS:
        return "struct" if type_node.type == "struct_specifier" else "class"
    return kind


def _find(node: Node, spec: LanguageSpec, depth: int) -> _Found | None:
    node_type = node.type
    kind = spec.definitions.get(node_type)
    if kind is not None:
        body = node.child_by_field_name("body")
        if body is None and node_type in spec.requires_body:
            return None
        return _Found(node, kind, body, node_type in spec.containers, node)
    if spec.script:
        found = _script(node, node_type)
        if found is not None:
            return found
    field = spec.wrappers.get(node_type)
    if field is None or depth >= _MAX_WRAPPER_DEPTH:
        return None
    if field:
        inner = node.child_by_field_name(field)
        return _find(inner, spec, depth + 1) if inner is not None else None
    for child in node.named_children:
        found = _find(child, spec, depth + 1)
        if found is not None:
            return found
    return None


def _script(node: Node, node_type: str) -> _Found | None:
    """Functions and classes bound to names in JavaScript and TypeScript."""
    if node_type in ("lexical_declaration", "variable_declaration"):
        for declarator in node.named_children:
            if declarator.type == "variable_declarator":
                found = _bound(declarator, declarator.child_by_field_name("value"), node)
                if found is not None:
                    return found
        return None
    if node_type == "assignment_expression":
        return _bound(node, node.child_by_field_name("right"), node)
    if node_type in ("field_definition", "public_field_definition"):
        found = _bound(node, node.child_by_field_name("value"), node)
        if found is not None and found.kind == "function":
            return _Found(node, "method", found.body, False, node)
        return found
    return None


def _bound(node: Node, value: Node | None, signature_node: Node) -> _Found | None:
    if value is None:
        return None
    if value.type in _SCRIPT_FUNCTIONS:
        return _Found(node, "function", value.child_by_field_name("body"), False, signature_node)
    if value.type in _SCRIPT_CLASSES:
        return _Found(node, "class", value.child_by_field_name("body"), True, signature_node)
    return None
