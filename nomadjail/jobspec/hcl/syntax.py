"""HCL text -> a syntax tree of bodies, blocks and unevaluated expressions.

python-hcl2 does the tokenising and parsing (its Lark grammar, positions
included); this module turns the raw Lark tree into three small shapes --
:class:`SyntaxBody`, :class:`SyntaxAttribute`, :class:`SyntaxBlock` -- whose
attribute values are still :class:`Expression` objects, because what an
expression means depends on variables the caller has not chosen yet.

Guarantees:

* Any text either parses or raises :class:`JobspecError` at the offending
  ``file:line:column`` with a sentence saying what was expected; Lark's
  exceptions never escape.
* An attribute set twice in one body is an error at the second one.
* Block labels are plain strings (quoted or bare identifiers); ``${...}`` in a
  label is an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import hcl2
from lark import Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from .errors import JobspecError, Position, quote


class Expression:
    """One unevaluated expression: a Lark subtree plus the text it came from.

    ``source`` is the exact text Lark parsed (sliced to recover the original
    spelling of runtime references such as ``${attr.kernel.name}``);
    ``line_offset`` maps lines of that text back to the user's file when the
    expression was parsed on its own (heredoc interpolations, ``-var`` values).
    """

    __slots__ = ("node", "source", "filename", "line_offset")

    def __init__(self, node: Tree, source: str, filename: str, line_offset: int = 0):
        self.node = node
        self.source = source
        self.filename = filename
        self.line_offset = line_offset

    @property
    def pos(self) -> Position:
        return self.position_of(self.node)

    def position_of(self, node: Tree | Token) -> Position:
        token = node if isinstance(node, Token) else first_token(node)
        if token is None or token.line is None:
            return Position(self.filename, max(1, 1 + self.line_offset), 1)
        line = token.line
        column = token.column or 1
        if token.type == "EQ" or token.type == "COLON":  # these tokens swallow leading blanks
            column += len(token.value) - len(token.value.lstrip(" \t"))
        return Position(self.filename, max(1, line + self.line_offset), column)

    def text_of(self, node: Tree | Token) -> str:
        start, end = span_of(node)
        return self.source[start:end]

    def sub(self, node: Tree) -> Expression:
        """The same source and file, another subtree."""
        return Expression(node, self.source, self.filename, self.line_offset)

    def __repr__(self) -> str:
        return f"Expression({self.text_of(self.node)!r} at {self.pos})"


@dataclass(slots=True)
class SyntaxAttribute:
    name: str
    pos: Position
    expression: Expression


@dataclass(slots=True)
class SyntaxBlock:
    type: str
    labels: list[str]
    label_positions: list[Position]
    body: SyntaxBody
    pos: Position


@dataclass(slots=True)
class SyntaxBody:
    attributes: dict[str, SyntaxAttribute] = field(default_factory=dict)
    blocks: list[SyntaxBlock] = field(default_factory=list)
    pos: Position = Position("", 1, 1)


# -- tree helpers ------------------------------------------------------------------------
def first_token(node: Tree | Token) -> Token | None:
    if isinstance(node, Token):
        return node
    for child in node.children:
        token = first_token(child)
        if token is not None:
            return token
    return None


def last_token(node: Tree | Token) -> Token | None:
    if isinstance(node, Token):
        return node
    for child in reversed(node.children):
        token = last_token(child)
        if token is not None:
            return token
    return None


def span_of(node: Tree | Token) -> tuple[int, int]:
    """Character offsets [start, end) of ``node`` in the parsed text."""
    first, last = first_token(node), last_token(node)
    if first is None or last is None:
        return 0, 0
    start = first.start_pos or 0
    if first.type in ("EQ", "COLON"):
        start += len(first.value) - len(first.value.lstrip(" \t"))
    return start, last.end_pos or start


def subtrees(node: Tree) -> list[Tree]:
    """The child trees that carry meaning (comments and newlines dropped)."""
    return [c for c in node.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]


def unwrap(node: Tree) -> Tree:
    """The node inside plain ``expr_term`` wrappers; parentheses are kept (they mean something)."""
    while node.data == "expr_term" and not has_token(node, "LPAR"):
        inner = subtrees(node)
        if len(inner) != 1:
            break
        node = inner[0]
    return node


def has_token(node: Tree, token_type: str) -> bool:
    return any(isinstance(c, Token) and c.type == token_type for c in node.children)


def name_of(node: Tree) -> str:
    """The text of an identifier/keyword/literal_value node used as a name."""
    token = first_token(node)
    return str(token) if token is not None else ""


# -- escapes -----------------------------------------------------------------------------
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", re.S)
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def unescape(raw: str, pos: Position) -> str:
    """The text of a quoted-string fragment with HCL's backslash escapes applied."""
    if "\\" not in raw:
        return raw

    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if code in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[code]
        if code[0] in "uU" and len(code) > 1:
            value = int(code[1:], 16)
            if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
                raise JobspecError(f"invalid Unicode escape \"\\{code}\"",
                                   _shift(pos, raw, match.start()))
            return chr(value)
        raise JobspecError(f"invalid escape sequence \"\\{code}\"; use \\\\ for a backslash",
                           _shift(pos, raw, match.start()))

    return _ESCAPE.sub(replace, raw)


