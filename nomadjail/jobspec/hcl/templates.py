"""String templates: quoted strings and heredocs as literal text, ``${...}`` and ``%{...}``.

A template is a list of nodes -- :class:`Literal`, :class:`Interpolation`,
:class:`IfNode`, :class:`ForNode` -- that the evaluator walks.  Quoted strings
arrive already split by python-hcl2's grammar; a heredoc arrives as one raw
token, so this module scans it itself and parses each embedded expression with
:func:`~.syntax.parse_fragment`, keeping positions pointing into the user's file.

Rules implemented (HCL's): ``$${`` and ``%%{`` are literal ``${`` and ``%{``;
``<<-`` heredocs lose the indentation common to their non-blank lines; a ``~``
next to a delimiter (``%{~ if x ~}``) strips the whitespace on that side; a
heredoc's value ends with the newline before its closing marker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lark import Token, Tree

from .errors import JobspecError, Position
from .syntax import (
    UNTERMINATED_STRING,
    Expression,
    find_closing_brace,
    parse_fragment,
    subtrees,
    unescape,
)


@dataclass(slots=True)
class Literal:
    text: str


@dataclass(slots=True)
class Interpolation:
    """``${ expression }``; ``text`` is its exact spelling, delimiters included."""

    expression: Expression
    text: str
    strip_before: bool = False
    strip_after: bool = False


@dataclass(slots=True)
class IfNode:
    condition: Expression
    then: list[TemplateNode] = field(default_factory=list)
    otherwise: list[TemplateNode] = field(default_factory=list)


@dataclass(slots=True)
class ForNode:
    key_name: str | None
    value_name: str
    collection: Expression
    body: list[TemplateNode] = field(default_factory=list)


TemplateNode = Literal | Interpolation | IfNode | ForNode


@dataclass(slots=True)
class _Directive:
    keyword: str  # if, else, endif, for, endfor
    pos: Position
    expression: Expression | None = None
    key_name: str | None = None
    value_name: str = ""
    strip_before: bool = False
    strip_after: bool = False


_Part = Literal | Interpolation | _Directive


# -- quoted strings ----------------------------------------------------------------------
def quoted_template(node: Tree, root: Expression) -> list[TemplateNode]:
    """The template of a ``string`` node from python-hcl2's tree."""
    parts: list[_Part] = []
    for part in subtrees(node):
        piece = part.children[0] if part.children else None
        if isinstance(piece, Token):
            if piece.type == "STRING_CHARS":
                raw = str(piece)
                if "\n" in raw:
                    raise JobspecError(UNTERMINATED_STRING, root.position_of(node))
                parts.append(Literal(unescape(raw, root.position_of(piece))))
            elif piece.type in ("ESCAPED_INTERPOLATION", "ESCAPED_DIRECTIVE"):
                parts.append(Literal(str(piece)[1:]))
        elif isinstance(piece, Tree):
            parts.append(_tree_part(piece, root))
    return _assemble(parts, root.position_of(node))


def _tree_part(piece: Tree, root: Expression) -> _Part:
    pos = root.position_of(piece)
    if piece.data == "interpolation":
        inner = subtrees(piece)
        return Interpolation(root.sub(inner[0]), root.text_of(piece))
    tokens = [c for c in piece.children if isinstance(c, Token)]
    keyword_index = next((i for i, t in enumerate(tokens)
                          if t.type in ("IF", "ELSE", "ENDIF", "FOR", "ENDFOR")), 0)
    strip_before = any(t.type == "STRIP_MARKER" for t in tokens[:keyword_index])
    strip_after = any(t.type == "STRIP_MARKER" for t in tokens[keyword_index + 1:])
    keyword = piece.data.removeprefix("template_").removesuffix("_start")
    directive = _Directive(keyword, pos, strip_before=strip_before, strip_after=strip_after)
    trees = subtrees(piece)
    if keyword == "if":
        directive.expression = root.sub(trees[-1])
    elif keyword == "for":
        names = [str(t.children[0]) for t in trees if t.data == "identifier"]
        directive.expression = root.sub(trees[-1])
        if len(names) == 2:
            directive.key_name, directive.value_name = names
        else:
            directive.value_name = names[0]
    return directive


