"""SymPy's parser on whitelisted text, with size checks before anything is evaluated."""

from __future__ import annotations

import math
import re
from tokenize import TokenError

import sympy as sp
from sympy.parsing.sympy_parser import (
    convert_xor,
    implicit_multiplication_application,
    parse_expr,
    standard_transformations,
)

_TRANSFORMS = (*standard_transformations, implicit_multiplication_application, convert_xor)
_FUNCTIONS: dict[str, object] = {
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "cot": sp.cot, "sec": sp.sec, "csc": sp.csc,
    "log": sp.log, "exp": sp.exp, "sqrt": sp.sqrt, "Abs": sp.Abs, "factorial": sp.factorial,
    "binomial": sp.binomial, "ff": sp.ff,
}
# The parser's generated code may only name these: no builtins, no other SymPy object.
_GLOBALS: dict[str, object] = {
    "__builtins__": {},
    "Symbol": sp.Symbol, "Integer": sp.Integer, "Float": sp.Float, "Rational": sp.Rational, "Number": sp.Number,
    "Add": sp.Add, "Mul": sp.Mul, "Pow": sp.Pow, "pi": sp.pi, "E": sp.E, "I": sp.I, "oo": sp.oo,
    **_FUNCTIONS,
}
_GREEK = ("theta", "alpha", "beta")
MAX_NODES = 400
MAX_SYMBOLIC_EXPONENT = 64
MAX_NUMBER_DIGITS = 1000
MAX_FACTORIAL = 300


class NotComputable(Exception):
    """The text is no expression we can (or should) compute with."""


def _locals(text: str) -> dict[str, object]:
    names = set(re.findall(r"[A-Za-z]+", text))
    symbols: dict[str, object] = {}
    for name in names:
        if len(name) == 1 and name not in ("E", "I"):
            symbols[name] = sp.Symbol(name)
        elif name in _GREEK:
            symbols[name] = sp.Symbol(name)
    return symbols


def _check(node: sp.Basic, budget: list[int]) -> None:
    budget[0] -= 1
    if budget[0] < 0:
        raise NotComputable("expression too large")
    for arg in node.args:
        _check(arg, budget)
    if isinstance(node, sp.Pow) and not node.exp.free_symbols:
        exponent = abs(complex(sp.N(node.exp, 8)))
        if node.base.free_symbols:
            if exponent > MAX_SYMBOLIC_EXPONENT:
                raise NotComputable("exponent too large")
        else:
            base = abs(complex(sp.N(node.base, 8)))
            if exponent * math.log10(base + 1) > MAX_NUMBER_DIGITS:
                raise NotComputable("number too large")
    if isinstance(node, (sp.factorial, sp.binomial, sp.ff)) and not node.args[0].free_symbols:
        if abs(complex(sp.N(node.args[0], 8))) > MAX_FACTORIAL:
            raise NotComputable("factorial too large")


def parse(text: str, *, evaluate: bool = True) -> sp.Expr:
    """The expression (evaluated unless asked), once its unevaluated form passed the size checks."""
    local = _locals(text)
    try:
        raw = parse_expr(text, local_dict=dict(local), global_dict=dict(_GLOBALS), transformations=_TRANSFORMS,
                         evaluate=False)
        _check(raw, [MAX_NODES])
        if not evaluate:
            return raw  # type: ignore[no-any-return]
        expr = parse_expr(text, local_dict=dict(local), global_dict=dict(_GLOBALS), transformations=_TRANSFORMS)
    except NotComputable:
        raise
    except (SyntaxError, TypeError, ValueError, AttributeError, NameError, ZeroDivisionError, OverflowError,
            sp.SympifyError, TokenError) as exc:
        raise NotComputable(str(exc)) from exc
    if not isinstance(expr, sp.Expr):
        raise NotComputable("not an expression")
    return expr


def value(text: str) -> sp.Expr:
    """A bound or point such as ``1``, ``-pi/2`` or ``oo``."""
    return parse(text.replace("pi", " pi "))


def latex(expr: sp.Basic) -> str:
    # The curriculum writes the natural logarithm as ln.
    return sp.latex(expr, ln_notation=True)