def _shift(pos: Position, text: str, index: int) -> Position:
    """``pos`` moved forward over ``text[:index]``."""
    before = text[:index]
    newlines = before.count("\n")
    if newlines:
        return Position(pos.filename, pos.line + newlines, index - before.rfind("\n"))
    return Position(pos.filename, pos.line, pos.column + index)


# -- syntax errors -----------------------------------------------------------------------
_TOKEN_WORDS = {
    "RBRACE": '"}"', "LBRACE": '"{"', "RSQB": '"]"', "LSQB": '"["', "RPAR": '")"', "LPAR": '"("',
    "EQ": '"="', "COLON": '":"', "COMMA": '","', "DOT": '"."', "QMARK": '"?"', "IN": '"in"',
    "FOR_OBJECT_ARROW": '"=>"', "ELLIPSIS": '"..."', "NAME": "a name", "DBLQUOTE": '"\\""',
    "INT_LITERAL": "a number", "FLOAT_LITERAL": "a number", "NL_OR_COMMENT": "a new line",
    "$END": "end of file", "IF": '"if"', "FOR": '"for"',
}


def _describe_expected(expected: set[str]) -> str:
    if {"NAME", "INT_LITERAL", "DBLQUOTE"} <= expected:
        closers = [_TOKEN_WORDS[t] for t in ("RSQB", "RBRACE", "RPAR") if t in expected]
        return "an expression" + (f" or {closers[0]}" if closers else "")
    if "STRING_CHARS" in expected and "DBLQUOTE" in expected:
        return 'the closing quote (")'
    if "NAME" in expected and ("$END" in expected or "RBRACE" in expected):
        return "an attribute (name = value) or a block (name { ... })" + (
            ' or "}"' if "RBRACE" in expected and "$END" not in expected else "")
    if {"EQ", "LBRACE"} <= expected:
        return '"=" for an attribute, or a label or "{" for a block'
    meaningful = expected - {"NL_OR_COMMENT"} or expected
    words = sorted({_TOKEN_WORDS.get(t, t.lower()) for t in meaningful})
    if not words:
        return "something else"
    if len(words) > 4:
        words = words[:4] + ["..."]
    return " or ".join(words)


