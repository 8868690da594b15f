"""Evaluate HCL expressions to plain Python values.

python-hcl2 parses expressions but never evaluates them; this is the small
interpreter that does, following HCL's semantics: literals, templates and
heredocs, ``+ - * / %``, comparisons, ``&& || !``, ``c ? a : b``, indexing,
attribute access, splats, ``for`` expressions and function calls.

What a name means comes from an :class:`EvalContext`.  Job files evaluate with
``keep_unknown_references=True``: a name the file does not define
(``NOMAD_ALLOC_DIR``, ``attr.kernel.name``, ``node.unique.name``,
``meta.rack``, ``env["HOME"]`` ...) is a runtime reference that only the client
can resolve, so it evaluates to its own original spelling -- ``"${attr.kernel.name}"``
-- exactly as Nomad keeps it.  Everywhere else an unknown name is an error.

Every error is a :class:`JobspecError` at the sub-expression that failed.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from lark import Token, Tree

from .conversion import (
    ConversionError,
    convert,
    describe,
    equal,
    is_number,
    normalize_number,
    number_from_text,
    plain,
    to_bool,
    to_number,
    to_string,
)
from .errors import JobspecError, Position, quote
from .functions import FILESYSTEM_FUNCTIONS, FUNCTIONS, Function, FunctionError
from .syntax import Expression, has_token, name_of, plain_string, span_of, subtrees, unwrap
from .templates import (
    ForNode,
    IfNode,
    Interpolation,
    Literal,
    TemplateNode,
    heredoc_template,
    quoted_template,
)


class Scope(Mapping[str, Any]):
    """A namespace such as ``var`` or ``local`` whose members may be computed on first use.

    ``lazy`` holds zero-argument functions for members not computed yet; the
    first lookup runs one and remembers its result.  An unknown member is an
    error naming ``what`` with a did-you-mean suggestion.
    """

    def __init__(self, what: str, values: Mapping[str, Any] | None = None,
                 lazy: Mapping[str, Callable[[], Any]] | None = None, hint: str = ""):
        self.what = what
        self.known: dict[str, Any] = dict(values or {})
        self.lazy: dict[str, Callable[[], Any]] = dict(lazy or {})
        self.hint = hint

    def resolve(self, name: str, pos: Position) -> Any:
        if name in self.known:
            return self.known[name]
        compute = self.lazy.get(name)
        if compute is None:
            message = f"there is no {self.what} named {quote(name)}"
            close = difflib.get_close_matches(name, list(self), n=1)
            if close:
                message += f"; did you mean {quote(close[0])}?"
            elif self.hint:
                message += "; " + self.hint.replace("{name}", name)
            raise JobspecError(message, pos)
        value = compute()
        self.known[name] = value
        self.lazy.pop(name, None)
        return value

    def __getitem__(self, name: str) -> Any:
        if name not in self.known and name not in self.lazy:
            raise KeyError(name)
        return self.resolve(name, Position("", 1, 1))

    def __iter__(self) -> Iterator[str]:
        return iter([*self.known, *(n for n in self.lazy if n not in self.known)])

    def __len__(self) -> int:
        return len(set(self.known) | set(self.lazy))

    def materialize(self) -> dict[str, Any]:
        return {name: self[name] for name in list(self)}


class EvalContext:
    """What names and functions an expression may use.

    ``variables`` maps root names (``var``, ``local``, an iterator...) to values;
    ``functions`` defaults to every built-in function (pass ``{}`` to forbid
    calls); ``keep_unknown_references`` turns unknown names into their own
    ``${...}`` spelling instead of an error (job files).
    """

    __slots__ = ("variables", "functions", "keep_unknown_references")

    def __init__(self, variables: Mapping[str, Any] | None = None, *,
                 functions: Mapping[str, Function] | None = None,
                 keep_unknown_references: bool = False):
        self.variables: Mapping[str, Any] = dict(variables or {})
        self.functions: Mapping[str, Function] = FUNCTIONS if functions is None else functions
        self.keep_unknown_references = keep_unknown_references

    def with_variables(self, extra: Mapping[str, Any]) -> EvalContext:
        return EvalContext({**self.variables, **extra}, functions=self.functions,
                           keep_unknown_references=self.keep_unknown_references)


def evaluate(expression: Expression, context: EvalContext | None = None) -> Any:
    """The value of ``expression``; raises :class:`JobspecError` where it fails."""
    context = context or EvalContext()
    try:
        return _Evaluator(expression, context).eval(expression.node, dict(context.variables))
    except RecursionError:
        raise JobspecError("the expression is nested too deeply to evaluate",
                           expression.pos) from None


_TRAVERSALS = frozenset({"get_attr_expr_term", "index_expr_term", "attr_splat_expr_term",
                         "full_splat_expr_term"})
_COMPARISONS = {"<": lambda a, b: a < b, ">": lambda a, b: a > b,
                "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b}
_OPERATORS = ("==", "!=", "<=", ">=", "&&", "||", "<", ">", "+", "-", "*", "/", "%")


def _operator(node: Tree) -> str:
    text = str(node.children[0]).rstrip()
    return next(op for op in _OPERATORS if text.endswith(op))


class _Evaluator:
    def __init__(self, expr: Expression, context: EvalContext):
        self.expr = expr
        self.context = context

    def pos(self, node: Tree | Token) -> Position:
        return self.expr.position_of(node)

    def fail(self, message: str, node: Tree | Token) -> JobspecError:
        return JobspecError(message, self.pos(node))

    # -- dispatch ------------------------------------------------------------------------
    def eval(self, node: Tree, scope: dict[str, Any]) -> Any:
        kind = node.data
        if kind == "expr_term":
            inner = subtrees(node)
            if len(inner) != 1:
                raise self.fail("invalid expression", node)
            return self.eval(inner[0], scope)
        handler = getattr(self, "_" + kind, None)
        if handler is None:
            raise self.fail(f"unsupported expression ({kind})", node)
        return handler(node, scope)

    # -- literals ------------------------------------------------------------------------
    def _int_lit(self, node: Tree, scope: dict[str, Any]) -> int | float:
        return self._number_literal(node)

    def _float_lit(self, node: Tree, scope: dict[str, Any]) -> int | float:
        return self._number_literal(node)

    def _number_literal(self, node: Tree) -> int | float:
        try:
            return number_from_text(str(node.children[0]))
        except ConversionError as err:
            raise self.fail(str(err), node) from None

    def _literal_value(self, node: Tree, scope: dict[str, Any]) -> bool | None:
        return {"true": True, "false": False, "null": None}[str(node.children[0])]

    def _string(self, node: Tree, scope: dict[str, Any]) -> Any:
        return self.template(quoted_template(node, self.expr), scope)

    def _heredoc_template(self, node: Tree, scope: dict[str, Any]) -> Any:
        token = node.children[0]
        assert isinstance(token, Token)  # the grammar's heredoc rule holds one token
        return self.template(heredoc_template(token, self.expr), scope)

    _heredoc_template_trim = _heredoc_template

    def _template_string(self, node: Tree, scope: dict[str, Any]) -> Any:
        raise self.fail('escaped quotes (\\") are not supported inside template directives', node)

    def _tuple(self, node: Tree, scope: dict[str, Any]) -> list[Any]:
        return [self.eval(item, scope) for item in subtrees(node)]

    def _object(self, node: Tree, scope: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for element in subtrees(node):
            key_node, value_node = subtrees(element)[0], subtrees(element)[-1]
            result[self.object_key(key_node, scope)] = self.eval(value_node, scope)
        return result

    def object_key(self, key_node: Tree, scope: dict[str, Any]) -> str:
        inner = subtrees(key_node)[0] if subtrees(key_node) else key_node
        bare = unwrap(inner)
        if bare.data in ("identifier", "keyword", "literal_value"):
            return name_of(bare)  # a bare name is the key itself, not a variable
        key = self.eval(inner, scope)
        if key is None:
            raise self.fail("an object key must not be null", inner)
        try:
            return to_string(key)
        except ConversionError:
            raise self.fail(f"an object key must be a string, got {describe(key)}", inner) \
                from None

    # -- operators -----------------------------------------------------------------------
    def _conditional(self, node: Tree, scope: dict[str, Any]) -> Any:
        condition, when_true, when_false = subtrees(node)[:3]
        chosen = when_true if self.boolean(condition, scope, "the condition") else when_false
        return self.eval(chosen, scope)

    def _unary_op(self, node: Tree, scope: dict[str, Any]) -> Any:
        operator = str(node.children[0]).strip()
        operand = subtrees(node)[0]
        if operator == "!":
            return not self.boolean(operand, scope, 'the operand of "!"')
        return self.checked_number(-self.number(operand, scope, 'the operand of "-"'), node)

    def _binary_op(self, node: Tree, scope: dict[str, Any]) -> Any:
        left_node, term = subtrees(node)[:2]
        operator_node, right_node = subtrees(term)[:2]
        operator = _operator(operator_node)
        if operator in ("&&", "||"):
            left_value = self.boolean(left_node, scope, f'the left operand of "{operator}"')
            if left_value == (operator == "||"):
                return left_value
            return self.boolean(right_node, scope, f'the right operand of "{operator}"')
        if operator in ("==", "!="):
            same = equal(plain(self.eval(left_node, scope)), plain(self.eval(right_node, scope)))
            return same if operator == "==" else not same
        left = self.number(left_node, scope, f'the left operand of "{operator}"')
        right = self.number(right_node, scope, f'the right operand of "{operator}"')
        if operator in _COMPARISONS:
            return _COMPARISONS[operator](left, right)
        if operator in ("/", "%") and right == 0:
            raise self.fail("division by zero", right_node)
        if operator == "+":
            result = left + right
        elif operator == "-":
            result = left - right
        elif operator == "*":
            result = left * right if (abs(left) < 10 ** 150 and abs(right) < 10 ** 150) \
                else float(left) * float(right)
        elif operator == "/":
            if isinstance(left, int) and isinstance(right, int) and left % right == 0:
                result = left // right
            else:
                result = left / right
        else:  # "%" keeps the sign of the dividend, as Go's does
            if isinstance(left, int) and isinstance(right, int):
                result = abs(left) % abs(right) * (1 if left >= 0 else -1)
            else:
                result = math.fmod(left, right)
        return self.checked_number(result, node)

    def checked_number(self, value: int | float, node: Tree) -> int | float:
        try:
            return normalize_number(value)
        except ConversionError as err:
            raise self.fail(str(err), node) from None

    def number(self, node: Tree, scope: dict[str, Any], what: str) -> int | float:
        value = self.eval(node, scope)
        if value is None:
            raise self.fail(f"{what} is null; expected a number", node)
        try:
            return to_number(value)
        except ConversionError as err:
            raise self.fail(f"{what}: {err}", node) from None

    def boolean(self, node: Tree, scope: dict[str, Any], what: str) -> bool:
        value = self.eval(node, scope)
        if value is None:
            raise self.fail(f"{what} is null; expected true or false", node)
        try:
            return to_bool(value)
        except ConversionError as err:
            raise self.fail(f"{what}: {err}", node) from None

    # -- names and traversals ------------------------------------------------------------
    def _identifier(self, node: Tree, scope: dict[str, Any]) -> Any:
        return self.traverse(node, scope)

    _get_attr_expr_term = _index_expr_term = _attr_splat_expr_term = _full_splat_expr_term = \
        _identifier

    def split_traversal(self, node: Tree) -> tuple[Tree, list[Tree]]:
        """The root node and the steps (.attr, [index], splats) applied to it, in order."""
        steps: list[Tree] = []
        current = node
        while current.data in _TRAVERSALS:
            base, step = subtrees(current)[:2]
            steps.append(step)
            current = unwrap(base)
        steps.reverse()
        return current, steps

    def traverse(self, node: Tree, scope: dict[str, Any]) -> Any:
        root, steps = self.split_traversal(node)
        if root.data == "identifier":
            name = str(root.children[0])
            if name not in scope:
                return self.unknown_reference(root, steps, scope)
            value = scope[name]
        else:
            value = self.eval(root, scope)
        value = self.apply_steps(value, steps, scope)
        return value.materialize() if isinstance(value, Scope) else value

    def static_steps(self, steps: list[Tree]) -> int:
        """How many leading steps are fixed names or literal indexes (a runtime reference)."""
        count = 0
        for step in steps:
            if step.data in ("get_attr", "short_index"):
                count += 1
                continue
            if step.data == "braces_index":
                key = unwrap(subtrees(step)[0])
                if key.data in ("int_lit", "float_lit") or (
                        key.data == "string" and plain_string(key, self.expr) is not None):
                    count += 1
                    continue
            break
        return count

    def unknown_reference(self, root: Tree, steps: list[Tree], scope: dict[str, Any]) -> Any:
        name = str(root.children[0])
        if not self.context.keep_unknown_references:
            known = [n for n in scope if not n.startswith("_")]
            if not known:
                raise self.fail(f"unknown name {quote(name)}: variables are not allowed here",
                                root)
            message = f"unknown variable {quote(name)}"
            close = difflib.get_close_matches(name, known, n=1)
            if close:
                message += f"; did you mean {quote(close[0])}?"
            raise self.fail(message, root)
        static = self.static_steps(steps)
        start = span_of(root)[0]
        end = span_of(steps[static - 1])[1] if static else span_of(root)[1]
        text = "${" + self.expr.source[start:end] + "}"
        return self.apply_steps(text, steps[static:], scope)

    def is_runtime_reference(self, node: Tree, scope: dict[str, Any]) -> bool:
        """Whether ``node`` is wholly a reference to a name only the client knows."""
        node = unwrap(node)
        if node.data != "identifier" and node.data not in _TRAVERSALS:
            return False
        root, steps = self.split_traversal(node)
        return (root.data == "identifier" and str(root.children[0]) not in scope
                and self.static_steps(steps) == len(steps))

    def apply_steps(self, value: Any, steps: list[Tree], scope: dict[str, Any]) -> Any:
        for step in steps:
            kind = step.data
            if kind == "get_attr":
                name_node = subtrees(step)[0]
                value = self.get_attr(value, name_of(name_node), name_node)
            elif kind == "short_index":
                value = self.index(value, int(str(step.children[-1])), step)
            elif kind == "braces_index":
                key_node = subtrees(step)[0]
                value = self.index(value, self.eval(key_node, scope), key_node)
            else:  # attr_splat / full_splat: the remaining steps inside apply per element
                inner_steps = subtrees(step)
                items = [] if value is None else (value if isinstance(value, list) else [value])
                value = [self.apply_steps(item, inner_steps, scope) for item in items]
        return value

    def get_attr(self, value: Any, name: str, node: Tree) -> Any:
        if isinstance(value, Scope):
            return value.resolve(name, self.pos(node))
        if isinstance(value, Mapping):
            if name in value:
                return value[name]
            message = f"the object has no attribute {quote(name)}"
            close = difflib.get_close_matches(name, list(value), n=1)
            if close:
                message += f"; did you mean {quote(close[0])}?"
            raise self.fail(message, node)
        if value is None:
            raise self.fail(f"cannot read attribute {quote(name)} of null", node)
        raise self.fail(f"cannot read attribute {quote(name)} of {describe(value)}", node)

    def index(self, value: Any, key: Any, node: Tree) -> Any:
        if value is None:
            raise self.fail("cannot index a null value", node)
        if key is None:
            raise self.fail("an index must not be null", node)
        if isinstance(value, list):
            try:
                number = to_number(key)
            except ConversionError as err:
                raise self.fail(f"a list index must be a number: {err}", node) from None
            if isinstance(number, float) or not 0 <= number < len(value):
                raise self.fail(f"index {describe(key).split(' ', 1)[-1]} is out of range for a "
                                f"list of {len(value)} elements", node)
            return value[number]
        if isinstance(value, Mapping):
            try:
                name = to_string(key)
            except ConversionError as err:
                raise self.fail(f"a map key must be a string: {err}", node) from None
            return self.get_attr(value, name, node)
        raise self.fail(f"cannot index {describe(value)}", node)

    # -- templates -----------------------------------------------------------------------
    def template(self, nodes: list[TemplateNode], scope: dict[str, Any]) -> Any:
        if len(nodes) == 1 and isinstance(nodes[0], Interpolation):
            return self.interpolation(nodes[0], scope)  # "${x}" is x itself, of any type
        out: list[str] = []
        self.render(nodes, scope, out)
        return "".join(out)

    def interpolation(self, part: Interpolation, scope: dict[str, Any]) -> Any:
        evaluator = _Evaluator(part.expression, self.context)
        if self.context.keep_unknown_references and \
                evaluator.is_runtime_reference(part.expression.node, scope):
            return part.text  # the user's exact spelling, spaces and all
        return evaluator.eval(part.expression.node, scope)

    def render(self, nodes: list[TemplateNode], scope: dict[str, Any], out: list[str]) -> None:
        for node in nodes:
            if isinstance(node, Literal):
                out.append(node.text)
            elif isinstance(node, Interpolation):
                value = self.interpolation(node, scope)
                where = node.expression
                if value is None:
                    raise JobspecError(f"{node.text} is null; a string template cannot include "
                                       "null", where.pos)
                try:
                    out.append(to_string(value))
                except ConversionError:
                    raise JobspecError(f"{node.text} is {describe(value)}; a string template can "
                                       "only include strings, numbers and bools",
                                       where.pos) from None
            elif isinstance(node, IfNode):
                evaluator = _Evaluator(node.condition, self.context)
                chosen = node.then if evaluator.boolean(node.condition.node, scope,
                                                        "the %{ if } condition") else node.otherwise
                self.render(chosen, scope, out)
            elif isinstance(node, ForNode):
                evaluator = _Evaluator(node.collection, self.context)
                collection = evaluator.eval(node.collection.node, scope)
                for key, item in evaluator.iterate(collection, node.collection.node):
                    inner = {**scope, node.value_name: item}
                    if node.key_name:
                        inner[node.key_name] = key
                    self.render(node.body, inner, out)

    # -- for expressions -----------------------------------------------------------------
    def iterate(self, collection: Any, node: Tree) -> Iterable[tuple[Any, Any]]:
        if isinstance(collection, Scope):
            collection = collection.materialize()
        if isinstance(collection, list):
            return list(enumerate(collection))
        if isinstance(collection, Mapping):
            return [(key, collection[key]) for key in sorted(collection)]
        if collection is None:
            raise self.fail("cannot iterate over null", node)
        raise self.fail(f"cannot iterate over {describe(collection)}; expected a list or a map",
                        node)

    def for_intro(self, node: Tree) -> tuple[str | None, str, Tree]:
        parts = subtrees(node)
        names = [str(p.children[0]) for p in parts if p.data == "identifier"]
        collection = parts[-1]
        if len(names) == 2:
            return names[0], names[1], collection
        return None, names[0], collection

    def for_items(self, node: Tree, scope: dict[str, Any]
                  ) -> Iterator[tuple[dict[str, Any], list[Tree]]]:
        parts = subtrees(node)
        key_name, value_name, collection_node = self.for_intro(parts[0])
        condition = parts[-1] if parts[-1].data == "for_cond" else None
        bodies = parts[1:-1] if condition is not None else parts[1:]
        collection = self.eval(collection_node, scope)
        for key, item in self.iterate(collection, collection_node):
            inner = {**scope, value_name: item}
            if key_name:
                inner[key_name] = key
            if condition is not None and not self.boolean(subtrees(condition)[0], inner,
                                                          "the for condition"):
                continue
            yield inner, bodies

    def _for_tuple_expr(self, node: Tree, scope: dict[str, Any]) -> list[Any]:
        return [self.eval(bodies[0], inner) for inner, bodies in self.for_items(node, scope)]

    def _for_object_expr(self, node: Tree, scope: dict[str, Any]) -> dict[str, Any]:
        grouping = has_token(node, "ELLIPSIS")
        result: dict[str, Any] = {}
        for inner, (key_node, value_node) in self.for_items(node, scope):
            key = self.eval(key_node, inner)
            if key is None:
                raise self.fail("a for expression key must not be null", key_node)
            try:
                key = to_string(key)
            except ConversionError:
                raise self.fail(f"a for expression key must be a string, got {describe(key)}",
                                key_node) from None
            value = self.eval(value_node, inner)
            if grouping:
                result.setdefault(key, []).append(value)
            elif key in result:
                raise self.fail(f"two items have the key {quote(key)}; add \"...\" after the "
                                "value expression to group values by key", key_node)
            else:
                result[key] = value
        return result

    # -- function calls ------------------------------------------------------------------
    def _function_call(self, node: Tree, scope: dict[str, Any]) -> Any:
        parts = subtrees(node)
        names = [p for p in parts if p.data == "identifier"]
        if len(names) > 1:
            raise self.fail("provider functions (name::space::function) are not supported",
                            node)
        name = str(names[0].children[0])
        arguments = next((p for p in parts if p.data == "arguments"), None)
        arg_nodes = subtrees(arguments) if arguments is not None else []
        expand_last = arguments is not None and has_token(arguments, "ELLIPSIS")
        if name in ("try", "can"):
            return self.try_or_can(name, arg_nodes, node, scope)
        function = self.lookup_function(name, names[0])
        values = [self.eval(arg, scope) for arg in arg_nodes]
        positions = list(arg_nodes)
        if expand_last:
            last = values.pop()
            if not isinstance(last, list):
                raise self.fail(f"the argument before \"...\" must be a list, got {describe(last)}",
                                arg_nodes[-1])
            values.extend(last)
            positions = positions[:-1] + [arg_nodes[-1]] * len(last)
        return self.call(function, values, positions, node)

    def lookup_function(self, name: str, node: Tree) -> Function:
        function = self.context.functions.get(name)
        if function is not None:
            return function
        if not self.context.functions:
            raise self.fail(f"function calls are not allowed here ({name}(...))", node)
        if name in FILESYSTEM_FUNCTIONS:
            raise self.fail(f"function {quote(name)} is not available: files are parsed without "
                            "access to the file system", node)
        message = f"unknown function {quote(name)}"
        close = difflib.get_close_matches(name, [*self.context.functions, "try", "can"], n=1)
        if close:
            message += f"; did you mean {quote(close[0])}?"
        raise self.fail(message, node)

    def call(self, function: Function, values: list[Any], positions: list[Tree], node: Tree
             ) -> Any:
        params = function.params
        required = len(params) if function.required is None else function.required
        if len(values) < required or (function.var_param is None and len(values) > len(params)):
            if function.var_param is not None:
                wanted = f"at least {required}"
            elif required == len(params):
                wanted = f"exactly {required}"
            else:
                wanted = f"{required} to {len(params)}"
            plural = "" if wanted.endswith(" 1") else "s"
            raise self.fail(f"{function.signature()} takes {wanted} argument{plural}, got "
                            f"{len(values)}", node)
        converted = []
        for index, value in enumerate(values):
            param = params[index] if index < len(params) else function.var_param
            assert param is not None
            where = positions[index]
            if value is None and not param.allow_null:
                raise self.fail(f"argument {index + 1} ({param.name}) of {function.name}() must "
                                "not be null", where)
            try:
                converted.append(convert(plain(value), param.type))
            except ConversionError as err:
                raise self.fail(f"invalid argument {index + 1} ({param.name}) of "
                                f"{function.name}(): {err}", where) from None
        try:
            result = function.impl(*converted)
        except FunctionError as err:
            at = positions[err.argument] if err.argument is not None and \
                err.argument < len(positions) else node
            raise self.fail(f"{function.name}(): {err}", at) from None
        return self.checked_number(result, node) if is_number(result) else result

    def try_or_can(self, name: str, arg_nodes: list[Tree], node: Tree, scope: dict[str, Any]
                   ) -> Any:
        if name == "can":
            if len(arg_nodes) != 1:
                raise self.fail(f"can(expression) takes exactly 1 argument, got {len(arg_nodes)}",
                                node)
            try:
                self.eval(arg_nodes[0], scope)
            except JobspecError:
                return False
            return True
        if not arg_nodes:
            raise self.fail("try(expressions...) needs at least one argument", node)
        last_error: JobspecError | None = None
        for arg in arg_nodes:
            try:
                return self.eval(arg, scope)
            except JobspecError as err:
                last_error = err
        assert last_error is not None
        raise self.fail(f"no expression given to try() succeeded; the last one failed with: "
                        f"{last_error.message}", node)
