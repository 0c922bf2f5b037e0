"""A safe evaluator for the Python-like expressions in ``.=`` parameters.

Flow definitions compute values with expressions such as
``state_manager.counter + 1`` or list comprehensions over earlier results. This
module evaluates a subset of that language by walking Python's syntax tree, so
nothing the flow author wrote is ever run as Python code. Object keys read as
attributes (``a.b`` is ``a["b"]``), a backticked JSONPath reads from the run
state, and only the functions and string, list and object methods listed here
can be called.
"""

from __future__ import annotations

import ast
import operator
import posixpath
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ._jsonpath import MISSING, get_path

__all__ = ["ExpressionError", "UnsupportedExpression", "evaluate"]

# Bounds that keep one expression from using unbounded memory or time.
_MAX_SEQUENCE_LENGTH = 100_000
_MAX_NODES = 2_000
_MAX_STEPS = 1_000_000

_BACKTICK_PATH = re.compile(r"`(\$[^`]*)`")

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda left, right: left in right,
    ast.NotIn: lambda left, right: left not in right,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
_METHODS: dict[type, frozenset[str]] = {
    str: frozenset(
        [
            "capitalize",
            "count",
            "endswith",
            "find",
            "index",
            "isalnum",
            "isalpha",
            "isdigit",
            "islower",
            "isupper",
            "join",
            "lower",
            "lstrip",
            "partition",
            "removeprefix",
            "removesuffix",
            "replace",
            "rfind",
            "rpartition",
            "rsplit",
            "rstrip",
            "split",
            "splitlines",
            "startswith",
            "strip",
            "title",
            "upper",
            "zfill",
        ]
    ),
    list: frozenset({"count", "index"}),
    dict: frozenset({"get", "items", "keys", "values"}),
}


class ExpressionError(ValueError):
    """An expression that fails to evaluate, as it would in the real service."""


class UnsupportedExpression(ExpressionError):
    """An expression that uses syntax or a function this evaluator lacks."""


def _bounded_range(*arguments: int) -> list[int]:
    values = range(*arguments)
    if len(values) > _MAX_SEQUENCE_LENGTH:
        raise ExpressionError(f"range of {len(values)} items is too long")
    return list(values)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "all": all,
    "any": any,
    "bool": bool,
    "dict": dict,
    "enumerate": lambda items: [list(pair) for pair in enumerate(items)],
    "float": float,
    "int": int,
    "len": len,
    "list": list,
    "max": max,
    "min": min,
    "pathsplit": lambda path: list(posixpath.split(path)),
    "range": _bounded_range,
    "round": round,
    "sorted": sorted,
    "str": str,
    "sum": sum,
    "zip": lambda *lists: [list(items) for items in zip(*lists, strict=False)],
}


def evaluate(expression: str, names: Mapping[str, Any]) -> Any:
    """Evaluate one expression.

    Args:
        expression: The expression text. A backticked JSONPath, such as
            ``$.input.path`` between backticks, reads from ``names`` as the
            document root.
        names: The variables: the run state's top-level keys and ``_context``.

    Returns:
        The value.

    Raises:
        UnsupportedExpression: If the expression uses syntax or a call outside
            the supported subset.
        ExpressionError: If the expression fails, for example on a missing
            name or a type mismatch.
    """
    scope = dict(names)
    source = _replace_backtick_paths(expression, scope)
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise UnsupportedExpression(
            f"cannot parse expression {expression!r}: {exc.msg}"
        ) from exc

    if sum(1 for _ in ast.walk(tree)) > _MAX_NODES:
        raise UnsupportedExpression(f"expression {expression[:80]!r}... is too long")

    try:
        return _Evaluator(scope).visit(tree.body)
    except ExpressionError:
        raise
    except (
        TypeError,
        ValueError,
        KeyError,
        IndexError,
        ZeroDivisionError,
        AttributeError,
    ) as exc:
        raise ExpressionError(f"expression {expression!r} failed: {exc}") from exc


def _replace_backtick_paths(expression: str, scope: dict[str, Any]) -> str:
    def substitute(match: re.Match[str]) -> str:
        name = f"__path_{len(scope)}"
        value = get_path(scope, match.group(1))
        scope[name] = None if value is MISSING else value
        return name

    return _BACKTICK_PATH.sub(substitute, expression)


