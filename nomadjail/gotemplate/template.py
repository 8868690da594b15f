"""A parsed template set: the entry point ``parse`` and ``Template.execute``."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from .builtins import BUILTIN_NAMES
from .errors import ParseError
from .executor import Executor
from .nodes import ListNode
from .parser import parse_trees

MissingKey = Literal["zero", "error", "default", "invalid"]
_MISSING_KEY_OPTIONS = ("zero", "error", "default", "invalid")


class Template:
    """A parsed template and the templates it defines (``define``/``block``).

    Immutable after parsing; ``execute`` may run concurrently from several threads.
    """

    def __init__(self, name: str, text: str, trees: dict[str, ListNode]) -> None:
        self.name = name
        self.text = text
        self.trees = trees

    @property
    def defined_templates(self) -> list[str]:
        """Names of the templates this text defines (besides itself), sorted."""
        return sorted(n for n in self.trees if n != self.name)

    def execute(self, data: Any = None, funcs: Mapping[str, Callable[..., Any]] | None = None,
                missing_key: MissingKey = "zero") -> str:
        """Run the template on ``data``; raises TemplateError naming name:line:col.

        ``missing_key`` is Go's ``missingkey`` option: "error" makes a missing map key
        an error (the template block's ``error_on_missing_key``); otherwise it is
        nil, printed ``<no value>`` (consul-template runs with "zero").
        """
        if missing_key not in _MISSING_KEY_OPTIONS:
            raise ValueError(f"missing_key must be one of {_MISSING_KEY_OPTIONS}")
        executor = Executor(self.name, self.text, self.trees, funcs or {}, missing_key)
        return executor.run(data)


def parse(text: str, name: str = "template", left_delim: str = "{{", right_delim: str = "}}",
          func_names: Iterable[str] | None = None) -> Template:
    """Parse ``text``; raises TemplateError ("template: name:line:col: msg").

    ``func_names`` are the functions the template may call besides Go's builtins;
    None means every function a Nomad job template has (FUNCTION_NAMES).
    """
    if func_names is None:
        from .consul.names import FUNCTION_NAMES
        func_names = FUNCTION_NAMES
    names = BUILTIN_NAMES | frozenset(func_names)
    try:
        trees = parse_trees(name, text, left_delim or "{{", right_delim or "}}", names)
    except RecursionError:
        raise ParseError(name, 0, 0, "max expression depth exceeded") from None
    except ParseError as err:
        raise _with_hint(err) from None
    return Template(name, text, trees)


def _with_hint(err: ParseError) -> ParseError:
    """Go's "function "secret" not defined", plus why, for consul-template's functions we lack."""
    from .consul.names import UNSUPPORTED
    match = re.fullmatch(r'function "(\w+)" not defined', err.reason)
    if match and match.group(1) in UNSUPPORTED:
        return ParseError(err.name, err.line, err.col,
                          f"{err.reason} (consul-template's {match.group(1)} is not "
                          "supported by nomadjail)")
    return err
