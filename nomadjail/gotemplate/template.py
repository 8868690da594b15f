"""A parsed template set: the entry point ``parse`` and ``Template.execute``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

MissingKey = Literal["zero", "error", "default", "invalid"]


class Template:
    """A parsed template and the templates it defines (``define``/``block``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def execute(self, data: Any, funcs: Mapping[str, Callable[..., Any]] | None = None,
                missing_key: MissingKey = "zero") -> str:
        """Run the template on ``data``; raises TemplateError naming name:line:col."""
        raise NotImplementedError


def parse(text: str, name: str = "template", left_delim: str = "{{", right_delim: str = "}}",
          func_names: Iterable[str] = ()) -> Template:
    """Parse ``text``; raises TemplateError ("template: name:line:col: msg")."""
    raise NotImplementedError
