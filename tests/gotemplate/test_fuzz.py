"""Hostile input: parsing (and executing what parses) fails only with TemplateError."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from nomadjail.gotemplate import TemplateError, parse

# Pieces of template syntax, so random text reaches deep into the lexer and parser.
TOKENS = ["{{", "}}", "{{-", "-}}", "{{- ", " -}}", "/*", "*/", "(", ")", "|", ":=", "=", "$",
          "$x", ".", ".A", ".a.b", "\"", "`", "'", "\\", "if", "else", "end", "range", "with",
          "define", "template", "block", "break", "continue", "nil", "true", "1", "-2", "0x1F",
          "1e3", "'a'", "\"s\"", "printf", "len", "index", "and", "or", "eq", "print", " ",
          "\n", ",", "%", "é", "\x00", "key", "not", "slice", "call"]
TEXT = st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=3)), max_size=40).map(
    "".join)
LONG_NUMBER = re.compile(r"\d{3,}")


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_parse_raises_only_template_errors(text: str) -> None:
    try:
        parse(text, name="fuzz")
    except TemplateError:
        pass


@settings(max_examples=300, deadline=None)
@given(TEXT, st.sampled_from([None, {}, {"A": 1, "a": {"b": [1, "x"]}}, [1, 2], "s", 0]))
def test_execute_raises_only_template_errors(text: str, data: object) -> None:
    if "range" in text or LONG_NUMBER.search(text):
        return   # a huge range or printf width is slow, not wrong
    try:
        tpl = parse(text, name="fuzz")
    except TemplateError:
        return
    try:
        tpl.execute(data)
    except TemplateError:
        pass
