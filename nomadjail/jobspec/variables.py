"""Input variables and locals of a job file, with Nomad's precedence rules.

A job file declares variables (``variable "name" { type default description
validation }`` or a ``variables { name = default }`` block) and locals
(``locals { name = expression }``).  Values come from, lowest precedence
first: the declared default, ``NOMAD_VAR_<name>`` in the environment, each
``-var-file`` in order, then ``-var name=value``.  Exactly as in Nomad:

* a ``-var`` or var-file entry for an undeclared variable is an error, an
  environment variable for an undeclared one is ignored;
* raw strings (``-var``, environment) are taken literally for ``string`` and
  ``number`` variables and parsed as HCL for collections (``-var 'dcs=["a"]'``);
* every value is converted to the declared type (a variable with no type
  takes its default's), and a value that does not convert is an error naming
  the variable, the value and the type;
* a variable with neither a default nor a value is an error naming it.

Locals may use variables, functions, runtime references and each other in
any order; a cycle is an error that prints the chain.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .hcl.conversion import (
    ConversionError,
    TypeSpec,
    convert,
    describe,
    parse_type,
    to_bool,
    type_of,
)
from .hcl.errors import JobspecError, Position, quote
from .hcl.evaluate import EvalContext, Scope, evaluate
from .hcl.functions import FUNCTIONS
from .hcl.syntax import Expression, SyntaxBlock, parse_fragment, parse_syntax

ENV_PREFIX = "NOMAD_VAR_"
_VALID_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_NO_VALUE: Any = object()
_VARIABLE_ATTRIBUTES = ("default", "description", "type")

# Defaults, var files and raw values may call functions but name no variables.
_LITERAL_CONTEXT = EvalContext()


@dataclass(slots=True)
class Validation:
    condition: Expression
    error_message: str
    pos: Position


@dataclass(slots=True)
class VariableDeclaration:
    name: str
    pos: Position
    type: TypeSpec | None = None
    description: str = ""
    default: Any = _NO_VALUE
    validations: list[Validation] = field(default_factory=list)


@dataclass(slots=True)
class _Assignment:
    value: Any
    pos: Position
    source: str


# -- declarations ------------------------------------------------------------------------
def declare_variables(blocks: Sequence[SyntaxBlock]) -> dict[str, VariableDeclaration]:
    """Every variable the file declares, from ``variable`` and ``variables`` blocks."""
    declarations: dict[str, VariableDeclaration] = {}

    def add(declaration: VariableDeclaration) -> None:
        if not _VALID_NAME.fullmatch(declaration.name):
            raise JobspecError(f"invalid variable name {quote(declaration.name)}: a name starts "
                               "with a letter or underscore and holds only letters, digits, "
                               "underscores and dashes", declaration.pos)
        previous = declarations.get(declaration.name)
        if previous is not None:
            raise JobspecError(f"variable {quote(declaration.name)} is declared twice; the first "
                               f"declaration is at line {previous.pos.line}", declaration.pos)
        declarations[declaration.name] = declaration

    for block in blocks:
        if block.type == "variable":
            add(_declaration(block))
        elif block.type == "variables":
            if block.body.blocks:
                raise JobspecError("a variables block holds only name = default pairs",
                                   block.body.blocks[0].pos)
            for name, attribute in block.body.attributes.items():
                default = evaluate(attribute.expression, _LITERAL_CONTEXT)
                add(VariableDeclaration(name, attribute.pos, type_of(default), default=default))
    return declarations


def _declaration(block: SyntaxBlock) -> VariableDeclaration:
    declaration = VariableDeclaration(block.labels[0], block.label_positions[0]
                                      if block.label_positions else block.pos)
    where = f"variable {quote(declaration.name)}"
    attributes = block.body.attributes
    for name, attribute in attributes.items():
        if name not in _VARIABLE_ATTRIBUTES:
            raise JobspecError(f"unknown attribute {quote(name)} in {where}; a variable block "
                               "takes type, default, description and validation blocks",
                               attribute.pos)
    if "type" in attributes:
        declaration.type = parse_type(attributes["type"].expression)
    if "description" in attributes:
        description = evaluate(attributes["description"].expression, _LITERAL_CONTEXT)
        if not isinstance(description, str):
            raise JobspecError(f"the description of {where} must be a string, got "
                               f"{describe(description)}", attributes["description"].expression.pos)
        declaration.description = description
    if "default" in attributes:
        expression = attributes["default"].expression
        default = evaluate(expression, _LITERAL_CONTEXT)
        if declaration.type is not None:
            try:
                default = convert(default, declaration.type)
            except ConversionError as err:
                raise JobspecError(f"the default of {where} does not match its type "
                                   f"{declaration.type}: {err}", expression.pos) from None
        else:
            declaration.type = type_of(default)
        declaration.default = default
    for inner in block.body.blocks:
        if inner.type != "validation":
            raise JobspecError(f"unknown block {quote(inner.type)} in {where}; only validation "
                               "blocks are allowed", inner.pos)
        declaration.validations.append(_validation(inner, where))
    return declaration


def _validation(block: SyntaxBlock, where: str) -> Validation:
    attributes = block.body.attributes
    for name, attribute in attributes.items():
        if name not in ("condition", "error_message"):
            raise JobspecError(f"unknown attribute {quote(name)} in a validation of {where}; "
                               "expected condition and error_message", attribute.pos)
    for name in ("condition", "error_message"):
        if name not in attributes:
            raise JobspecError(f"a validation of {where} needs {name}", block.pos)
    message_expression = attributes["error_message"].expression
    message = evaluate(message_expression, _LITERAL_CONTEXT)
    if not isinstance(message, str) or not message.strip():
        raise JobspecError("error_message must be a non-empty string", message_expression.pos)
    return Validation(attributes["condition"].expression, message, block.pos)


# -- values ------------------------------------------------------------------------------
def variable_values(declarations: Mapping[str, VariableDeclaration], *,
                    variables: Mapping[str, str] | None = None,
                    var_files: Sequence[tuple[str, str]] = (),
                    env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The value of every declared variable, after precedence, conversion and validation."""
    assigned: dict[str, _Assignment] = {
        name: _Assignment(d.default, d.pos, "default")
        for name, d in declarations.items() if d.default is not _NO_VALUE}
    for key, raw in sorted((env or {}).items()):
        if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX):] in declarations:
            name = key[len(ENV_PREFIX):]
            filename = f"<value for var.{name} from env>"
            assigned[name] = _Assignment(_raw_value(declarations[name], raw, filename),
                                         Position(filename, 1, 1), "env")
    for filename, content in var_files:
        for name, (value, pos) in _var_file_values(filename, content, declarations).items():
            assigned[name] = _Assignment(value, pos, "var file")
    for name, raw in (variables or {}).items():
        filename = f"<value for var.{name} from arguments>"
        if name not in declarations:
            raise JobspecError(f"-var {quote(name)} sets a variable the job file does not declare"
                               f"{_suggest(name, declarations)}; declare it with "
                               f"variable {quote(name)} {{}}", Position(filename, 1, 1))
        assigned[name] = _Assignment(_raw_value(declarations[name], raw, filename),
                                     Position(filename, 1, 1), "-var")
    values: dict[str, Any] = {}
    for name, declaration in declarations.items():
        assignment = assigned.get(name)
        if assignment is None:
            raise JobspecError(f"variable {quote(name)} has no value: set it with -var "
                               f"{name}=..., a var file or the environment variable "
                               f"{ENV_PREFIX}{name}, or give it a default", declaration.pos)
        _validate(declaration, assignment)
        values[name] = assignment.value
    return values


