"""A reusable HCL2 layer: parse, evaluate and decode HCL files with located errors.

Job files (``nomadjail.jobspec``) and agent configs (``nomadjail.agent``) both
build on it.  The pipeline::

    text --syntax.parse_syntax--> SyntaxBody (expressions unevaluated)
         --body.bind(context)---> Body (attributes evaluate on first access)
         --schema.decode_body---> Decoded (names checked, values converted)

Modules: ``errors`` (Position, JobspecError), ``syntax`` (python-hcl2's Lark
tree to bodies and expressions), ``templates`` (strings and heredocs),
``evaluate`` (the expression interpreter, EvalContext, Scope), ``functions``
and ``printf`` (built-in functions), ``conversion`` (types and cty's
conversion rules), ``body`` (evaluated bodies, parse_body), ``schema``
(decoding helpers shared by every HCL consumer).

Every problem raises :class:`JobspecError` (a ``structs.BadRequest``) whose
``str()`` is ``file:line:column: message``.
"""

from __future__ import annotations

from .body import Attribute, Block, Body, bind, parse_body
from .conversion import ConversionError, TypeSpec, convert, describe, parse_type
from .errors import JobspecError, Position
from .evaluate import EvalContext, Scope, evaluate
from .functions import FUNCTIONS, Function
from .schema import (
    BlockSpec,
    Decoded,
    Schema,
    as_any,
    as_bool,
    as_duration,
    as_integer,
    as_list,
    as_map,
    as_number,
    as_string,
    as_string_list,
    as_string_map,
    check_labels,
    check_names,
    convert_attribute,
    decode_body,
    string_map,
)
from .syntax import Expression, SyntaxBlock, SyntaxBody, parse_fragment, parse_syntax

__all__ = [
    "Attribute", "Block", "BlockSpec", "Body", "ConversionError", "Decoded", "EvalContext",
    "Expression", "FUNCTIONS", "Function", "JobspecError", "Position", "Schema", "Scope",
    "SyntaxBlock", "SyntaxBody", "TypeSpec", "as_any", "as_bool", "as_duration", "as_integer",
    "as_list", "as_map", "as_number", "as_string", "as_string_list", "as_string_map", "bind",
    "check_labels", "check_names", "convert", "convert_attribute", "decode_body", "describe",
    "evaluate", "parse_body", "parse_fragment", "parse_syntax", "parse_type", "string_map",
]
