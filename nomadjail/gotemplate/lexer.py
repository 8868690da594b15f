"""Go text/template's scanner: text, delimiters, trim markers, comments and action tokens.

It follows Go's ``text/template/parse/lex.go`` state by state, so what Go accepts
this accepts and what Go refuses fails with Go's words (``unclosed action``,
``unterminated quoted string``, ``bad character U+003D '='`` ...).  A scan error
does not raise: it becomes an ERROR token and ends the stream, and the parser
reports it when it gets there -- so an earlier syntax error is reported first, as
in Go.

Trim markers: ``{{- `` trims the white space (space, tab, CR, LF) before the
action, `` -}}`` the white space after it; the marker needs the space (``{{-3}}``
is the number -3).  Comments ``{{/* ... */}}`` produce no token at all.
"""

from __future__ import annotations

import enum
import re
from typing import NamedTuple

from .strconv import go_quote, is_printable


class Tok(enum.IntEnum):
    """Token types; the keywords come after KEYWORD, as in Go."""

    ERROR = 0
    BOOL = enum.auto()
    CHAR = enum.auto()           # printable ASCII punctuation: ',' and the like
    CHAR_CONSTANT = enum.auto()
    ASSIGN = enum.auto()         # '='
    DECLARE = enum.auto()        # ':='
    EOF = enum.auto()
    FIELD = enum.auto()          # .Name
    IDENTIFIER = enum.auto()     # a function name
    LEFT_DELIM = enum.auto()
    LEFT_PAREN = enum.auto()
    NUMBER = enum.auto()
    PIPE = enum.auto()
    RAW_STRING = enum.auto()
    RIGHT_DELIM = enum.auto()
    RIGHT_PAREN = enum.auto()
    SPACE = enum.auto()
    STRING = enum.auto()
    TEXT = enum.auto()
    VARIABLE = enum.auto()       # $ or $name
    KEYWORD = enum.auto()        # marker only
    BLOCK = enum.auto()
    BREAK = enum.auto()
    CONTINUE = enum.auto()
    DOT = enum.auto()
    DEFINE = enum.auto()
    ELSE = enum.auto()
    END = enum.auto()
    IF = enum.auto()
    NIL = enum.auto()
    RANGE = enum.auto()
    TEMPLATE = enum.auto()
    WITH = enum.auto()


KEYWORDS = {
    ".": Tok.DOT, "block": Tok.BLOCK, "break": Tok.BREAK, "continue": Tok.CONTINUE,
    "define": Tok.DEFINE, "else": Tok.ELSE, "end": Tok.END, "if": Tok.IF, "range": Tok.RANGE,
    "nil": Tok.NIL, "template": Tok.TEMPLATE, "with": Tok.WITH,
}

_SPACE = " \t\r\n"
_LEFT_COMMENT = "/*"
_RIGHT_COMMENT = "*/"
_TRIM = "-"
_TERMINATORS = frozenset(".,|:)(")
_WORD = re.compile(r"[\w]*")          # Go's isAlphaNumeric: letters, digits, underscore
_SPACES = re.compile(r"[ \t\r\n]*")


class Token(NamedTuple):
    """One scanned item (a tuple: tokens are made by the thousand)."""

    typ: Tok
    pos: int     # character offset of the token in the input
    val: str

    def __str__(self) -> str:
        """Go's rendering of a token in "unexpected ..." messages."""
        if self.typ == Tok.EOF:
            return "EOF"
        if self.typ == Tok.ERROR:
            return self.val
        if self.typ > Tok.KEYWORD:
            return f"<{self.val}>"
        if len(self.val) > 10:
            return go_quote(self.val[:10]) + "..."
        return go_quote(self.val)


def _is_alnum(ch: str) -> bool:
    return ch == "_" or ch.isalpha() or ch.isdigit()


def rune_repr(ch: str) -> str:
    """Go's %#U of a rune: U+003D '='."""
    code = ord(ch)
    if is_printable(ch):
        return f"U+{code:04X} '{ch}'"
    return f"U+{code:04X}"