def _raw_value(declaration: VariableDeclaration, raw: str, filename: str) -> Any:
    """A ``-var``/environment string as a value of the variable's type."""
    spec = declaration.type
    pos = Position(filename, 1, 1)
    if spec is None or spec.is_primitive:
        value: Any = raw
    else:
        value = evaluate(parse_fragment(raw, filename, 1, 1, closing="end of value"),
                         _LITERAL_CONTEXT)
    return _converted(declaration, value, pos)


def _converted(declaration: VariableDeclaration, value: Any, pos: Position) -> Any:
    if declaration.type is None:
        return value
    try:
        return convert(value, declaration.type)
    except ConversionError as err:
        raise JobspecError(f"invalid value for variable {quote(declaration.name)} (type "
                           f"{declaration.type}): {err}", pos) from None


def _var_file_values(filename: str, content: str, declarations: Mapping[str, VariableDeclaration]
                     ) -> dict[str, tuple[Any, Position]]:
    if content.lstrip(" \t\r\n\ufeff").startswith("{"):
        return _json_var_file(filename, content, declarations)
    syntax = parse_syntax(content, filename)
    for block in syntax.blocks:
        if block.type == "variable":
            name = block.labels[0] if block.labels else ""
            raise JobspecError("a var file assigns values (name = value); it cannot declare "
                               f"variables: move variable {quote(name)} to the job file",
                               block.pos)
        raise JobspecError(f"unexpected block {quote(block.type)}: a var file holds only "
                           "name = value assignments", block.pos)
    values = {}
    for name, attribute in syntax.attributes.items():
        declaration = _declared(name, declarations, attribute.pos)
        value = evaluate(attribute.expression, _LITERAL_CONTEXT)
        values[name] = (_converted(declaration, value, attribute.expression.pos),
                        attribute.expression.pos)
    return values


