"""Go text/template's parser: tokens -> a set of named trees (``define``/``block``).

Follows Go's ``parse.go``: a three-token look-ahead, variables checked against the
ones in scope (``undefined variable "$x"``), function names checked against the
known set (``function "x" not defined``) -- both at parse time, so a bad template is
refused when the job is submitted, not when the task starts.  Nesting is capped at
:data:`MAX_DEPTH` (Go caps expression depth too) so hostile input cannot exhaust
the Python stack.
"""

from __future__ import annotations

from collections.abc import Collection

from .errors import ParseError, location
from .lexer import Tok, Token, go_quote, lex
from .literals import LiteralError, char_value, number_value, unquote
from .nodes import (
    ActionNode,
    BoolNode,
    BranchNode,
    BreakNode,
    ChainNode,
    CommandNode,
    ContinueNode,
    DotNode,
    ElseNode,
    EndNode,
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

MAX_DEPTH = 100


def is_empty_tree(node: Node | None) -> bool:
    """Only white space: such a definition may be redefined (Go's IsEmptyTree)."""
    if node is None:
        return True
    if isinstance(node, ListNode):
        return all(is_empty_tree(n) for n in node.nodes)
    if isinstance(node, TextNode):
        return not node.text.strip()
    return False


class Parser:
    """Parses one template text into ``trees`` (name -> body)."""

    def __init__(self, name: str, text: str, left: str, right: str,
                 funcs: Collection[str], trees: dict[str, ListNode]) -> None:
        self.name = name
        self.text = text
        self.funcs = funcs
        self.trees = trees
        self.tokens = lex(text, left, right)
        self.count = len(self.tokens)
        # skip[j]: the first token at or after j that is not a space (the last token is
        # EOF or ERROR, never a space), so the many "next non-space" looks are O(1).
        self.skip = [0] * self.count
        following = self.count - 1
        for j in range(self.count - 1, -1, -1):
            if self.tokens[j].typ != Tok.SPACE:
                following = j
            self.skip[j] = following
        self.i = 0
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.depth = 0
        self.last = self.tokens[0]

    # -- token stream ----------------------------------------------------

    def next(self) -> Token:
        # The stream ends with EOF or ERROR; reading past it keeps answering that token.
        i = self.i
        tok = self.tokens[i] if i < self.count else self.tokens[-1]
        self.i = i + 1
        self.last = tok
        return tok

    def backup(self, n: int = 1) -> None:
        self.i -= n

    def peek(self) -> Token:
        return self.tokens[self.i] if self.i < self.count else self.tokens[-1]

    def next_non_space(self) -> Token:
        j = self.skip[self.i] if self.i < self.count else self.count - 1
        tok = self.tokens[j]
        self.i = j + 1
        self.last = tok
        return tok

    def peek_non_space(self) -> Token:
        return self.tokens[self.skip[self.i] if self.i < self.count else self.count - 1]

    def error(self, msg: str, tok: Token | None = None) -> ParseError:
        at = tok if tok is not None else self.last
        line, col = location(self.text, at.pos)
        return ParseError(self.name, line, col, msg)

    def expect(self, typ: Tok, context: str) -> Token:
        tok = self.next_non_space()
        if tok.typ != typ:
            raise self.unexpected(tok, context)
        return tok

    def unexpected(self, tok: Token, context: str) -> ParseError:
        if tok.typ == Tok.ERROR:
            return self.error(tok.val, tok)
        return self.error(f"unexpected {tok} in {context}", tok)

    def enter(self, tok: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error("max expression depth exceeded", tok)

    # -- structure -------------------------------------------------------

    def parse(self) -> None:
        root = ListNode(self.peek().pos)
        while self.peek().typ != Tok.EOF:
            tok = self.peek()
            if tok.typ == Tok.ERROR:
                raise self.error(tok.val, tok)
            if tok.typ == Tok.LEFT_DELIM:
                start = self.i
                self.next()
                if self.next_non_space().typ == Tok.DEFINE:
                    self.parse_definition()
                    continue
                self.i = start
            node = self.text_or_action()
            if isinstance(node, (EndNode, ElseNode)):
                raise self.error(f"unexpected {node}", self.last)
            root.nodes.append(node)
        self.add(self.name, root)

    def add(self, name: str, root: ListNode) -> None:
        existing = self.trees.get(name)
        if existing is None or is_empty_tree(existing):
            self.trees[name] = root
        elif not is_empty_tree(root):
            raise self.error(f"template: multiple definition of template \"{name}\"")

    def parse_definition(self) -> None:
        context = "define clause"
        tok = self.next_non_space()
        if tok.typ not in (Tok.STRING, Tok.RAW_STRING):
            raise self.unexpected(tok, context)
        name = self.unquote(tok)
        self.expect(Tok.RIGHT_DELIM, context)
        saved_vars, self.vars = self.vars, ["$"]
        body, end = self.item_list()
        self.vars = saved_vars
        if not isinstance(end, EndNode):
            raise self.error(f"unexpected {end} in {context}")
        self.add(name, body)

    def item_list(self) -> tuple[ListNode, Node]:
        """Nodes up to an {{end}} or {{else}}, which is returned separately."""
        body = ListNode(self.peek_non_space().pos)
        while self.peek_non_space().typ != Tok.EOF:
            node = self.text_or_action()
            if isinstance(node, (EndNode, ElseNode)):
                return body, node
            body.nodes.append(node)
        raise self.error("unexpected EOF", self.peek_non_space())

    def text_or_action(self) -> Node:
        tok = self.next_non_space()
        if tok.typ == Tok.TEXT:
            return TextNode(tok.pos, tok.val)
        if tok.typ == Tok.LEFT_DELIM:
            return self.action()
        raise self.unexpected(tok, "input")

    def action(self) -> Node:
        tok = self.next_non_space()
        typ = tok.typ
        if typ == Tok.BLOCK:
            return self.block_control(tok)
        if typ == Tok.BREAK:
            return self.break_control(tok, "break")
        if typ == Tok.CONTINUE:
            return self.break_control(tok, "continue")
        if typ == Tok.ELSE:
            return self.else_control(tok)
        if typ == Tok.END:
            return EndNode(self.expect(Tok.RIGHT_DELIM, "end").pos)
        if typ in (Tok.IF, Tok.RANGE, Tok.WITH):
            return self.branch(tok)
        if typ == Tok.TEMPLATE:
            return self.template_control()
        self.backup()
        start = self.peek()
        return ActionNode(start.pos, self.pipeline("command"))

    def break_control(self, tok: Token, word: str) -> Node:
        after = self.next_non_space()
        if after.typ != Tok.RIGHT_DELIM:
            raise self.unexpected(after, "{{" + word + "}}")
        if self.range_depth == 0:
            raise self.error("{{" + word + "}} outside {{range}}", tok)
        return BreakNode(tok.pos) if word == "break" else ContinueNode(tok.pos)

    def else_control(self, tok: Token) -> Node:
        peek = self.peek_non_space()
        if peek.typ in (Tok.IF, Tok.WITH):
            # "{{else if x}}" is read as "{{else}}{{if x}}...{{end}}" with one shared end.
            return ElseNode(peek.pos, chained=True)
        end = self.expect(Tok.RIGHT_DELIM, "else")
        return ElseNode(end.pos)

    def branch(self, tok: Token) -> Node:
        keyword = tok.val
        self.enter(tok)
        mark = len(self.vars)
        if keyword == "range":
            self.range_depth += 1
        pipe = self.pipeline(keyword)
        body, nxt = self.item_list()
        if keyword == "range":
            self.range_depth -= 1
        else_body = None
        if isinstance(nxt, ElseNode):
            chained = self.peek_non_space()
            if nxt.chained and ((keyword == "if" and chained.typ == Tok.IF)
                                or (keyword == "with" and chained.typ == Tok.WITH)):
                inner_tok = self.next_non_space()
                else_body = ListNode(nxt.pos, [self.branch(inner_tok)])
            else:
                if nxt.chained:
                    raise self.unexpected(chained, "input")
                else_body, end = self.item_list()
                if not isinstance(end, EndNode):
                    raise self.error(f"expected end; found {end}")
        del self.vars[mark:]
        self.depth -= 1
        return BranchNode(pipe.pos, keyword, pipe, body, else_body)

    def block_control(self, tok: Token) -> Node:
        context = "block clause"
        name_tok = self.next_non_space()
        name = self.template_name(name_tok, context)
        pipe = self.pipeline(context)
        self.enter(tok)
        saved_vars, self.vars = self.vars, ["$"]
        saved_range, self.range_depth = self.range_depth, 0
        body, end = self.item_list()
        self.vars, self.range_depth = saved_vars, saved_range
        self.depth -= 1
        if not isinstance(end, EndNode):
            raise self.error(f"unexpected {end} in {context}")
        self.add(name, body)
        return TemplateNode(name_tok.pos, name, pipe)

    def template_control(self) -> Node:
        context = "template clause"
        name_tok = self.next_non_space()
        name = self.template_name(name_tok, context)
        pipe = None
        if self.next_non_space().typ != Tok.RIGHT_DELIM:
            self.backup()
            pipe = self.pipeline(context)
        return TemplateNode(name_tok.pos, name, pipe)

    def template_name(self, tok: Token, context: str) -> str:
        if tok.typ not in (Tok.STRING, Tok.RAW_STRING):
            raise self.unexpected(tok, context)
        return self.unquote(tok)

    def unquote(self, tok: Token) -> str:
        try:
            return unquote(tok.val)
        except LiteralError as err:
            raise self.error(str(err), tok) from None

    # -- pipelines -------------------------------------------------------

    def pipeline(self, context: str) -> PipeNode:
        start = self.peek_non_space()
        pipe = PipeNode(start.pos)
        while True:   # declarations
            var = self.peek_non_space()
            if var.typ != Tok.VARIABLE:
                break
            save = self.i
            self.next_non_space()
            nxt = self.peek_non_space()
            if nxt.typ in (Tok.ASSIGN, Tok.DECLARE):
                pipe.is_assign = nxt.typ == Tok.ASSIGN
                self.next_non_space()
                if pipe.is_assign and var.val not in self.vars:
                    raise self.error(f"undefined variable \"{var.val}\"", var)
                pipe.decl.append(VariableNode(var.pos, (var.val,)))
                self.vars.append(var.val)
                break
            if nxt.typ == Tok.CHAR and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(VariableNode(var.pos, (var.val,)))
                self.vars.append(var.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().typ in (Tok.VARIABLE, Tok.RIGHT_DELIM,
                                                     Tok.RIGHT_PAREN):
                        continue
                    raise self.error("range can only initialize variables", nxt)
                raise self.error(f"too many declarations in {context}", nxt)
            self.i = save
            break
        while True:
            tok = self.next_non_space()
            if tok.typ in (Tok.RIGHT_DELIM, Tok.RIGHT_PAREN):
                self.check_pipeline(pipe, context, tok)
                if tok.typ == Tok.RIGHT_PAREN:
                    self.backup()
                return pipe
            if tok.typ in (Tok.BOOL, Tok.CHAR_CONSTANT, Tok.DOT, Tok.FIELD, Tok.IDENTIFIER,
                           Tok.NUMBER, Tok.NIL, Tok.RAW_STRING, Tok.STRING, Tok.VARIABLE,
                           Tok.LEFT_PAREN):
                self.backup()
                pipe.cmds.append(self.command())
            else:
                raise self.unexpected(tok, context)

    def check_pipeline(self, pipe: PipeNode, context: str, tok: Token) -> None:
        if not pipe.cmds:
            raise self.error(f"missing value for {context}", tok)
        for stage, cmd in enumerate(pipe.cmds[1:], start=2):
            if isinstance(cmd.args[0], (BoolNode, DotNode, NilNode, NumberNode, StringNode)):
                raise self.error(f"non executable command in pipeline stage {stage}", tok)

    def command(self) -> CommandNode:
        cmd = CommandNode(self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self.next()
            if tok.typ == Tok.SPACE:
                continue
            if tok.typ == Tok.ERROR:
                raise self.error(tok.val, tok)
            if tok.typ in (Tok.RIGHT_DELIM, Tok.RIGHT_PAREN):
                self.backup()
            elif tok.typ != Tok.PIPE:
                raise self.error(f"unexpected {tok} in operand", tok)
            break
        if not cmd.args:
            raise self.error("empty command")
        return cmd

    def operand(self) -> Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().typ == Tok.FIELD:
            fields: list[str] = []
            pos = self.peek().pos
            while self.peek().typ == Tok.FIELD:
                fields.append(self.next().val[1:])
            if isinstance(node, FieldNode):
                return FieldNode(node.pos, node.ident + tuple(fields))
            if isinstance(node, VariableNode):
                return VariableNode(node.pos, node.ident + tuple(fields))
            if isinstance(node, (BoolNode, StringNode, NumberNode, NilNode, DotNode)):
                raise self.error(f"unexpected . after term {go_quote(str(node))}")
            return ChainNode(pos, node, tuple(fields))
        return node

    def term(self) -> Node | None:
        tok = self.next_non_space()
        typ = tok.typ
        if typ == Tok.ERROR:
            raise self.error(tok.val, tok)
        if typ == Tok.IDENTIFIER:
            if tok.val not in self.funcs:
                raise self.error(f"function \"{tok.val}\" not defined", tok)
            return IdentifierNode(tok.pos, tok.val)
        if typ == Tok.DOT:
            return DotNode(tok.pos)
        if typ == Tok.NIL:
            return NilNode(tok.pos)
        if typ == Tok.VARIABLE:
            fields = tok.val.split(".")
            if fields[0] not in self.vars:
                raise self.error(f"undefined variable \"{fields[0]}\"", tok)
            return VariableNode(tok.pos, tuple(fields))
        if typ == Tok.FIELD:
            return FieldNode(tok.pos, (tok.val[1:],))
        if typ == Tok.BOOL:
            return BoolNode(tok.pos, tok.val == "true")
        if typ in (Tok.CHAR_CONSTANT, Tok.NUMBER):
            try:
                value = (char_value(tok.val) if typ == Tok.CHAR_CONSTANT
                         else number_value(tok.val))
            except LiteralError as err:
                raise self.error(str(err), tok) from None
            return NumberNode(tok.pos, value, tok.val)
        if typ == Tok.LEFT_PAREN:
            self.enter(tok)
            pipe = self.pipeline("parenthesized pipeline")
            self.depth -= 1
            close = self.next()
            if close.typ != Tok.RIGHT_PAREN:
                raise self.error(f"unclosed right paren: unexpected {close}", close)
            return pipe
        if typ in (Tok.STRING, Tok.RAW_STRING):
            return StringNode(tok.pos, tok.val, self.unquote(tok))
        self.backup()
        return None


def parse_trees(name: str, text: str, left: str, right: str,
                funcs: Collection[str]) -> dict[str, ListNode]:
    """Every template ``text`` defines, the top-level one under ``name``."""
    trees: dict[str, ListNode] = {}
    Parser(name, text, left, right, funcs, trees).parse()
    return trees