class Lexer:
    """Scans ``text`` into a list of tokens; ends with EOF or one ERROR token."""

    def __init__(self, text: str, left: str = "{{", right: str = "}}") -> None:
        self.input = text
        self.left = left or "{{"
        self.right = right or "}}"
        self.pos = 0
        self.start = 0
        self.paren_depth = 0
        self.tokens: list[Token] = []

    # -- helpers ---------------------------------------------------------

    def _emit(self, typ: Tok) -> None:
        pos = self.pos
        self.tokens.append(Token(typ, self.start, self.input[self.start:pos]))
        self.start = pos

    def _error(self, msg: str) -> None:
        self.tokens.append(Token(Tok.ERROR, self.start, msg))

    def _peek(self) -> str:
        return self.input[self.pos] if self.pos < len(self.input) else ""

    def _next(self) -> str:
        if self.pos >= len(self.input):
            return ""
        ch = self.input[self.pos]
        self.pos += 1
        return ch

    def _accept(self, valid: str) -> bool:
        ch = self._peek()
        if ch and ch in valid:
            self.pos += 1
            return True
        return False

    def _accept_run(self, valid: str) -> None:
        while self._accept(valid):
            pass

    def _at_terminator(self) -> bool:
        ch = self._peek()
        if ch == "" or ch in _SPACE or ch in _TERMINATORS:
            return True
        return self.input.startswith(self.right, self.pos)

    def _at_right_delim(self) -> tuple[bool, bool]:
        """(at the right delimiter, with a trim marker before it)."""
        if self.input.startswith(self.right, self.pos):
            return True, False
        if (self.pos + 1 < len(self.input) and self.input[self.pos] in _SPACE
                and self.input[self.pos + 1] == _TRIM
                and self.input.startswith(self.right, self.pos + 2)):
            return True, True
        return False, False

    def _skip_space_after(self) -> None:
        while self.pos < len(self.input) and self.input[self.pos] in _SPACE:
            self.pos += 1
        self.start = self.pos

    # -- states ----------------------------------------------------------

    def run(self) -> list[Token]:
        text_state = True
        while True:
            if text_state:
                if not self._lex_text():
                    return self.tokens
                text_state = False
            result = self._lex_action()
            if result is None:
                return self.tokens
            text_state = result

    def _lex_text(self) -> bool:
        """Text up to the next left delimiter; False at EOF (EOF emitted)."""
        at = self.input.find(self.left, self.pos)
        if at < 0:
            self.pos = len(self.input)
            if self.pos > self.start:
                self._emit(Tok.TEXT)
            self._emit(Tok.EOF)
            return False
        self.pos = at
        after = at + len(self.left)
        trim = (after + 1 < len(self.input) and self.input[after] == _TRIM
                and self.input[after + 1] in _SPACE)
        if self.pos > self.start:
            text = self.input[self.start:self.pos]
            if trim:
                text = text.rstrip(_SPACE)
            if text:
                self.tokens.append(Token(Tok.TEXT, self.start, text))
        self.start = self.pos
        return True

    def _lex_action(self) -> bool | None:
        """From a left delimiter to its right delimiter; True to go back to text."""
        self.pos += len(self.left)
        trim = (self.pos + 1 < len(self.input) and self.input[self.pos] == _TRIM
                and self.input[self.pos + 1] in _SPACE)
        after_marker = 2 if trim else 0
        if self.input.startswith(_LEFT_COMMENT, self.pos + after_marker):
            self.pos += after_marker
            self.start = self.pos
            return self._lex_comment()
        self._emit(Tok.LEFT_DELIM)
        self.pos += after_marker
        self.start = self.pos
        self.paren_depth = 0
        while True:
            at_delim, trim_after = self._at_right_delim()
            if at_delim:
                if self.paren_depth:
                    self._error("unclosed left paren")
                    return None
                if trim_after:
                    self.pos += 2
                    self.start = self.pos
                self.pos += len(self.right)
                self._emit(Tok.RIGHT_DELIM)
                if trim_after:
                    self._skip_space_after()
                return True
            if not self._lex_inside_action():
                return None

    def _lex_comment(self) -> bool | None:
        self.pos += len(_LEFT_COMMENT)
        end = self.input.find(_RIGHT_COMMENT, self.pos)
        if end < 0:
            self._error("unclosed comment")
            return None
        self.pos = end + len(_RIGHT_COMMENT)
        at_delim, trim_after = self._at_right_delim()
        if not at_delim:
            self._error("comment ends before closing delimiter")
            return None
        if trim_after:
            self.pos += 2
        self.pos += len(self.right)
        self.start = self.pos
        if trim_after:
            self._skip_space_after()
        return True

    def _lex_inside_action(self) -> bool:
        """One token inside an action; False after an error."""
        ch = self._next()
        if ch == "":
            self._error("unclosed action")
            return False
        if ch in _SPACE:
            self.pos -= 1
            return self._lex_space()
        if ch == "=":
            self._emit(Tok.ASSIGN)
        elif ch == ":":
            if self._next() != "=":
                self._error("expected :=")
                return False
            self._emit(Tok.DECLARE)
        elif ch == "|":
            self._emit(Tok.PIPE)
        elif ch == '"':
            return self._lex_quoted('"', Tok.STRING, "quoted string")
        elif ch == "`":
            return self._lex_raw_quote()
        elif ch == "$":
            return self._lex_variable()
        elif ch == "'":
            return self._lex_quoted("'", Tok.CHAR_CONSTANT, "character constant")
        elif ch == "." and not ("0" <= self._peek() <= "9" and self._peek() != ""):
            return self._lex_field_or_variable(Tok.FIELD)
        elif ch in "+-." or "0" <= ch <= "9":
            self.pos -= 1
            return self._lex_number()
        elif _is_alnum(ch):
            self.pos -= 1
            return self._lex_identifier()
        elif ch == "(":
            self._emit(Tok.LEFT_PAREN)
            self.paren_depth += 1
        elif ch == ")":
            self._emit(Tok.RIGHT_PAREN)
            self.paren_depth -= 1
            if self.paren_depth < 0:
                self._error(f"unexpected right paren {rune_repr(ch)}")
                return False
        elif ord(ch) < 0x80 and is_printable(ch):
            self._emit(Tok.CHAR)
        else:
            self._error(f"unrecognized character in action: {rune_repr(ch)}")
            return False
        return True

    def _lex_space(self) -> bool:
        end = _SPACES.match(self.input, self.pos).end()  # type: ignore[union-attr]
        spaces, self.pos = end - self.pos, end
        # " -}}" is a trim marker, not a space token followed by a minus.
        if (self.input.startswith(_TRIM, self.pos)
                and self.input.startswith(self.right, self.pos + 1)):
            self.pos -= 1
            if spaces == 1:
                return True
        self._emit(Tok.SPACE)
        return True

    def _lex_identifier(self) -> bool:
        self.pos = _WORD.match(self.input, self.pos).end()  # type: ignore[union-attr]
        word = self.input[self.start:self.pos]
        if not self._at_terminator():
            self._error(f"bad character {rune_repr(self._peek())}")
            return False
        if word in KEYWORDS:
            self._emit(KEYWORDS[word])
        elif word in ("true", "false"):
            self._emit(Tok.BOOL)
        else:
            self._emit(Tok.IDENTIFIER)
        return True

    def _lex_variable(self) -> bool:
        if self._at_terminator():
            self._emit(Tok.VARIABLE)
            return True
        return self._lex_field_or_variable(Tok.VARIABLE)

    def _lex_field_or_variable(self, typ: Tok) -> bool:
        if self._at_terminator():
            self._emit(Tok.VARIABLE if typ == Tok.VARIABLE else Tok.DOT)
            return True
        self.pos = _WORD.match(self.input, self.pos).end()  # type: ignore[union-attr]
        if not self._at_terminator():
            self._error(f"bad character {rune_repr(self._peek())}")
            return False
        self._emit(typ)
        return True

    def _lex_number(self) -> bool:
        if not self._scan_number():
            self._error(f"bad number syntax: {go_quote(self.input[self.start:self.pos])}")
            return False
        if self._peek() in ("+", "-"):
            # Go accepts complex constants (1+2i); nomadjail has no complex type.
            self._scan_number()
            self._error(f"bad number syntax: {go_quote(self.input[self.start:self.pos])}")
            return False
        self._emit(Tok.NUMBER)
        return True

    def _scan_number(self) -> bool:
        self._accept("+-")
        digits = "0123456789_"
        if self._accept("0"):
            if self._accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self._accept("oO"):
                digits = "01234567_"
            elif self._accept("bB"):
                digits = "01_"
        self._accept_run(digits)
        if self._accept("."):
            self._accept_run(digits)
        if len(digits) == 11 and self._accept("eE"):
            self._accept("+-")
            self._accept_run("0123456789_")
        if len(digits) == 23 and self._accept("pP"):
            self._accept("+-")
            self._accept_run("0123456789_")
        self._accept("i")
        if _is_alnum(self._peek()):
            self.pos += 1
            return False
        return True

    def _lex_quoted(self, closer: str, typ: Tok, what: str) -> bool:
        """A "string" or 'c' character constant: up to ``closer``, skipping escapes; an end
        of line or input first is Go's "unterminated quoted string"/"character constant"."""
        while True:
            ch = self._next()
            if ch == "\\":
                nxt = self._next()
                if nxt not in ("", "\n"):
                    continue
                ch = nxt
            if ch in ("", "\n"):
                self._error(f"unterminated {what}")
                return False
            if ch == closer:
                break
        self._emit(typ)
        return True

    def _lex_raw_quote(self) -> bool:
        end = self.input.find("`", self.pos)
        if end < 0:
            self._error("unterminated raw quoted string")
            return False
        self.pos = end + 1
        self._emit(Tok.RAW_STRING)
        return True


def lex(text: str, left: str = "{{", right: str = "}}") -> list[Token]:
    """Every token of ``text``; the last is EOF or ERROR."""
    return Lexer(text, left, right).run()
