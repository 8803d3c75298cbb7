"""Worked answers of algebra: equations, systems, inequalities, factoring, expanding,
the vertex of a quadratic, values and simplification."""

from __future__ import annotations

import re

import sympy as sp

from maice.tutor.mathexpr import MathQuery
from maice.tutor.solution import Worked, as_written, degree_in, function_label, inline, roots_text
from maice.tutor.symbolic import NotComputable, latex, parse, value


def solve(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    expr = sp.expand(exprs[0])
    shown = as_written(query, 0)
    degree = degree_in(expr, var)
    steps: list[str] = [f"**주어진 방정식:** ${shown}$", ""]
    concepts: list[str] = []
    if degree == 1:
        a, b = sp.Poly(expr, var).all_coeffs()
        root = sp.nsimplify(-b / a)
        steps += [
            f"1. 모든 항을 좌변으로 모으면 {inline(sp.Eq(expr, 0))}",
            f"2. 상수항을 우변으로 이항하면 {inline(sp.Eq(a * var, -b))}",
            f"3. 양변을 {inline(a)}(으)로 나누면 {inline(sp.Eq(var, root))}",
            "",
            f"**검산:** {inline(sp.Eq(var, root))}을(를) 대입하면 좌변과 우변이 같아져요. ✔",
        ]
        return Worked("solve", "일차방정식 풀이", "\n".join(steps), latex(sp.Eq(var, root)), ("일차방정식", "이항"))
    if degree == 2:
        a, b, c = sp.Poly(expr, var).all_coeffs()
        disc = sp.simplify(b**2 - 4 * a * c)
        roots = sp.solve(expr, var)
        factored = sp.factor(expr)
        steps.append(f"1. 표준형으로 정리하면 {inline(sp.Eq(expr, 0))} ($a={latex(a)},\\ b={latex(b)},\\ c={latex(c)}$)")
        if all(r.is_rational for r in roots) and factored != expr:
            steps += [
                f"2. 좌변을 인수분해하면 {inline(sp.Eq(factored, 0))}",
                "3. 두 식의 곱이 0이면 적어도 하나는 0이므로 각 인수를 0으로 놓습니다.",
            ]
            concepts += ["인수분해", "이차방정식"]
        else:
            steps += [
                "2. 인수분해가 쉽지 않으니 근의 공식 $x = \\dfrac{-b \\pm \\sqrt{b^2-4ac}}{2a}$을 씁니다.",
                f"3. 판별식 $D = b^2 - 4ac = {latex(disc)}$",
            ]
            concepts += ["근의 공식", "판별식"]
        if disc.is_negative:
            steps.append(f"4. $D < 0$이므로 실근은 없고, 서로 다른 두 허근 {roots_text(var, roots)}을 가져요.")
            result_roots = roots
        elif disc == 0:
            steps.append(f"4. $D = 0$이므로 중근 {inline(sp.Eq(var, roots[0]))}을 가져요.")
            result_roots = roots
        else:
            steps.append(f"4. 따라서 해는 {roots_text(var, roots)} 입니다.")
            result_roots = roots
        steps += ["", f"**확인:** 근과 계수의 관계로 두 근의 합은 $-\\dfrac{{b}}{{a}} = {latex(-b / a)}$, "
                  f"곱은 $\\dfrac{{c}}{{a}} = {latex(c / a)}$ 이에요."]
        return Worked("solve", "이차방정식 풀이", "\n".join(steps),
                      ", ".join(latex(sp.Eq(var, r)) for r in result_roots), tuple(concepts) or ("이차방정식",))
    if degree is not None and degree >= 3:
        factored = sp.factor(expr)
        roots = dict(sorted(sp.roots(sp.Poly(expr, var)).items(), key=lambda kv: (not kv[0].is_real, sp.re(kv[0]))))
        real = [r for r in roots if r.is_real]
        others = [r for r in roots if not r.is_real]
        steps.append(f"1. 인수정리(조립제법)로 좌변을 인수분해하면 {inline(sp.Eq(factored, 0))}")
        if not roots:
            numeric = [sp.N(r, 6) for r in sp.Poly(expr, var).nroots(n=6)]
            steps.append(f"2. 유리수 근이 없어 근삿값으로 구하면 {', '.join(inline(r) for r in numeric)}")
            return Worked("solve", f"{degree}차방정식 풀이", "\n".join(steps),
                          ", ".join(latex(r) for r in numeric), ("고차방정식", "인수정리"))
        listed = [f"{inline(sp.Eq(var, r))}" + (f" ({k}중근)" if k > 1 else "") for r, k in roots.items() if r in real]
        steps.append(f"2. 실근: {', '.join(listed) if listed else '없음'}")
        if others:
            steps.append(f"3. 허근: {', '.join(inline(sp.Eq(var, r)) for r in others)}")
        return Worked("solve", f"{degree}차방정식 풀이", "\n".join(steps),
                      ", ".join(latex(sp.Eq(var, r)) for r in roots), ("고차방정식", "인수정리"))
    if len(expr.free_symbols - {var}) == 1 and degree_in(expr, var) is None and _PARAMETER_CONDITION.search(text):
        return _parameter(expr, var, text, steps)
    trig = expr.has(sp.sin, sp.cos, sp.tan)
    solutions = sp.solveset(expr, var, domain=sp.S.Reals)
    title, used = ("삼각방정식 풀이", ("삼각방정식", "주기")) if trig else ("방정식 풀이", ("방정식",))
    if isinstance(solutions, sp.FiniteSet):
        ordered = sorted(solutions, key=lambda r: float(sp.N(r)))
        if not ordered:
            steps.append("1. 실수 범위에서 해가 없어요.")
            return Worked("solve", title, "\n".join(steps), r"\varnothing", used)
        steps.append(f"1. {inline(var)}에 대해 정리하면 {roots_text(var, ordered)}")
        steps.append("\n**검산:** 구한 값을 처음 식에 대입해 등식이 성립하는지 확인해 보세요. ✔")
        return Worked("solve", title, "\n".join(steps), ", ".join(latex(sp.Eq(var, r)) for r in ordered), used)
    if trig:
        period = sp.Interval.Ropen(0, 2 * sp.pi)
        within = sp.solveset(expr, var, domain=period)
        if isinstance(within, sp.FiniteSet) and within:
            ordered = sorted(within, key=lambda r: float(sp.N(r)))
            steps.append(f"1. 한 주기 $0 \\le {latex(var)} < 2\\pi$ 안에서 단위원(또는 그래프)으로 찾으면 {roots_text(var, ordered)}")
            steps.append(f"2. 주기가 $2\\pi$이므로 일반해는 {inline(solutions)}")
            steps.append("3. 문제에 주어진 범위가 있으면 그 안의 해만 고르면 됩니다.")
            return Worked("solve", title, "\n".join(steps), ", ".join(latex(sp.Eq(var, r)) for r in ordered), used)
    steps.append(f"1. {inline(var)}에 대해 풀면 해집합은 {inline(solutions)}")
    return Worked("solve", title, "\n".join(steps), latex(solutions), used)


# "중근을 가질 때 k의 값", "서로 다른 두 실근을 갖도록": a condition on a parameter, through the discriminant.
_PARAMETER_CONDITION = re.compile(r"중근|서로\s*다른\s*두\s*실근|실근을\s*갖|실근을\s*가지|허근|실근이\s*없|만나지\s*않|접할|접한다")


def _parameter(expr: sp.Expr, var: sp.Symbol, text: str, steps: list[str]) -> Worked:
    (parameter,) = expr.free_symbols - {var}
    poly = sp.Poly(expr, var)
    if poly.degree() != 2:
        raise NotComputable("only quadratic conditions")
    a, b, c = poly.all_coeffs()
    disc = sp.expand(b**2 - 4 * a * c)
    if re.search(r"중근|접할|접한다", text):
        condition, words = sp.Eq(disc, 0), "중근을 가지려면 $D = 0$"
    elif re.search(r"서로\s*다른\s*두\s*실근", text):
        condition, words = sp.Gt(disc, 0), "서로 다른 두 실근을 가지려면 $D > 0$"
    elif re.search(r"허근|실근이\s*없|만나지\s*않", text):
        condition, words = sp.Lt(disc, 0), "실근이 없으려면(허근) $D < 0$"
    else:
        condition, words = sp.Ge(disc, 0), "실근을 가지려면 $D \\ge 0$"
    steps += [
        f"1. {inline(var)}에 대한 이차방정식이므로 판별식 $D = b^2 - 4ac$를 봅니다.",
        f"2. $D = ({latex(b)})^2 - 4 \\cdot {latex(a)} \\cdot {latex(c)} = {latex(disc)}$",
        f"3. {words}",
    ]
    if isinstance(condition, sp.Equality):
        answers = sp.solve(condition, parameter)
        result = ", ".join(latex(sp.Eq(parameter, r)) for r in answers)
        steps.append(f"4. {inline(condition)}을(를) 풀면 {roots_text(parameter, answers)}")
    else:
        solution = sp.solve_univariate_inequality(condition, parameter, relational=False)
        result = latex(solution)
        steps.append(f"4. 부등식 {inline(condition)}을(를) 풀면 {_interval_text(solution, parameter)}")
    if a.has(parameter):
        steps.append(f"\n이차항의 계수 {inline(a)}이(가) $0$이 아니어야 이차방정식이라는 조건도 함께 확인하세요.")
    return Worked("solve", "판별식과 근의 조건", "\n".join(steps), result, ("판별식", "이차방정식", "근의 판별"))


def system(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    symbols = sorted(set().union(*(e.free_symbols for e in exprs)), key=lambda s: s.name)
    shown = [f"${as_written(query, i)}$" for i in range(len(exprs))]
    steps = ["**주어진 연립방정식:** " + ", ".join(shown), ""]
    solutions = sp.solve(exprs, symbols, dict=True)
    linear = all(e.is_polynomial(*symbols) and sp.Poly(e, *symbols).total_degree() <= 1 for e in exprs)
    if len(exprs) == 2 and len(symbols) == 2 and linear:
        first, second = symbols
        isolated = sp.solve(exprs[0], second)
        if isolated:
            steps.append(f"1. 첫째 식을 {inline(second)}에 대해 정리하면 {inline(sp.Eq(second, isolated[0]))}")
            substituted = sp.expand(exprs[1].subs(second, isolated[0]))
            steps.append(f"2. 둘째 식에 대입하면 {inline(sp.Eq(substituted, 0))} (대입법)")
    if not solutions:
        steps.append("해가 없어요 (두 식이 모순이에요).")
        return Worked("system", "연립방정식 풀이", "\n".join(steps), r"\varnothing", ("연립방정식",))
    answer = ", ".join(", ".join(f"{latex(k)} = {latex(v)}" for k, v in sorted(s.items(), key=lambda kv: kv[0].name))
                       for s in solutions)
    steps.append(f"{len(steps) - 1}. 따라서 ${answer}$")
    if any(v.free_symbols for s in solutions for v in s.values()):
        steps.append("\n식의 개수가 미지수보다 적어 해가 무수히 많아요.")
    return Worked("system", "연립방정식 풀이", "\n".join(steps), answer, ("연립방정식", "대입법", "가감법"))


def _interval_text(solution: sp.Set, var: sp.Symbol) -> str:
    if isinstance(solution, sp.Union):
        return " 또는 ".join(_interval_text(part, var) for part in solution.args)
    if isinstance(solution, sp.Interval):
        less, less_equal = "<", r"\le"
        left_sign = less if solution.left_open else less_equal
        right_sign = less if solution.right_open else less_equal
        left = "" if solution.start == -sp.oo else f"{latex(solution.start)} {left_sign} "
        right = "" if solution.end == sp.oo else f" {right_sign} {latex(solution.end)}"
        if not left and not right:
            return "모든 실수"
        return f"${left}{latex(var)}{right}$"
    if solution == sp.S.Reals:
        return "모든 실수"
    if solution == sp.S.EmptySet:
        return "해 없음"
    return inline(solution)


def inequality(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    ops = {"<": sp.Lt, "<=": sp.Le, ">": sp.Gt, ">=": sp.Ge, "=": sp.Eq}
    solution: sp.Set = sp.S.Reals
    steps = ["**주어진 부등식:** " + ", ".join(f"${as_written(query, i)}$" for i in range(len(exprs))), ""]
    for expr, relation in zip(exprs, query.relations, strict=False):
        expr = sp.expand(expr)
        part = sp.solve_univariate_inequality(ops[relation](expr, 0), var, relational=False)
        if degree_in(expr, var) == 2:
            roots = sp.solve(expr, var)
            a = sp.Poly(expr, var).LC()
            if roots:
                steps.append(f"1. 먼저 {inline(sp.Eq(expr, 0))}의 근을 구하면 {roots_text(var, roots)}")
            else:
                steps.append(f"1. {inline(sp.Eq(expr, 0))}은(는) 실근이 없어요 (판별식 $D<0$).")
            steps.append(f"2. 이차항의 계수가 {'양수' if a > 0 else '음수'}이므로 그래프가 "
                         f"{'아래로' if a > 0 else '위로'} 볼록해요. 그래프가 x축의 위·아래 어디에 있는지 보면 됩니다.")
        solution = solution.intersect(part)
    steps.append(f"{'3' if len(steps) > 3 else '1'}. 따라서 해는 {_interval_text(solution, var)}")
    return Worked("inequality", "부등식 풀이", "\n".join(steps), latex(solution), ("부등식", "이차함수의 그래프"))


def factor(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    expr = sp.expand(exprs[0])
    factored = sp.factor(expr)
    steps = [f"**주어진 식:** {inline(expr)}", ""]
    if factored == expr:
        steps.append("유리수 계수의 범위에서는 더 이상 인수분해되지 않아요.")
        if degree_in(expr, var) == 2:
            roots = sp.solve(expr, var)
            a = sp.Poly(expr, var).LC()
            real_form = a * sp.Mul(*[(var - r) for r in roots], evaluate=False)
            steps.append(f"근의 공식으로 근을 구해 실수(또는 복소수) 범위로 넓히면 {inline(real_form)} 이에요.")
        return Worked("factor", "인수분해", "\n".join(steps), latex(expr), ("인수분해",))
    common = sp.gcd_terms(expr)
    if common != expr and common != factored:
        steps.append(f"1. 공통인수로 묶으면 {inline(common)}")
    steps.append(f"{'2' if len(steps) > 2 else '1'}. 인수분해하면 {inline(factored)}")
    steps += ["", f"**검산:** {inline(factored)}을(를) 전개하면 {inline(sp.expand(factored))}로 처음 식과 같아요. ✔"]
    return Worked("factor", "인수분해", "\n".join(steps), latex(factored), ("인수분해", "곱셈 공식"))


def expand(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    expr = exprs[0]
    expanded = sp.expand(expr)
    steps = [f"**주어진 식:** {inline(expr)}", "",
             f"1. 분배법칙과 곱셈 공식으로 괄호를 풀면 {inline(expanded)}",
             "2. 동류항끼리 모아 차수가 높은 항부터(내림차순) 정리했어요."]
    return Worked("expand", "다항식의 전개", "\n".join(steps), latex(expanded), ("전개", "곱셈 공식"))


def vertex(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    expr = sp.expand(exprs[0])
    a, b, c = sp.Poly(expr, var).all_coeffs()
    p = sp.nsimplify(-b / (2 * a))
    q = sp.simplify(c - b**2 / (4 * a))
    label = function_label(query, var)
    coefficient = {1: "", -1: "-"}.get(a, latex(a))  # type: ignore[call-overload]
    constant = f" + {latex(q)}" if q.is_positive else (f" - {latex(-q)}" if q.is_negative else "")
    standard = f"{coefficient}\\left({latex(var - p)}\\right)^2{constant}"
    roots = sp.solve(expr, var)
    real_roots = [r for r in roots if r.is_real]
    steps = [
        f"**주어진 함수:** ${label} = {latex(expr)}$",
        "",
        f"1. 완전제곱식으로 바꿉니다: ${label} = {standard}$ (표준형 $y = a(x-p)^2 + q$)",
        f"2. 꼭짓점은 $({latex(p)},\\ {latex(q)})$, 축의 방정식은 ${latex(var)} = {latex(p)}$",
        f"3. $a = {latex(a)} {'> 0' if a > 0 else '< 0'}$이므로 그래프는 {'아래로' if a > 0 else '위로'} 볼록하고, "
        f"{'최솟값' if a > 0 else '최댓값'}은 ${latex(q)}$ (${latex(var)} = {latex(p)}$일 때)",
        f"4. $y$절편: $(0,\\ {latex(c)})$",
    ]
    if real_roots:
        points = ", ".join(f"$({latex(r)},\\ 0)$" for r in sorted(set(real_roots), key=lambda r: float(sp.N(r))))
        steps.append(f"5. $x$절편: {points}")
    else:
        steps.append("5. 판별식이 음수라 $x$축과 만나지 않아요.")
    steps += ["", "**그래프 그리기:** 꼭짓점을 찍고, 축에 대해 대칭이 되도록 $y$절편과 그 대칭점을 찍은 뒤 "
              "볼록한 방향에 맞춰 포물선을 그립니다."]
    return Worked("vertex", "이차함수의 꼭짓점", "\n".join(steps), f"({latex(p)}, {latex(q)})",
                  ("이차함수", "꼭짓점", "완전제곱식", "축의 방정식"))


def evaluate_at(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    assert query.point is not None
    at = value(query.point[1])
    expr = exprs[0]
    result = sp.simplify(expr.subs(sp.Symbol(query.point[0]), at))
    label = function_label(query, var)
    steps = [f"**주어진 식:** ${label} = {latex(expr)}$", "",
             f"1. {inline(sp.Eq(sp.Symbol(query.point[0]), at))}을(를) 대입하면 ${latex(result)}$"]
    return Worked("evaluate", "함숫값 구하기", "\n".join(steps), latex(result), ("함숫값", "대입"))


def _real_roots(expr: sp.Expr) -> sp.Expr:
    """(-8)^(1/3) is -2 in the curriculum (the real cube root), not SymPy's principal root."""
    return expr.replace(
        lambda e: isinstance(e, sp.Pow) and e.exp.is_Rational and e.exp.q % 2 == 1 and e.base.is_negative,
        lambda e: sp.real_root(e.base, e.exp.q) ** e.exp.p,
    )


def evaluate(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    shown = parse(query.expressions[0], evaluate=False)
    expr = _real_roots(exprs[0]) if exprs[0].is_number else exprs[0]
    steps = [f"**계산할 식:** {inline(shown)}", ""]
    if expr.has(sp.zoo, sp.nan) or (expr.is_number and expr.is_finite is False):
        steps.append("1. 식 안에 $0$으로 나누는 부분(또는 정의되지 않는 값, 예: $\\log 0$, $\\tan\\dfrac{\\pi}{2}$)이 있어서 "
                     "값이 정의되지 않아요.")
        return Worked("evaluate", "값 계산", "\n".join(steps), r"\text{정의되지 않음}", ("정의역",))
    exact = sp.nsimplify(sp.simplify(expr)) if expr.is_number and expr.is_real else sp.simplify(expr)
    steps.append(f"1. 정확한 값: ${latex(exact)}$")
    if exact.is_number and not exact.is_rational and exact.is_finite:
        steps.append(f"2. 근삿값: ${latex(sp.N(exact, 6))}$")
    return Worked("evaluate", "값 계산", "\n".join(steps), latex(exact), ("계산",))


def simplify(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    expr = exprs[0]
    steps = [f"**주어진 식:** {inline(expr)}", ""]
    if expr.is_polynomial(*expr.free_symbols) and expr.free_symbols:
        expanded, factored = sp.expand(expr), sp.factor(expr)
        steps.append(f"1. 전개해 정리하면 {inline(expanded)}")
        if factored != expanded:
            steps.append(f"2. 인수분해하면 {inline(factored)}")
        if degree_in(expanded, var) == 2 and len(expr.free_symbols) == 1:
            roots = sp.solve(expanded, var)
            steps.append(f"3. 이 식이 $0$이 되는 값은 {roots_text(var, roots)}")
        return Worked("simplify", "식의 정리", "\n".join(steps), latex(factored), ("다항식", "인수분해"))
    simplified = sp.simplify(expr)
    steps.append(f"1. 약분하고 정리하면 {inline(simplified)}")
    return Worked("simplify", "식의 정리", "\n".join(steps), latex(simplified), ("식의 계산",))
