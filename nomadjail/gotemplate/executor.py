"""Go text/template's executor: walks a parse tree over Python data, writing the output.

Semantics follow Go's ``exec.go``: ``.Field`` reads a map key or an attribute (and
calls a method, with the command's arguments); pipelines pass their value as the
last argument of the next command; ``range`` goes over lists, maps (in sorted key
order), integers and nil (no iterations); ``{{break}}``/``{{continue}}``; variables
are scoped to the control structure that declared them; ``template`` calls start
with only ``$``.  Errors are Go's: ``template: t:1:2: executing "t" at <.A.B>:
map has no entry for key "B"``.

Where Python cannot tell Go's cases apart, the lenient one is chosen: a field of a
nil value (``.A.B`` with ``A`` missing) is nil, not a "nil pointer evaluating"
error, unless missing keys are errors.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .builtins import BUILTINS, FuncError, truth
from .errors import ExecError, TemplateError, location
from .gofmt import format_value, go_type_name, sort_keys
from .nodes import (
    ActionNode,
    BoolNode,
    BranchNode,
    BreakNode,
    ChainNode,
    CommandNode,
    ContinueNode,
    DotNode,
    FieldNode,
    IdentifierNode,
    ListNode,
    NilNode,
    Node,
    NumberNode,
    PipeNode,
    StringNode,
    TemplateNode,
    TextNode,
    VariableNode,
)

MAX_TEMPLATE_DEPTH = 60
_NO_FINAL = object()   # "no value piped in" (Go's missingVal)
# Per function, not per call: inspect.signature is slow.  Weak keys, because a render's
# function map holds closures that die with it.
_ARITY: weakref.WeakKeyDictionary[Any, tuple[int, int | None]] = weakref.WeakKeyDictionary()


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def arity(fn: Callable[..., Any]) -> tuple[int, int | None]:
    """(required, maximum or None) positional arguments of a function; cached."""
    key = getattr(fn, "__func__", fn)
    bound = hasattr(fn, "__self__") and not inspect.isbuiltin(fn)
    try:
        cached = _ARITY.get(key)
    except TypeError:   # not weakly referenceable (a builtin): not cached
        cached = None
    if cached is None:
        try:
            params = list(inspect.signature(key).parameters.values())
        except (TypeError, ValueError):
            cached = (0, None)
        else:
            if bound and params:
                params = params[1:]
            required = sum(1 for p in params if p.default is p.empty and p.kind in (
                p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
            variadic = any(p.kind == p.VAR_POSITIONAL for p in params)
            total = sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY,
                                                       p.POSITIONAL_OR_KEYWORD))
            cached = (required, None if variadic else total)
        try:
            _ARITY[key] = cached
        except TypeError:
            pass
    return cached


def has_method(receiver: Any, name: str) -> bool:
    """Go exports methods with a capital letter; a Mapping's own dict methods do not count."""
    if not name[:1].isupper():
        return False
    attr = getattr(type(receiver), name, None)
    return callable(attr)


