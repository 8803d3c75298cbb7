"""Worked answers in coordinates: a line's slope and intercepts, a circle's centre and
radius, vectors' dot product, lengths and angle."""

from __future__ import annotations

import sympy as sp

from maice.tutor.mathexpr import MathQuery
from maice.tutor.solution import Worked, function_label
from maice.tutor.symbolic import NotComputable, latex, value


def linear(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    expr = sp.expand(exprs[0])
    slope, intercept = sp.Poly(expr, var).all_coeffs()
    label = function_label(query, var)
    steps = [f"**주어진 함수:** ${label} = {latex(expr)}$", "",
             f"1. $y = ax + b$ 꼴에서 기울기 $a = {latex(slope)}$, $y$절편 $b = {latex(intercept)}$"]
    if slope != 0:
        root = sp.nsimplify(-intercept / slope)
        steps.append(f"2. $y = 0$으로 놓으면 $x$절편은 ${latex(root)}$")
        steps.append(f"3. 기울기가 {'양수라 오른쪽 위로' if slope > 0 else '음수라 오른쪽 아래로'} 향하는 직선이에요: "
                     f"$x$가 $1$ 늘 때 $y$는 ${latex(slope)}$만큼 변해요.")
    return Worked("linear", "일차함수의 그래프", "\n".join(steps), f"a = {latex(slope)}, b = {latex(intercept)}",
                  ("일차함수", "기울기", "y절편"))


def circle(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    x, y = sp.Symbol("x"), sp.Symbol("y")
    poly = sp.Poly(sp.expand(exprs[0]), x, y)
    a = poly.coeff_monomial(x**2)
    if a == 0 or a != poly.coeff_monomial(y**2) or poly.coeff_monomial(x * y) != 0 or poly.total_degree() != 2:
        raise NotComputable("not a circle")
    normal = sp.expand(exprs[0] / a)
    p = -sp.Poly(normal, x, y).coeff_monomial(x) / 2
    q = -sp.Poly(normal, x, y).coeff_monomial(y) / 2
    r_squared = sp.simplify(p**2 + q**2 - normal.subs({x: 0, y: 0}))
    steps = [f"**주어진 방정식:** ${latex(normal)} = 0$", "",
             f"1. $x$, $y$에 대해 각각 완전제곱식으로 묶으면 $(x - ({latex(p)}))^2 + (y - ({latex(q)}))^2 = {latex(r_squared)}$"]
    if not r_squared.is_positive:
        steps.append("2. 우변이 양수가 아니어서 원을 나타내지 않아요.")
        return Worked("circle", "원의 방정식", "\n".join(steps), r"\text{원이 아님}", ("원의 방정식",))
    radius = sp.sqrt(r_squared)
    steps.append(f"2. 따라서 중심은 $({latex(p)},\\ {latex(q)})$, 반지름은 ${latex(radius)}$")
    return Worked("circle", "원의 중심과 반지름", "\n".join(steps), f"({latex(p)}, {latex(q)}), r = {latex(radius)}",
                  ("원의 방정식", "완전제곱식"))


def vectors(query: MathQuery, text: str) -> Worked:
    named = [(name, sp.Matrix([value(c) for c in components])) for name, components in query.vectors]
    if not named or len({len(v) for _, v in named}) != 1:
        raise NotComputable("vectors of different sizes")
    shown = ", ".join(f"$\\vec{{{n}}} = ({', '.join(latex(c) for c in v)})$" for n, v in named)
    steps = [f"**주어진 벡터:** {shown}", ""]
    lengths = [(n, sp.sqrt(v.dot(v))) for n, v in named]
    steps.append("1. 크기: " + ", ".join(f"$|\\vec{{{n}}}| = {latex(size)}$" for n, size in lengths))
    if len(named) < 2:
        return Worked("vector", "벡터의 크기", "\n".join(steps), latex(lengths[0][1]), ("벡터", "벡터의 크기"))
    (first, u), (second, v) = named[:2]
    dot = u.dot(v)
    steps.append(f"2. 내적은 성분끼리 곱해 더합니다: $\\vec{{{first}}} \\cdot \\vec{{{second}}} = "
                 + " + ".join(f"({latex(a)})({latex(b)})" for a, b in zip(u, v, strict=False)) + f" = {latex(dot)}$")
    cosine = sp.simplify(dot / (lengths[0][1] * lengths[1][1]))
    steps.append(f"3. 두 벡터가 이루는 각 $\\theta$는 $\\cos\\theta = \\dfrac{{\\vec{{{first}}} \\cdot \\vec{{{second}}}}}"
                 f"{{|\\vec{{{first}}}||\\vec{{{second}}}|}} = {latex(cosine)}$"
                 + (" 이고, 내적이 $0$이라 두 벡터는 수직이에요." if dot == 0 else ""))
    return Worked("vector", "벡터의 내적", "\n".join(steps), latex(dot), ("벡터", "내적"))