def _json_var_file(filename: str, content: str, declarations: Mapping[str, VariableDeclaration]
                   ) -> dict[str, tuple[Any, Position]]:
    try:
        data = json.loads(content.lstrip("\ufeff"))
    except json.JSONDecodeError as err:
        raise JobspecError(f"invalid JSON: {err.msg}", Position(filename, err.lineno, err.colno)) \
            from None
    except RecursionError:
        raise JobspecError("the JSON is nested too deeply", Position(filename, 1, 1)) from None
    if not isinstance(data, dict):
        raise JobspecError("a JSON var file must be an object of name: value pairs",
                           Position(filename, 1, 1))
    values = {}
    for name, value in data.items():
        pos = _json_key_position(content, name, filename)
        declaration = _declared(name, declarations, pos)
        values[name] = (_converted(declaration, value, pos), pos)
    return values


def _json_key_position(content: str, key: str, filename: str) -> Position:
    match = re.search(re.escape(json.dumps(key)) + r"\s*:", content)
    if match is None:
        return Position(filename, 1, 1)
    before = content[:match.start()]
    return Position(filename, before.count("\n") + 1, match.start() - before.rfind("\n"))


def _declared(name: str, declarations: Mapping[str, VariableDeclaration], pos: Position
              ) -> VariableDeclaration:
    declaration = declarations.get(name)
    if declaration is None:
        raise JobspecError(f"the var file sets {quote(name)}, a variable the job file does not "
                           f"declare{_suggest(name, declarations)}", pos)
    return declaration


def _suggest(name: str, candidates: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f" (did you mean {quote(close[0])}?)" if close else ""


def _validate(declaration: VariableDeclaration, assignment: _Assignment) -> None:
    context = EvalContext({"var": {declaration.name: assignment.value}}, functions=FUNCTIONS)
    for validation in declaration.validations:
        result = evaluate(validation.condition, context)
        try:
            passed = to_bool(result) if result is not None else None
        except ConversionError:
            passed = None
        if passed is None:
            raise JobspecError(f"a validation condition must be true or false, got "
                               f"{describe(result)}", validation.condition.pos)
        if not passed:
            raise JobspecError(f"invalid value for variable {quote(declaration.name)} (from "
                               f"{assignment.source}): {validation.error_message}",
                               assignment.pos)


# -- locals ------------------------------------------------------------------------------
def local_scope(blocks: Sequence[SyntaxBlock], context_of: Any) -> Scope:
    """A lazily evaluated ``local`` namespace.

    ``context_of()`` returns the context locals evaluate in (it contains this
    scope itself, which is why it is passed as a function).
    """
    expressions: dict[str, tuple[Expression, Position]] = {}
    for block in blocks:
        if block.labels:
            raise JobspecError(f"block \"locals\" takes no labels, got {quote(block.labels[0])}",
                               block.pos)
        if block.body.blocks:
            raise JobspecError("a locals block holds only name = expression pairs",
                               block.body.blocks[0].pos)
        for name, attribute in block.body.attributes.items():
            if name in expressions:
                raise JobspecError(f"local {quote(name)} is defined twice; the first definition "
                                   f"is at line {expressions[name][1].line}", attribute.pos)
            expressions[name] = (attribute.expression, attribute.pos)
    in_progress: list[str] = []

    def lazy(name: str) -> Any:
        expression, pos = expressions[name]

        def compute() -> Any:
            if name in in_progress:
                chain = " -> ".join(f"local.{n}" for n in [*in_progress[in_progress.index(name):],
                                                           name])
                raise JobspecError(f"local {quote(name)} depends on itself: {chain}", pos)
            in_progress.append(name)
            try:
                return evaluate(expression, context_of())
            finally:
                in_progress.pop()
        return compute

    return Scope("local value", lazy={name: lazy(name) for name in expressions},
                 hint="define it in a locals { } block")