# -- heredocs ----------------------------------------------------------------------------
_HEREDOC_OPEN = re.compile(r"<<(-?)([A-Za-z][A-Za-z0-9._-]*)\r?\n")
_DIRECTIVE = re.compile(r"\s*(if|else|endif|for|endfor)\b")
_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_FOR_INTRO = re.compile(rf"\s*for\s+({_NAME})\s*(?:,\s*({_NAME})\s*)?\s+in\b")


def heredoc_template(token: Token, root: Expression) -> list[TemplateNode]:
    """The template of a ``<<EOF`` / ``<<-EOF`` heredoc token."""
    value = str(token)
    opening = _HEREDOC_OPEN.match(value)
    start = root.position_of(token)
    if opening is None:  # the grammar guarantees the shape; be defensive anyway
        raise JobspecError("invalid heredoc", start)
    flush = opening.group(1) == "-"
    rest = value[opening.end():]
    if rest.endswith("\n"):
        rest = rest[:-1]
    last_newline = rest.rfind("\n")
    body = rest[: last_newline + 1] if last_newline >= 0 else ""
    return _HeredocScanner(body, start.filename, start.line + 1, flush).scan()


class _HeredocScanner:
    """Splits a heredoc body into literal text, interpolations and directives."""

    def __init__(self, body: str, filename: str, first_line: int, flush: bool):
        self.body = body
        self.filename = filename
        self.first_line = first_line
        self.drop = self._indentation_mask(body) if flush else None

    @staticmethod
    def _indentation_mask(body: str) -> bytearray:
        """1 for every character <<- removes: the indentation common to non-blank lines."""
        lines = body.split("\n")
        indents = [len(line) - len(line.lstrip(" \t")) for line in lines if line.strip()]
        common = min(indents) if indents else 0
        mask = bytearray(len(body))
        offset = 0
        for line in lines:
            leading = len(line) - len(line.lstrip(" \t"))
            for i in range(min(common, leading)):
                mask[offset + i] = 1
            offset += len(line) + 1
        return mask

    def position(self, index: int) -> Position:
        before = self.body[:index]
        line = self.first_line + before.count("\n")
        return Position(self.filename, line, index - (before.rfind("\n") + 1) + 1)

    def literal(self, start: int, end: int) -> str:
        if self.drop is None:
            return self.body[start:end]
        return "".join(ch for i, ch in enumerate(self.body[start:end], start)
                       if not self.drop[i])

    def scan(self) -> list[TemplateNode]:
        body = self.body
        parts: list[_Part] = []
        text: list[str] = []
        i = literal_start = 0
        while i < len(body):
            if body.startswith("$${", i) or body.startswith("%%{", i):
                text.append(self.literal(literal_start, i) + body[i + 1:i + 3])
                i += 3
                literal_start = i
                continue
            if body.startswith("${", i) or body.startswith("%{", i):
                text.append(self.literal(literal_start, i))
                if text:
                    parts.append(Literal("".join(text)))
                    text = []
                end = find_closing_brace(body, i + 2)
                if end < 0:
                    raise JobspecError(f'"{body[i:i + 2]}" is never closed; expected "}}"',
                                       self.position(i))
                parts.append(self._sequence(i, end))
                i = literal_start = end + 1
                continue
            i += 1
        text.append(self.literal(literal_start, len(body)))
        if "".join(text):
            parts.append(Literal("".join(text)))
        return _assemble(parts, self.position(0))

    def _sequence(self, start: int, end: int) -> _Part:
        """The ``${...}`` or ``%{...}`` spanning body[start:end + 1]."""
        inner_start = start + 2
        inner = self.body[inner_start:end]
        strip_before = inner.startswith("~")
        strip_after = inner.endswith("~") and len(inner) > (1 if strip_before else 0)
        content_start = inner_start + (1 if strip_before else 0)
        content_end = end - (1 if strip_after else 0)
        content = self.body[content_start:content_end]
        if self.body[start] == "$":
            pos = self.position(content_start)
            expression = parse_fragment(content, self.filename, pos.line, pos.column,
                                        closing='"}"')
            return Interpolation(expression, self.body[start:end + 1], strip_before, strip_after)
        return self._directive(start, content, content_start, strip_before, strip_after)

    def _directive(self, start: int, content: str, content_start: int, strip_before: bool,
                   strip_after: bool) -> _Directive:
        pos = self.position(start)
        match = _DIRECTIVE.match(content)
        if match is None:
            raise JobspecError("expected a template directive: %{ if ... }, %{ else }, "
                               "%{ endif }, %{ for ... in ... }, %{ endfor }", pos)
        keyword = match.group(1)
        directive = _Directive(keyword, pos, strip_before=strip_before, strip_after=strip_after)
        if keyword in ("else", "endif", "endfor"):
            if content[match.end():].strip():
                raise JobspecError(f"unexpected text after %{{ {keyword} }}", pos)
            return directive
        if keyword == "if":
            expr_start = match.end()
        else:
            intro = _FOR_INTRO.match(content)
            if intro is None:
                raise JobspecError("expected %{ for NAME in COLLECTION } or "
                                   "%{ for KEY, VALUE in COLLECTION }", pos)
            if intro.group(2):
                directive.key_name, directive.value_name = intro.group(1), intro.group(2)
            else:
                directive.value_name = intro.group(1)
            expr_start = intro.end()
        expr_pos = self.position(content_start + expr_start)
        directive.expression = parse_fragment(content[expr_start:], self.filename, expr_pos.line,
                                              expr_pos.column, closing='"}"')
        return directive


