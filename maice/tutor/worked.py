"""Worked answers computed with SymPy, written as Korean Markdown with ``$…$`` LaTeX.

``work(question)`` reads the question's mathematics (``mathexpr``), picks the task the
Korean words ask for (풀어/인수분해/전개/미분/적분/꼭짓점/극한…) and writes the steps a
teacher would show (``algebra``, ``calculus``). Runs in the sandbox's child process: only
a ``Worked`` of strings comes back.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import sympy as sp

from maice.tutor import algebra, calculus, geometry, sequences, vocab
from maice.tutor.mathexpr import MathQuery, analyze
from maice.tutor.solution import Worked, degree_in
from maice.tutor.symbolic import parse

Handler = Callable[[MathQuery, list[sp.Expr], sp.Symbol, str], Worked]

def _pick_variable(exprs: list[sp.Expr], hint: str | None) -> sp.Symbol:
    symbols = sorted(set().union(*(e.free_symbols for e in exprs)), key=lambda s: s.name)
    if hint and any(s.name == hint for s in symbols):
        return sp.Symbol(hint)
    for preferred in ("x", "t", "n", "theta"):
        if any(s.name == preferred for s in symbols):
            return sp.Symbol(preferred)
    if not symbols:
        return sp.Symbol("x")
    return symbols[0]  # type: ignore[no-any-return]


def _symbols(query: MathQuery) -> set[str]:
    return {name for e in query.expressions for name in re.findall(r"(?<![A-Za-z])[a-z](?![A-Za-z])", e)}


def _task(text: str, query: MathQuery, degree: int | None) -> str:
    relations = [r for r in query.relations if r]
    if query.summation:
        return "sum"
    if query.approach or (vocab.LIMIT.search(text) and "극한" in text):
        return "limit"
    if query.integral or vocab.INTEGRATE.search(text):
        return "integrate"
    if query.function_name and degree == 1 and not (query.derivative or re.search(r"미분|도함수", text)):
        return "linear"  # "y=2x+1의 기울기": slope and intercepts, no derivative needed
    if query.derivative or vocab.DIFF.search(text) or re.search(r"극값|극댓값|극솟값|증가|감소", text):
        return "diff"
    if vocab.FACTOR.search(text):
        return "factor"
    if vocab.EXPAND.search(text):
        return "expand"
    if "원" in text and relations == ["="] and _symbols(query) == {"x", "y"}:
        return "circle"
    if len(query.expressions) > 1 and relations:
        return "inequality" if any(r != "=" for r in relations) else "system"
    if relations:
        return "inequality" if relations[0] != "=" else "solve"
    if query.point and not vocab.VERTEX.search(text):
        return "evaluate_at"
    if query.function_name or vocab.VERTEX.search(text):
        if degree == 2:
            return "vertex"
        if degree is not None and degree >= 3:
            return "graph"
    if vocab.SOLVE.search(text) and re.search(r"해|근|풀", text):
        return "solve"
    if query.numeric:
        return "evaluate"
    return "simplify"


def work(question: str) -> Worked | None:
    """The worked answer, or None when the question holds nothing we can compute."""
    query = analyze(question)
    text = question
    if query.sequence:
        return sequences.sequence(query.sequence)
    if query.vectors:
        return geometry.vectors(query, text)
    if not query.expressions:
        return None
    exprs = [parse(e) for e in query.expressions]
    hint = query.variable or (query.approach[0] if query.approach else None) or (
        query.summation[0] if query.summation else None)
    var = _pick_variable(exprs, hint)
    degree = degree_in(exprs[0], var)
    task = _task(text, query, degree)
    if task != "limit" and any(e.has(sp.zoo, sp.nan) for e in exprs):
        task = "evaluate"  # a division by zero or log 0: the value step says it is undefined
    handler = _HANDLERS[task]
    return handler(query, exprs, var, text)


_HANDLERS: dict[str, Handler] = {
    "solve": algebra.solve, "system": algebra.system, "inequality": algebra.inequality, "factor": algebra.factor,
    "expand": algebra.expand, "vertex": algebra.vertex, "evaluate_at": algebra.evaluate_at,
    "evaluate": algebra.evaluate, "simplify": algebra.simplify,
    "diff": calculus.diff, "integrate": calculus.integrate, "limit": calculus.limit, "graph": calculus.graph,
    "sum": calculus.series_sum, "linear": geometry.linear, "circle": geometry.circle,
}