def _describe_found(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    value = str(token.value).lstrip(" \t\r")
    if token.type == "NL_OR_COMMENT" or value.startswith("\n") or not value:
        return "end of line"
    if value.startswith("#") or value.startswith("//") or value.startswith("/*"):
        return "a comment"
    word = re.match(r"[A-Za-z_][A-Za-z0-9_-]*|\d+(?:\.\d+)?|.", value, re.S)
    return quote(word.group(0) if word else value[:1])


def syntax_error(err: LarkError, filename: str, line_offset: int = 0,
                 last_line: int | None = None, end_pos: tuple[int, int] | None = None
                 ) -> JobspecError:
    """A Lark exception as a located sentence ("unexpected X; expected Y")."""
    line = getattr(err, "line", None) or 1
    column = getattr(err, "column", None) or 1
    if isinstance(err, UnexpectedToken):
        token = err.token
        if token.type != "$END" and token.line:
            line, column = token.line, token.column or 1
            if token.type in ("EQ", "COLON"):
                column += len(token.value) - len(token.value.lstrip(" \t"))
        expected = set(err.expected or ())
        message = f"unexpected {_describe_found(token)}; expected {_describe_expected(expected)}"
        if token.type == "$END" and "STRING_CHARS" in expected:
            message = 'unterminated string; expected the closing quote (")'
    elif isinstance(err, UnexpectedCharacters):
        char = getattr(err, "char", "") or ""
        message = f"unexpected character {quote(char)}"
        allowed = set(getattr(err, "allowed", None) or ())
        if allowed:
            message += f"; expected {_describe_expected(allowed)}"
    elif isinstance(err, UnexpectedInput):
        message = "unexpected end of file"
    else:
        message = f"invalid syntax: {str(err).splitlines()[0] if str(err) else type(err).__name__}"
    if last_line is not None and end_pos is not None and line > last_line:
        line, column = end_pos
    return JobspecError(message, Position(filename, max(1, line + line_offset), column))


def _parse_tree(text: str, filename: str) -> Tree:
    try:
        return hcl2.parses_to_tree(text)
    except LarkError as err:
        error = syntax_error(err, filename)
        try:
            unclosed = unclosed_quote(text)
        except RecursionError:
            unclosed = None
        if unclosed is not None and unclosed <= (error.line, error.column):
            # The grammar lets a quoted string run across lines, so a missing quote shows up
            # much later; point at the quote that was never closed instead.
            raise JobspecError(UNTERMINATED_STRING, Position(filename, *unclosed)) from None
        raise error from None
    except RecursionError:
        raise JobspecError("the text is nested too deeply to parse",
                           Position(filename, 1, 1)) from None


def find_closing_brace(text: str, start: int) -> int:
    """Index of the ``}`` closing a sequence whose content starts at ``start``, or -1."""
    depth = 0
    i = start
    while i < len(text):
        ch = text[i]
        if ch == '"':
            i = _skip_string(text, i + 1)
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1


def _skip_string(text: str, i: int) -> int:
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"' or ch == "\n":
            return i + 1
        if text.startswith("${", i) or text.startswith("%{", i):
            end = find_closing_brace(text, i + 2)
            if end < 0:
                return len(text)
            i = end + 1
            continue
        i += 1
    return len(text)


UNTERMINATED_STRING = ("unterminated string: this quote is not closed on its line (use a "
                       "heredoc, <<EOF, for text over several lines)")
_HEREDOC_START = re.compile(r"<<-?([A-Za-z][A-Za-z0-9._-]*)\r?\n")


def unclosed_quote(text: str) -> tuple[int, int] | None:
    """(line, column) of the first quoted string not closed on its own line, if any.

    A rough scan (comments, heredocs, ``${...}`` skipped) used only to explain a
    syntax error better.
    """
    i = 0
    while i < len(text):
        char = text[i]
        if char == "#" or text.startswith("//", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = len(text) if end < 0 else end + 2
        elif text.startswith("<<", i) and _HEREDOC_START.match(text, i):
            opening = _HEREDOC_START.match(text, i)
            assert opening is not None
            closing = re.compile(r"^[ \t]*" + re.escape(opening.group(1)) + r"[ \t]*\r?$", re.M)
            found = closing.search(text, opening.end())
            if found is None:
                return None
            i = found.end()
        elif char == '"':
            j = i + 1
            while j < len(text) and text[j] != '"':
                if text[j] == "\\":
                    j += 2
                    continue
                if text[j] == "\n":
                    return _line_column(text, i)
                if text.startswith("${", j) or text.startswith("%{", j):
                    end = find_closing_brace(text, j + 2)
                    if end < 0:
                        return None
                    j = end
                j += 1
            if j >= len(text):
                return _line_column(text, i)
            i = j + 1
        else:
            i += 1
    return None


def _line_column(text: str, index: int) -> tuple[int, int]:
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


# -- building the syntax tree ------------------------------------------------------------
def parse_syntax(text: str, filename: str) -> SyntaxBody:
    """Parse HCL ``text`` into bodies, blocks and unevaluated expressions."""
    if text.startswith("\ufeff"):
        text = text[1:]
    tree = _parse_tree(text, filename)
    source = text + "\n"  # what python-hcl2 actually parsed
    body_node = next((c for c in subtrees(tree) if c.data == "body"), None)
    if body_node is None:
        return SyntaxBody(pos=Position(filename, 1, 1))
    return _build_body(body_node, source, filename, Position(filename, 1, 1))


def _build_body(node: Tree, source: str, filename: str, pos: Position) -> SyntaxBody:
    body = SyntaxBody(pos=pos)
    root = Expression(node, source, filename)
    for child in subtrees(node):
        if child.data == "attribute":
            parts = subtrees(child)
            name_node, value_node = parts[0], parts[-1]
            name = name_of(name_node)
            name_pos = root.position_of(name_node)
            previous = body.attributes.get(name)
            if previous is not None:
                raise JobspecError(f"attribute {quote(name)} was already set at line "
                                   f"{previous.pos.line}; set it only once", name_pos)
            body.attributes[name] = SyntaxAttribute(name, name_pos, root.sub(value_node))
        elif child.data == "block":
            body.blocks.append(_build_block(child, root))
    return body


def _build_block(node: Tree, root: Expression) -> SyntaxBlock:
    parts = subtrees(node)
    type_node, inner = parts[0], parts[-1]
    labels: list[str] = []
    label_positions: list[Position] = []
    for label_node in parts[1:-1]:
        label_pos = root.position_of(label_node)
        if label_node.data == "string":
            text = plain_string(label_node, root)
            if text is None:
                raise JobspecError("a block label must be a plain string; ${...} and %{...} "
                                   "are not allowed in labels", label_pos)
            labels.append(text)
        else:
            labels.append(name_of(label_node))
        label_positions.append(label_pos)
    brace = next((c for c in node.children if isinstance(c, Token) and c.type == "LBRACE"), None)
    body_pos = root.position_of(brace) if brace is not None else root.position_of(type_node)
    body = _build_body(inner, root.source, root.filename, body_pos)
    return SyntaxBlock(name_of(type_node), labels, label_positions, body,
                       root.position_of(type_node))


def plain_string(node: Tree, root: Expression) -> str | None:
    """The value of a quoted string without ``${}``/``%{}`` sequences, else None."""
    text = []
    for part in subtrees(node):
        piece = part.children[0] if part.children else None
        if not isinstance(piece, Token):
            return None
        if piece.type == "STRING_CHARS":
            text.append(unescape(str(piece), root.position_of(piece)))
        elif piece.type in ("ESCAPED_INTERPOLATION", "ESCAPED_DIRECTIVE"):
            text.append(str(piece)[1:])
        else:
            return None
    return "".join(text)


# -- expressions parsed on their own -----------------------------------------------------
def parse_fragment(text: str, filename: str, line: int, column: int,
                   closing: str = "the end of the expression") -> Expression:
    """Parse ``text`` as one expression that starts at ``line``:``column`` of ``filename``.

    Used for interpolations inside heredocs (python-hcl2 keeps a heredoc as one
    token) and for ``-var`` values; positions in errors and in the returned
    expression point into the user's file.
    """
    # The expression goes on line 2 of a synthetic attribute, in parentheses so it may
    # span lines, indented so its columns match the original.
    synthetic = "_=(\n" + " " * (column - 1) + text + "\n)\n"
    line_offset = line - 2
    lines_in_text = text.count("\n")
    last_line = 2 + lines_in_text
    end_column = (len(text) - text.rfind("\n")) if lines_in_text else column + len(text)
    try:
        tree = hcl2.parses_to_tree(synthetic)
    except LarkError as err:
        error = syntax_error(err, filename, line_offset, last_line, (last_line, end_column))
        if error.message.startswith("unexpected") and '")"' in error.message:
            error = JobspecError(error.message.replace('")"', closing), error.pos)
        raise error from None
    except RecursionError:
        raise JobspecError("the expression is nested too deeply",
                           Position(filename, line, column)) from None
    source = synthetic + "\n"
    body = next((c for c in subtrees(tree) if c.data == "body"), None)
    items = subtrees(body) if body is not None else []
    start = Position(filename, line, column)
    if len(items) != 1 or items[0].data != "attribute":
        raise JobspecError(f"invalid expression {quote(text.strip())}", start)
    value = subtrees(items[0])[-1]
    closing_paren = last_token(value)
    if (value.data != "expr_term" or not value.children or not isinstance(value.children[0], Token)
            or value.children[0].type != "LPAR" or closing_paren is None
            or closing_paren.type != "RPAR" or closing_paren.line != last_line + 1):
        raise JobspecError(f"invalid expression {quote(text.strip())}", start)
    inner = subtrees(value)
    if len(inner) != 1:
        raise JobspecError(f"expected one expression, got {quote(text.strip())}", start)
    return Expression(inner[0], source, filename, line_offset)


def walk_tokens(node: Tree) -> Iterator[Token]:
    for child in node.children:
        if isinstance(child, Token):
            yield child
        else:
            yield from walk_tokens(child)
