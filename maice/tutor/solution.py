"""What every worked answer shares: its record, and the formatting of formulas and steps."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from maice.tutor.mathexpr import MathQuery
from maice.tutor.symbolic import latex, parse

NON_ELEMENTARY = (sp.erf, sp.erfi, sp.erfc, sp.Si, sp.Ci, sp.Ei, sp.li, sp.gamma, sp.uppergamma, sp.lowergamma,
                   sp.hyper, sp.meijerg, sp.polylog, sp.LambertW, sp.fresnels, sp.fresnelc, sp.Piecewise)


@dataclass(frozen=True)
class Worked:
    task: str                      # solve, system, inequality, factor, expand, diff, integrate, limit, vertex, graph, evaluate, simplify
    title: str                     # a short Korean title ("이차방정식 풀이")
    markdown: str                  # the worked section
    result: str                    # the final result, LaTeX
    concepts: tuple[str, ...]      # key concepts used


def inline(expr: sp.Basic | str) -> str:
    return f"${expr if isinstance(expr, str) else latex(expr)}$"


def degree_in(expr: sp.Expr, var: sp.Symbol) -> int | None:
    if expr.is_polynomial(var) and expr.free_symbols <= {var}:
        return int(sp.degree(expr, var)) if expr.has(var) else 0
    return None


def function_label(query: MathQuery, var: sp.Symbol) -> str:
    if query.function_name and query.function_name != "y":
        return f"{query.function_name}({var})"
    return "y" if query.function_name == "y" else f"f({var})"


RELATION_TEX = {"=": "=", "<": "<", "<=": r"\le", ">": ">", ">=": r"\ge"}


def as_written(query: MathQuery, index: int) -> str:
    """The equation or inequality as the student wrote it, in LaTeX."""
    lhs, rhs = query.sides[index]
    return f"{latex(parse(lhs))} {RELATION_TEX[query.relations[index]]} {latex(parse(rhs))}"


def roots_text(var: sp.Symbol, roots: list[sp.Expr]) -> str:
    return " 또는 ".join(inline(sp.Eq(var, r)) for r in roots)


def tidy(expr: sp.Expr) -> sp.Expr:
    """The expanded form unless simplifying makes it clearly shorter (quotients, roots)."""
    expanded, simplified = sp.expand(expr), sp.simplify(expr)
    return expanded if sp.count_ops(expanded) <= sp.count_ops(simplified) + 1 else simplified


def terms(expr: sp.Expr, var: sp.Symbol) -> list[sp.Expr]:
    """A polynomial's terms, highest degree first (as a teacher writes them)."""
    return sorted(sp.Add.make_args(sp.expand(expr)), key=lambda term: -sp.degree(term, var))