class Executor:
    """One execution of a template set; not reused."""

    def __init__(self, name: str, text: str, trees: Mapping[str, ListNode],
                 funcs: Mapping[str, Callable[..., Any]], missing_key: str) -> None:
        self.parse_name = name
        self.tmpl_name = name
        self.text = text
        self.trees = trees
        self.funcs = funcs
        self.missing_key = missing_key
        self.vars: list[list[Any]] = []
        self.out: list[str] = []
        self.node: Node | None = None
        self.depth = 0

    # -- errors and variables ------------------------------------------------

    def error(self, msg: str) -> ExecError:
        if self.node is None:
            return ExecError(self.tmpl_name, 0, 0, msg)
        line, col = location(self.text, self.node.pos)
        context = str(self.node)
        if len(context) > 20:
            context = context[:20] + "..."
        return ExecError(self.parse_name, line, col, msg,
                         context=f'executing "{self.tmpl_name}" at <{context}>: ')

    def push(self, name: str, value: Any) -> None:
        self.vars.append([name, value])

    def pop(self, mark: int) -> None:
        del self.vars[mark:]

    def set_var(self, name: str, value: Any) -> None:
        for entry in reversed(self.vars):
            if entry[0] == name:
                entry[1] = value
                return
        raise self.error(f"undefined variable: {name}")

    def set_top_var(self, n: int, value: Any) -> None:
        self.vars[-n][1] = value

    def var_value(self, name: str) -> Any:
        for entry in reversed(self.vars):
            if entry[0] == name:
                return entry[1]
        raise self.error(f"undefined variable: {name}")

    # -- walking ---------------------------------------------------------------

    def run(self, data: Any) -> str:
        root = self.trees.get(self.tmpl_name)
        if root is None:
            raise ExecError(self.tmpl_name, 0, 0,
                            f"\"{self.tmpl_name}\" is an incomplete or empty template")
        self.push("$", data)
        try:
            self.walk(data, root)
        except RecursionError:
            raise self.error("exceeded maximum template depth") from None
        return "".join(self.out)

    def walk(self, dot: Any, node: Node) -> None:
        self.node = node
        if isinstance(node, TextNode):
            self.out.append(node.text)
        elif isinstance(node, ActionNode):
            assert node.pipe is not None
            value = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.out.append(self.print_value(node, value))
        elif isinstance(node, ListNode):
            for child in node.nodes:
                self.walk(dot, child)
        elif isinstance(node, BranchNode):
            if node.keyword == "range":
                self.walk_range(dot, node)
            else:
                self.walk_if_or_with(dot, node)
        elif isinstance(node, TemplateNode):
            self.walk_template(dot, node)
        elif isinstance(node, BreakNode):
            raise _Break
        elif isinstance(node, ContinueNode):
            raise _Continue
        else:
            raise self.error(f"unknown node: {node}")

    def walk_if_or_with(self, dot: Any, node: BranchNode) -> None:
        mark = len(self.vars)
        try:
            assert node.pipe is not None and node.body is not None
            value = self.eval_pipeline(dot, node.pipe)
            if truth(value):
                self.walk(value if node.keyword == "with" else dot, node.body)
            elif node.else_body is not None:
                self.walk(dot, node.else_body)
        finally:
            self.pop(mark)

    def walk_range(self, dot: Any, node: BranchNode) -> None:
        assert node.pipe is not None and node.body is not None
        self.node = node
        mark = len(self.vars)
        try:
            value = self.eval_pipeline(dot, node.pipe)
            pipe = node.pipe
            if isinstance(value, Mapping):
                keys = sort_keys(list(value.keys()))
                pairs: Iterable[tuple[Any, Any]] = ((k, value[k]) for k in keys)
            elif isinstance(value, (list, tuple)):
                pairs = enumerate(value)
            elif isinstance(value, int) and not isinstance(value, bool):
                if len(pipe.decl) > 1:
                    raise self.error(f"can't use {value} to iterate over more than one "
                                     "variable")
                pairs = ((i, i) for i in range(value))
            elif value is None:
                pairs = ()
            elif isinstance(value, (str, bytes, float, bool)) or not isinstance(value, Iterable):
                raise self.error(f"range can't iterate over {format_value(value, 'v')}")
            else:
                pairs = enumerate(value)
            ran = False
            for index, elem in pairs:
                ran = True
                inner = len(self.vars)
                if pipe.decl:
                    if pipe.is_assign:
                        if len(pipe.decl) > 1:
                            self.set_var(pipe.decl[0].ident[0], index)
                            self.set_var(pipe.decl[1].ident[0], elem)
                        else:
                            self.set_var(pipe.decl[0].ident[0], elem)
                    elif len(pipe.decl) > 1:
                        self.set_top_var(2, index)
                        self.set_top_var(1, elem)
                    else:
                        self.set_top_var(1, elem)
                try:
                    self.walk(elem, node.body)
                except _Continue:
                    pass
                except _Break:
                    break
                finally:
                    self.pop(inner)
            if not ran and node.else_body is not None:
                self.walk(dot, node.else_body)
        finally:
            self.pop(mark)

    def walk_template(self, dot: Any, node: TemplateNode) -> None:
        self.node = node
        tree = self.trees.get(node.name)
        if tree is None:
            raise self.error(f"template \"{node.name}\" not defined")
        if self.depth >= MAX_TEMPLATE_DEPTH:
            raise self.error(f"exceeded maximum template depth ({MAX_TEMPLATE_DEPTH})")
        new_dot = self.eval_pipeline(dot, node.pipe) if node.pipe is not None else None
        saved = (self.vars, self.tmpl_name)
        self.vars = [["$", new_dot]]
        self.tmpl_name = node.name
        self.depth += 1
        try:
            self.walk(new_dot, tree)
        finally:
            self.depth -= 1
            self.vars, self.tmpl_name = saved

    def execute_template(self, name: str, *data: Any) -> str:
        """consul-template's executeTemplate: a defined template's output, as a string."""
        if len(data) > 1:
            raise FuncError(f"executeTemplate: wrong number of arguments, expected 1 or 2, "
                            f"but got {len(data) + 1}")
        tree = self.trees.get(name)
        if tree is None:
            raise FuncError(f"template \"{name}\" not defined")
        if self.depth >= MAX_TEMPLATE_DEPTH:
            raise FuncError(f"exceeded maximum template depth ({MAX_TEMPLATE_DEPTH})")
        dot = data[0] if data else None
        saved = (self.vars, self.tmpl_name, self.out, self.node)
        self.vars, self.tmpl_name, self.out = [["$", dot]], name, []
        self.depth += 1
        try:
            self.walk(dot, tree)
            return "".join(self.out)
        finally:
            self.depth -= 1
            self.vars, self.tmpl_name, self.out, self.node = saved

    def print_value(self, node: Node, value: Any) -> str:
        if value is None:
            return "<no value>"
        if inspect.isfunction(value) or inspect.ismethod(value):
            self.node = node
            raise self.error(f"can't print {node} of type func")
        return format_value(value, "v")

    # -- evaluation --------------------------------------------------------------

    def eval_pipeline(self, dot: Any, pipe: PipeNode) -> Any:
        self.node = pipe
        value: Any = _NO_FINAL
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
        if value is _NO_FINAL:
            value = None
        for var in pipe.decl:
            if pipe.is_assign:
                self.set_var(var.ident[0], value)
            else:
                self.push(var.ident[0], value)
        return value

    def eval_command(self, dot: Any, cmd: CommandNode, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, FieldNode):
            return self.eval_field_chain(dot, dot, first, first.ident, cmd.args, final)
        if isinstance(first, ChainNode):
            return self.eval_chain(dot, first, cmd.args, final)
        if isinstance(first, IdentifierNode):
            return self.eval_function(dot, first, cmd.args, final)
        if isinstance(first, PipeNode):
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first)
        if isinstance(first, VariableNode):
            return self.eval_variable(dot, first, cmd.args, final)
        self.node = first
        self.not_a_function(cmd.args, final)
        if isinstance(first, BoolNode):
            return first.value
        if isinstance(first, DotNode):
            return dot
        if isinstance(first, NilNode):
            raise self.error("nil is not a command")
        if isinstance(first, NumberNode):
            return first.value
        if isinstance(first, StringNode):
            return first.text
        raise self.error(f"can't evaluate command {first}")

    def not_a_function(self, args: list[Node], final: Any) -> None:
        if len(args) > 1 or final is not _NO_FINAL:
            raise self.error(f"can't give argument to non-function {args[0]}")

    def eval_variable(self, dot: Any, node: VariableNode, args: list[Node] | None,
                      final: Any) -> Any:
        self.node = node
        value = self.var_value(node.ident[0])
        if len(node.ident) == 1:
            self.not_a_function(args or [node], final)
            return value
        return self.eval_field_chain(dot, value, node, node.ident[1:], args, final)

    def eval_chain(self, dot: Any, chain: ChainNode, args: list[Node] | None,
                   final: Any) -> Any:
        self.node = chain
        if not chain.fields:
            raise self.error("internal error: no fields in evalChainNode")
        assert chain.node is not None
        if isinstance(chain.node, NilNode):
            raise self.error(f"indirection through explicit nil in {chain}")
        pipe = self.eval_arg(dot, chain.node)
        return self.eval_field_chain(dot, pipe, chain, chain.fields, args, final)

    def eval_field_chain(self, dot: Any, receiver: Any, node: Node, ident: tuple[str, ...],
                         args: list[Node] | None, final: Any) -> Any:
        self.node = node
        for name in ident[:-1]:
            receiver = self.eval_field(dot, name, node, None, _NO_FINAL, receiver)
        return self.eval_field(dot, ident[-1], node, args, final, receiver)

    def eval_field(self, dot: Any, name: str, node: Node, args: list[Node] | None,
                   final: Any, receiver: Any) -> Any:
        has_args = (args is not None and len(args) > 1) or final is not _NO_FINAL
        if receiver is None:
            if self.missing_key == "error":
                raise self.error(f"nil data; no entry for key \"{name}\"")
            return None
        if has_method(receiver, name):
            method = getattr(receiver, name)
            return self.eval_call(dot, method, node, name, args or [node], final)
        if isinstance(receiver, Mapping):
            if name in receiver:
                if has_args:
                    raise self.error(f"{name} is not a method but has arguments")
                return receiver[name]
            if self.missing_key == "error":
                raise self.error(f"map has no entry for key \"{name}\"")
            if self.missing_key == "zero":   # a typed map's zero value (NomadVarItems: "")
                return getattr(type(receiver), "go_zero", None)
            return None
        if (not name.startswith("_") and not isinstance(receiver, (str, int, float, bool,
                                                                   list, tuple, bytes))
                and hasattr(receiver, name)):
            value = getattr(receiver, name)
            if inspect.ismethod(value):
                return self.eval_call(dot, value, node, name, args or [node], final)
            if has_args:
                raise self.error(f"{name} has arguments but cannot be invoked as function")
            return value
        raise self.error(f"can't evaluate field {name} in type {go_type_name(receiver)}")

    def eval_function(self, dot: Any, node: IdentifierNode, args: list[Node],
                      final: Any) -> Any:
        self.node = node
        name = node.name
        if name in ("and", "or"):
            return self.eval_and_or(dot, node, args, final)
        if name == "call":
            fn: Callable[..., Any] | None = _call
        elif name == "executeTemplate" and name not in self.funcs:
            fn = self.execute_template
        else:
            fn = self.funcs.get(name) or BUILTINS.get(name)
        if fn is None:
            raise self.error(f"\"{name}\" is not a defined function")
        return self.eval_call(dot, fn, node, name, args, final)

    def eval_and_or(self, dot: Any, node: IdentifierNode, args: list[Node], final: Any) -> Any:
        name = node.name
        count = len(args) - 1 + (final is not _NO_FINAL)
        if count < 1:
            raise self.error(f"wrong number of args for {name}: want at least 1 got 0")
        value: Any = None
        for arg in args[1:]:
            value = self.eval_arg(dot, arg)
            if truth(value) == (name == "or"):
                return value
        if final is not _NO_FINAL:
            value = final
        return value

    def eval_call(self, dot: Any, fn: Callable[..., Any], node: Node, name: str,
                  args: list[Node], final: Any) -> Any:
        values = [self.eval_arg(dot, arg) for arg in args[1:]]
        if final is not _NO_FINAL:
            values.append(final)
        self.node = node
        required, maximum = arity(fn)
        if len(values) < required:
            if maximum is None or maximum != required:
                raise self.error(f"wrong number of args for {name}: want at least {required} "
                                 f"got {len(values)}")
            raise self.error(f"wrong number of args for {name}: want {required} "
                             f"got {len(values)}")
        if maximum is not None and len(values) > maximum:
            raise self.error(f"wrong number of args for {name}: want {maximum} "
                             f"got {len(values)}")
        try:
            return fn(*values)
        except TemplateError:
            raise
        except RecursionError:
            raise
        except Exception as err:  # noqa: BLE001 -- any function failure is the user's template error, reported at its position as Go does
            self.node = node
            raise self.error(f"error calling {name}: {_message(err)}") from None

    def eval_arg(self, dot: Any, node: Node) -> Any:
        self.node = node
        if isinstance(node, DotNode):
            return dot
        if isinstance(node, NilNode):
            return None
        if isinstance(node, FieldNode):
            return self.eval_field_chain(dot, dot, node, node.ident, [node], _NO_FINAL)
        if isinstance(node, VariableNode):
            return self.eval_variable(dot, node, None, _NO_FINAL)
        if isinstance(node, PipeNode):
            return self.eval_pipeline(dot, node)
        if isinstance(node, IdentifierNode):
            return self.eval_function(dot, node, [node], _NO_FINAL)
        if isinstance(node, ChainNode):
            return self.eval_chain(dot, node, None, _NO_FINAL)
        if isinstance(node, BoolNode):
            return node.value
        if isinstance(node, NumberNode):
            return node.value
        if isinstance(node, StringNode):
            return node.text
        raise self.error(f"can't handle {node} for arg")


def _call(fn: Any, *args: Any) -> Any:
    """The ``call`` builtin: call a function value (a field or variable holding one)."""
    if fn is None:
        raise FuncError("call of nil")
    if not callable(fn):
        raise FuncError(f"non-function of type {go_type_name(fn)}")
    return fn(*args)


def _message(err: BaseException) -> str:
    if isinstance(err, KeyError) and err.args:
        return str(err.args[0])
    return str(err) or type(err).__name__

