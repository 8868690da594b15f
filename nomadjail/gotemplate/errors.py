"""The one error type of the template engine, and where it happened.

Go's text/template reports every problem as ``template: <name>:<line>:<col>: <msg>``
(parse errors) or ``template: <name>:<line>:<col>: executing "<name>" at <node>: <msg>``
(execution errors).  Callers (the jobspec validator, the template hook) show that
string as is, so the user sees the template, line and column at once.
"""

from __future__ import annotations


class TemplateError(Exception):
    """A template could not be parsed or executed; ``str()`` is Go's wording.

    ``name``/``line``/``col`` locate the problem (line and column count from 1;
    0 where the position is unknown), ``reason`` is the bare message.
    """

    def __init__(self, name: str, line: int, col: int, reason: str, *,
                 context: str = "") -> None:
        self.name = name
        self.line = line
        self.col = col
        self.reason = reason
        self.context = context
        where = f"{name}:{line}:{col}" if line else name
        text = f"template: {where}: {context}{reason}"
        super().__init__(text)


class ParseError(TemplateError):
    """The template text is not valid Go template syntax."""


class ExecError(TemplateError):
    """The template parsed but executing it failed (a function error, a missing key...)."""


def location(text: str, pos: int) -> tuple[int, int]:
    """(line, column) of offset ``pos`` as Go's ErrorContext counts them.

    Lines count from 1; the column is the offset from the start of the line, from 0
    -- Go's ``template: t:2:7:`` means line 2, seven characters in.
    """
    before = text[:pos]
    line = before.count("\n") + 1
    newline = before.rfind("\n")
    col = pos if newline < 0 else pos - newline - 1
    return line, col