class _Evaluator:
    def __init__(self, scope: dict[str, Any]) -> None:
        self.scope = scope
        self.steps = 0

    def visit(self, node: ast.AST) -> Any:
        self.steps += 1
        if self.steps > _MAX_STEPS:
            raise ExpressionError(f"expression took more than {_MAX_STEPS} steps")

        handler = getattr(self, f"visit_{type(node).__name__}", None)
        if handler is None:
            raise UnsupportedExpression(
                f"the emulator does not evaluate {type(node).__name__} expressions"
            )
        return handler(node)

    def visit_Constant(self, node: ast.Constant) -> Any:
        return node.value

    def visit_Name(self, node: ast.Name) -> Any:
        if node.id not in self.scope:
            raise ExpressionError(f"name {node.id!r} is not defined")
        return self.scope[node.id]

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        value = self.visit(node.value)
        if isinstance(value, dict) and node.attr in value:
            return value[node.attr]

        allowed = _METHODS.get(type(value), frozenset())
        if node.attr in allowed:
            return getattr(value, node.attr)
        raise ExpressionError(
            f"{type(value).__name__} value has no field {node.attr!r}"
        )

    def visit_Subscript(self, node: ast.Subscript) -> Any:
        value = self.visit(node.value)
        if isinstance(node.slice, ast.Slice):
            bounds = [
                None if part is None else self.visit(part)
                for part in (node.slice.lower, node.slice.upper, node.slice.step)
            ]
            return value[slice(*bounds)]
        return value[self.visit(node.slice)]

    def visit_List(self, node: ast.List) -> Any:
        return [self.visit(item) for item in node.elts]

    def visit_Tuple(self, node: ast.Tuple) -> Any:
        return [self.visit(item) for item in node.elts]

    def visit_Dict(self, node: ast.Dict) -> Any:
        if any(key is None for key in node.keys):
            raise UnsupportedExpression("the emulator does not evaluate ** in objects")
        return {
            self.visit(key): self.visit(value)
            for key, value in zip(node.keys, node.values, strict=True)
            if key is not None
        }

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        function = _BINARY.get(type(node.op))
        if function is None:
            raise UnsupportedExpression(
                f"the emulator does not evaluate the {type(node.op).__name__} operator"
            )
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(node.op, ast.Mult):
            _check_repeat(left, right)
        return _bounded(function(left, right))

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        operand = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            return not operand
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return +operand
        raise UnsupportedExpression("the emulator does not evaluate the ~ operator")

    def visit_BoolOp(self, node: ast.BoolOp) -> Any:
        is_and = isinstance(node.op, ast.And)
        value: Any = None
        for item in node.values:
            value = self.visit(item)
            if bool(value) != is_and:
                return value
        return value

    def visit_Compare(self, node: ast.Compare) -> Any:
        left = self.visit(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.visit(comparator)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True

    def visit_IfExp(self, node: ast.IfExp) -> Any:
        if self.visit(node.test):
            return self.visit(node.body)
        return self.visit(node.orelse)

    def visit_Call(self, node: ast.Call) -> Any:
        if node.keywords:
            raise UnsupportedExpression(
                "the emulator does not evaluate keyword arguments"
            )

        arguments = [self.visit(argument) for argument in node.args]
        if isinstance(node.func, ast.Name):
            return self._call_function(node.func.id, arguments)

        method = self.visit(node.func)
        _check_method_size(method, arguments)
        return _bounded(method(*arguments))

    def _call_function(self, name: str, arguments: list[Any]) -> Any:
        # getattr(name, default) in flow expressions reads a variable that may be absent.
        if name == "getattr" and len(arguments) == 2 and isinstance(arguments[0], str):
            return self.scope.get(arguments[0], arguments[1])

        function = _FUNCTIONS.get(name)
        if function is None:
            raise UnsupportedExpression(
                f"the emulator does not provide the function {name!r}"
            )
        return _bounded(function(*arguments))

    def visit_ListComp(self, node: ast.ListComp) -> Any:
        return [self.visit(node.elt) for _ in self._bind(node.generators)]

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> Any:
        return [self.visit(node.elt) for _ in self._bind(node.generators)]

    def visit_DictComp(self, node: ast.DictComp) -> Any:
        return {
            self.visit(node.key): self.visit(node.value)
            for _ in self._bind(node.generators)
        }

    def _bind(self, generators: list[ast.comprehension]) -> Iterator[None]:
        # Variables of a comprehension shadow outer names only inside it.
        saved = dict(self.scope)
        try:
            yield from self._bind_from(generators, 0)
        finally:
            self.scope = saved

    def _bind_from(
        self, generators: list[ast.comprehension], index: int
    ) -> Iterator[None]:
        if index == len(generators):
            yield None
            return

        generator = generators[index]
        for item in self.visit(generator.iter):
            self._assign(generator.target, item)
            if all(self.visit(condition) for condition in generator.ifs):
                yield from self._bind_from(generators, index + 1)

    def _assign(self, target: ast.AST, value: Any) -> None:
        if isinstance(target, ast.Name):
            self.scope[target.id] = value
            return

        if isinstance(target, ast.Tuple):
            for part, item in zip(target.elts, value, strict=True):
                self._assign(part, item)
            return

        raise UnsupportedExpression(
            "the emulator binds only names and tuples in comprehensions"
        )


def _bounded(value: Any) -> Any:
    if isinstance(value, (str, list)) and len(value) > _MAX_SEQUENCE_LENGTH:
        raise ExpressionError(
            f"result of {len(value)} items is longer than {_MAX_SEQUENCE_LENGTH}"
        )
    return value


def _check_repeat(left: Any, right: Any) -> None:
    # Check the size before multiplying, because building it is the harm.
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, (str, list)) and isinstance(count, int):
            _bounded_size(len(sequence) * max(count, 0))


def _check_method_size(method: Any, arguments: list[Any]) -> None:
    owner = getattr(method, "__self__", None)
    name = getattr(method, "__name__", "")
    if not isinstance(owner, str):
        return

    if name == "zfill" and arguments and isinstance(arguments[0], int):
        _bounded_size(arguments[0])
    elif name == "replace" and len(arguments) >= 2:
        old, new = str(arguments[0]), str(arguments[1])
        _bounded_size(len(owner) + (owner.count(old) + 1) * len(new))
    elif name == "join" and arguments:
        items = list(arguments[0])
        _bounded_size(sum(len(str(item)) for item in items) + len(owner) * len(items))


def _bounded_size(size: int) -> None:
    if size > _MAX_SEQUENCE_LENGTH:
        raise ExpressionError(
            f"result of {size} items is longer than {_MAX_SEQUENCE_LENGTH}"
        )