# -- structure ---------------------------------------------------------------------------
def _assemble(parts: list[_Part], pos: Position) -> list[TemplateNode]:
    """Apply strip markers, then nest if/for directives into a tree."""
    for index, part in enumerate(parts):
        if isinstance(part, (Interpolation, _Directive)):
            previous = parts[index - 1] if index > 0 else None
            if part.strip_before and isinstance(previous, Literal):
                previous.text = previous.text.rstrip()
            following = parts[index + 1] if index + 1 < len(parts) else None
            if part.strip_after and isinstance(following, Literal):
                following.text = following.text.lstrip()

    root: list[TemplateNode] = []
    # Each frame: (the list being filled, the open directive node or None, its position).
    stack: list[tuple[list[TemplateNode], IfNode | ForNode | None, Position]] = [(root, None, pos)]
    for part in parts:
        target = stack[-1][0]
        if isinstance(part, (Literal, Interpolation)):
            if not isinstance(part, Literal) or part.text:
                target.append(part)
            continue
        keyword = part.keyword
        if keyword == "if":
            assert part.expression is not None
            node_if = IfNode(part.expression)
            target.append(node_if)
            stack.append((node_if.then, node_if, part.pos))
        elif keyword == "for":
            assert part.expression is not None
            node_for = ForNode(part.key_name, part.value_name, part.expression)
            target.append(node_for)
            stack.append((node_for.body, node_for, part.pos))
        elif keyword == "else":
            open_node = stack[-1][1]
            if not isinstance(open_node, IfNode) or stack[-1][0] is open_node.otherwise:
                raise JobspecError("%{ else } without a matching %{ if }", part.pos)
            stack[-1] = (open_node.otherwise, open_node, stack[-1][2])
        elif keyword == "endif":
            if not isinstance(stack[-1][1], IfNode):
                raise JobspecError("%{ endif } without a matching %{ if }", part.pos)
            stack.pop()
        elif keyword == "endfor":
            if not isinstance(stack[-1][1], ForNode):
                raise JobspecError("%{ endfor } without a matching %{ for }", part.pos)
            stack.pop()
    if len(stack) > 1:
        open_node, open_pos = stack[-1][1], stack[-1][2]
        closer = "%{ endif }" if isinstance(open_node, IfNode) else "%{ endfor }"
        raise JobspecError(f"this directive is never closed; expected {closer}", open_pos)
    return root
