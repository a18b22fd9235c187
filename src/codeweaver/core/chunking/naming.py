"""Names and signatures of definitions, read off their tree-sitter nodes."""

from __future__ import annotations

import re
from collections.abc import Callable

from tree_sitter import Node

__all__ = ["definition_name", "go_type_kind", "signature"]

_MAX_SIGNATURE_BYTES = 1000
_MAX_SIGNATURE_CHARS = 200
_TEMPLATE_ARGS = re.compile(r"<[^<>]*>")
_OPERATOR = re.compile(r"\boperator\b\s*([^\s(]+|\(\))")
_GO_RECEIVER = re.compile(r"[\s*&(]*([A-Za-z_]\w*)")
_SIGNATURE_TAIL = ("{", ":", "=>", "=")
_COMMENT_STARTS = ("#", "//", "/*", "*", "--")

# Declarator nodes of C and C++ that wrap the name of a function.
_C_DECLARATORS = frozenset(
    {
        "function_declarator",
        "pointer_declarator",
        "reference_declarator",
        "parenthesized_declarator",
        "attributed_declarator",
        "array_declarator",
    }
)
_SCRIPT_PREFIXES = ("module.exports.", "exports.", "this.")


def _text(node: Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return " ".join(node.text.decode("utf-8", "replace").split())


def _normalise(name: str) -> str:
    name = name.strip().strip("\"'`")
    if "<" in name and not name.startswith("operator"):
        name = _TEMPLATE_ARGS.sub("", _TEMPLATE_ARGS.sub("", name))
    return name.replace("::", ".").replace("\\", ".").strip(".")


def _c_function(node: Node) -> str:
    declarator = node.child_by_field_name("declarator")
    depth = 0
    while declarator is not None and declarator.type in _C_DECLARATORS and depth < 8:
        inner = declarator.child_by_field_name("declarator")
        declarator = inner if inner is not None else declarator.named_child(0)
        depth += 1
    if declarator is None:
        return ""
    if declarator.type == "operator_cast":
        return _text(declarator).split("(", 1)[0]
    return _text(declarator)


def _go_method(node: Node) -> str:
    name = _text(node.child_by_field_name("name"))
    receiver = node.child_by_field_name("receiver")
    parameter = receiver.named_child(0) if receiver is not None else None
    receiver_type = parameter.child_by_field_name("type") if parameter is not None else None
    match = _GO_RECEIVER.match(_text(receiver_type))
    return f"{match.group(1)}.{name}" if match else name


def _go_type(node: Node) -> str:
    spec = node.named_child(0)
    while spec is not None and spec.type not in ("type_spec", "type_alias"):
        spec = spec.next_named_sibling
    return _text(spec.child_by_field_name("name")) if spec is not None else ""


def go_type_kind(node: Node) -> str:
    """``struct``/``interface`` for a Go ``type`` declaration of one, else ``type``."""
    spec = node.named_child(0)
    type_node = spec.child_by_field_name("type") if spec is not None else None
    if type_node is None:
        return "type"
    return {"struct_type": "struct", "interface_type": "interface"}.get(type_node.type, "type")


def _rust_impl(node: Node) -> str:
    type_node = node.child_by_field_name("type")
    if type_node is not None and type_node.type == "generic_type":
        type_node = type_node.child_by_field_name("type")
    return _text(type_node)


def _script_assignment(node: Node) -> str:
    name = _text(node.child_by_field_name("left"))
    for prefix in _SCRIPT_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
    return name.replace(".prototype.", ".")


def _field(node: Node) -> str:
    found = node.child_by_field_name("property") or node.child_by_field_name("name")
    return _text(found)


_BY_TYPE: dict[str, Callable[[Node], str]] = {
    "function_definition": _c_function,
    "type_declaration": _go_type,
    "impl_item": _rust_impl,
    "assignment_expression": _script_assignment,
    "field_definition": _field,
    "public_field_definition": _field,
}


def definition_name(node: Node, statement: Node) -> str:
    """The (possibly dotted) name ``node`` defines; ``statement`` is the node around it."""
    if node.type == "method_declaration" and node.child_by_field_name("receiver") is not None:
        return _normalise(_go_method(node))
    name_node = node.child_by_field_name("name")
    if name_node is not None:
        return _normalise(_text(name_node))
    special = _BY_TYPE.get(node.type)
    name = special(node) if special is not None else ""
    if not name:
        name = _fallback_name(node, statement)
    return _normalise(name)


def _fallback_name(node: Node, statement: Node) -> str:
    """``typedef struct {…} name``, ``operator+``, ``export default …``."""
    declarator = statement.child_by_field_name("declarator")
    if declarator is not None and declarator is not node:
        return _text(declarator).split("(", 1)[0].strip("*& ")
    match = _OPERATOR.search(_text(node).split("{", 1)[0])
    if match:
        return "operator" + match.group(1)
    if statement.type == "export_statement":
        return "default"
    return ""


def signature(source: bytes, start: int, node: Node, body: Node | None) -> str:
    """The definition's head: its text from ``start`` up to the body, on one line."""
    end = body.start_byte if body is not None and body.start_byte > start else -1
    if end < 0:
        newline = source.find(b"\n", start, node.end_byte)
        end = newline if newline >= 0 else node.end_byte
    end = min(end, start + _MAX_SIGNATURE_BYTES)
    head = source[start:end].decode("utf-8", "replace").split("\n")
    for index in range(1, len(head)):
        if head[index].lstrip().startswith(_COMMENT_STARTS):
            del head[index:]
            break
    text = " ".join(" ".join(head).split())
    for tail in _SIGNATURE_TAIL:
        if text.endswith(tail) and (len(tail) == 1 or text[: -len(tail)].endswith(" ")):
            text = text[: -len(tail)].rstrip()
            break
    if len(text) > _MAX_SIGNATURE_CHARS:
        text = text[: _MAX_SIGNATURE_CHARS - 1].rstrip() + "…"
    return text
