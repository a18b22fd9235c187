"""Evaluation cases from real code: doc comment → function, and name → definition.

``blank_and_extract`` copies one source file with every function's doc comment (or
Python docstring) blanked, line numbers kept, and returns the cases found in it.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import tree_sitter

from codeweaver.core.chunking.languages import grammar

__all__ = ["Case", "Definition", "blank_and_extract", "first_sentence"]


@dataclass(frozen=True)
class Case:
    query: str
    path: str
    start: int
    end: int


@dataclass(frozen=True)
class Definition:
    name: str
    path: str
    start: int
    end: int


_FUNCS = {
    "go": {"function_declaration", "method_declaration"},
    "java": {"method_declaration", "constructor_declaration"},
    "rust": {"function_item"},
    "javascript": {"function_declaration", "generator_function_declaration", "method_definition"},
    "typescript": {"function_declaration", "generator_function_declaration", "method_definition"},
}
_COMMENTS = {"comment", "line_comment", "block_comment"}
_SKIP_BEFORE = {"attribute_item", "decorator"}


def first_sentence(doc: str) -> str:
    para = doc.strip().split("\n\n")[0]
    text = " ".join(para.split())
    m = re.match(r"(.+?[.!?])(\s|$)", text)
    return (m.group(1) if m else text)[:300]


def _clean_comment(raw: str) -> str:
    lines = []
    for line in raw.split("\n"):
        s = line.strip()
        s = re.sub(r"^(///?!?|/\*\*?|\*/|\*)", "", s).strip()
        s = s.removesuffix("*/").strip()
        if s.startswith("@") or s.startswith("#"):
            break  # JSDoc/Javadoc tags, rustdoc sections
        lines.append(s)
    text = "\n".join(lines)
    text = re.sub(r"\{@\w+\s+([^}]*)\}", r"\1", text)  # {@code x} {@link X}
    text = re.sub(r"<[^>]+>", "", text)  # HTML in Javadoc
    text = re.sub(r"\[`?([^\]`]+)`?\]\([^)]*\)", r"\1", text)  # markdown links
    return text.replace("`", "").replace("[", "").replace("]", "")


def _is_doc(lang: str, text: str) -> bool:
    if lang in ("java", "javascript", "typescript"):
        return text.startswith("/**")
    if lang == "rust":
        return text.startswith(("///", "/**")) and not text.startswith("////")
    return text.startswith("//")  # go


def _name(node: tree_sitter.Node) -> str:
    name = node.child_by_field_name("name")
    return name.text.decode("utf-8", "replace") if name is not None and name.text else ""


def _anchor(node: tree_sitter.Node) -> tree_sitter.Node:
    parent = node.parent
    if parent is not None and parent.type == "export_statement":
        return parent
    return node


def _walk(node: tree_sitter.Node) -> list[tree_sitter.Node]:
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(reversed(n.children))
    return out


def _doc_block(anchor: tree_sitter.Node, lang: str) -> list[tree_sitter.Node]:
    """The doc comment nodes directly above ``anchor`` (attributes may sit between)."""
    found: list[tree_sitter.Node] = []
    row = anchor.start_point[0]
    sib = anchor.prev_sibling
    while sib is not None and sib.type in _SKIP_BEFORE:
        row = sib.start_point[0]
        sib = sib.prev_sibling
    while sib is not None and sib.type in _COMMENTS and _last_row(sib) >= row - 1:
        text = (sib.text or b"").decode("utf-8", "replace")
        if not _is_doc(lang, text):
            break
        found.append(sib)
        row = sib.start_point[0]
        sib = sib.prev_sibling
    return found[::-1]


def _tree_sitter(text: str, rel: str, lang: str) -> tuple[list[str], list[Case], list[Definition]]:
    parser = tree_sitter.Parser(grammar(lang))
    tree = parser.parse(text.encode("utf-8"))
    lines = text.split("\n")
    cases: list[Case] = []
    defs: list[Definition] = []
    for node in _walk(tree.root_node):
        if node.type not in _FUNCS[lang] or node.has_error:
            continue
        anchor = _anchor(node)
        start, end = anchor.start_point[0] + 1, anchor.end_point[0] + 1
        name = _name(node)
        if name:
            defs.append(Definition(name, rel, start, end))
        block = _doc_block(anchor, lang)
        if not block:
            continue
        first, last = block[0].start_point[0], _last_row(block[-1])
        if any(lines[r].strip() and not _comment_line(lines[r]) for r in range(first, last + 1)):
            continue
        raw = "\n".join((b.text or b"").decode("utf-8", "replace").strip() for b in block)
        query = first_sentence(_clean_comment(raw))
        if len(query.split()) >= 4:
            cases.append(Case(query, rel, start, end))
        for r in range(first, last + 1):
            lines[r] = ""
    return lines, cases, defs


def _last_row(node: tree_sitter.Node) -> int:
    """The node's last line (a Rust line comment ends at column 0 of the next one)."""
    row, col = node.end_point
    return row - 1 if col == 0 and row > node.start_point[0] else row


def _comment_line(line: str) -> bool:
    s = line.strip()
    return s.startswith(("//", "/*", "*")) or s.endswith("*/")


def _python(text: str, rel: str) -> tuple[list[str], list[Case], list[Definition]]:
    lines = text.split("\n")
    tree = ast.parse(text)
    cases: list[Case] = []
    defs: list[Definition] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        end = node.end_lineno or node.lineno
        defs.append(Definition(node.name, rel, start, end))
        doc = ast.get_docstring(node)
        body0 = node.body[0] if node.body else None
        if not doc or not isinstance(body0, ast.Expr) or body0.end_lineno is None:
            continue
        query = first_sentence(doc)
        if len(query.split()) >= 4:
            cases.append(Case(query, rel, start, end))
        a, b = body0.lineno - 1, body0.end_lineno - 1
        m = re.match(r"\s*", lines[a])
        lines[a] = (m.group() if m else "") + '""'
        for i in range(a + 1, b + 1):
            lines[i] = ""
    return lines, cases, defs


def blank_and_extract(text: str, rel: str, lang: str) -> tuple[str, list[Case], list[Definition]]:
    """The file's text with doc comments blanked, its doc cases and its definitions."""
    try:
        if lang == "python":
            lines, cases, defs = _python(text, rel)
        else:
            lines, cases, defs = _tree_sitter(text, rel, lang)
    except (SyntaxError, ValueError):
        return text, [], []
    return "\n".join(lines), cases, defs
