"""Worked answers computed with SymPy, written as Korean Markdown with ``$…$`` LaTeX.

``work(question)`` reads the question's mathematics (``mathexpr``), picks the task the
Korean words ask for (풀어/인수분해/전개/미분/적분/꼭짓점/극한…) and writes the steps a
teacher would show. Runs in the sandbox's child process: only a ``Worked`` of strings
comes back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from maice.tutor import vocab
from maice.tutor.mathexpr import MathQuery, analyze
from maice.tutor.symbolic import NotComputable, latex, parse, value


@dataclass(frozen=True)
class Worked:
    task: str                      # solve, system, inequality, factor, expand, diff, integrate, limit, vertex, graph, evaluate, simplify
    title: str                     # a short Korean title ("이차방정식 풀이")
    markdown: str                  # the worked section
    result: str                    # the final result, LaTeX
    concepts: tuple[str, ...]      # key concepts used


def _m(expr: sp.Basic | str) -> str:
    return f"${expr if isinstance(expr, str) else latex(expr)}$"


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


def _task(text: str, query: MathQuery, degree: int | None) -> str:
    if query.approach or (vocab.LIMIT.search(text) and "극한" in text):
        return "limit"
    if query.integral or vocab.INTEGRATE.search(text):
        return "integrate"
    if query.derivative or vocab.DIFF.search(text) or re.search(r"극값|극댓값|극솟값|증가|감소", text):
        return "diff"
    if vocab.FACTOR.search(text):
        return "factor"
    if vocab.EXPAND.search(text):
        return "expand"
    relations = [r for r in query.relations if r]
    if len(query.expressions) > 1 and relations:
        return "inequality" if any(r != "=" for r in relations) else "system"
    if relations:
        return "inequality" if relations[0] != "=" else "solve"
    if query.function_name or vocab.VERTEX.search(text):
        if degree == 2:
            return "vertex"
        if query.point:
            return "evaluate_at"
        if degree is not None and degree >= 3:
            return "graph"
    if query.point:
        return "evaluate_at"
    if vocab.SOLVE.search(text) and re.search(r"해|근|풀", text):
        return "solve"
    if query.numeric:
        return "evaluate"
    return "simplify"


def _degree(expr: sp.Expr, var: sp.Symbol) -> int | None:
    if expr.is_polynomial(var) and expr.free_symbols <= {var}:
        return int(sp.degree(expr, var)) if expr.has(var) else 0
    return None


def work(question: str) -> Worked | None:
    """The worked answer, or None when the question holds nothing we can compute."""
    query = analyze(question)
    if not query.found:
        return None
    text = question
    exprs = [parse(e) for e in query.expressions]
    var = _pick_variable(exprs, query.variable or (query.approach[0] if query.approach else None))
    degree = _degree(exprs[0], var)
    task = _task(text, query, degree)
    handler = _HANDLERS[task]
    return handler(query, exprs, var, text)


def _function_label(query: MathQuery, var: sp.Symbol) -> str:
    if query.function_name and query.function_name != "y":
        return f"{query.function_name}({var})"
    return "y" if query.function_name == "y" else f"f({var})"


_RELATION_TEX = {"=": "=", "<": "<", "<=": r"\le", ">": ">", ">=": r"\ge"}


def _as_written(query: MathQuery, index: int) -> str:
    """The equation or inequality as the student wrote it, in LaTeX."""
    lhs, rhs = query.sides[index]
    return f"{latex(parse(lhs))} {_RELATION_TEX[query.relations[index]]} {latex(parse(rhs))}"


def _roots_text(var: sp.Symbol, roots: list[sp.Expr]) -> str:
    return " 또는 ".join(_m(sp.Eq(var, r)) for r in roots)


def _solve(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    expr = sp.expand(exprs[0])
    shown = _as_written(query, 0)
    degree = _degree(expr, var)
    steps: list[str] = [f"**주어진 방정식:** ${shown}$", ""]
    concepts: list[str] = []
    if degree == 1:
        a, b = sp.Poly(expr, var).all_coeffs()
        root = sp.nsimplify(-b / a)
        steps += [
            f"1. 모든 항을 좌변으로 모으면 {_m(sp.Eq(expr, 0))}",
            f"2. 상수항을 우변으로 이항하면 {_m(sp.Eq(a * var, -b))}",
            f"3. 양변을 {_m(a)}(으)로 나누면 {_m(sp.Eq(var, root))}",
            "",
            f"**검산:** {_m(sp.Eq(var, root))}을(를) 대입하면 좌변과 우변이 같아져요. ✔",
        ]
        return Worked("solve", "일차방정식 풀이", "\n".join(steps), latex(sp.Eq(var, root)), ("일차방정식", "이항"))
    if degree == 2:
        a, b, c = sp.Poly(expr, var).all_coeffs()
        disc = sp.simplify(b**2 - 4 * a * c)
        roots = sp.solve(expr, var)
        factored = sp.factor(expr)
        steps.append(f"1. 표준형으로 정리하면 {_m(sp.Eq(expr, 0))} ($a={latex(a)},\\ b={latex(b)},\\ c={latex(c)}$)")
        if all(r.is_rational for r in roots) and factored != expr:
            steps += [
                f"2. 좌변을 인수분해하면 {_m(sp.Eq(factored, 0))}",
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
            steps.append(f"4. $D < 0$이므로 실근은 없고, 서로 다른 두 허근 {_roots_text(var, roots)}을 가져요.")
            result_roots = roots
        elif disc == 0:
            steps.append(f"4. $D = 0$이므로 중근 {_m(sp.Eq(var, roots[0]))}을 가져요.")
            result_roots = roots
        else:
            steps.append(f"4. 따라서 해는 {_roots_text(var, roots)} 입니다.")
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
        steps.append(f"1. 인수정리(조립제법)로 좌변을 인수분해하면 {_m(sp.Eq(factored, 0))}")
        if not roots:
            numeric = [sp.N(r, 6) for r in sp.Poly(expr, var).nroots(n=6)]
            steps.append(f"2. 유리수 근이 없어 근삿값으로 구하면 {', '.join(_m(r) for r in numeric)}")
            return Worked("solve", f"{degree}차방정식 풀이", "\n".join(steps),
                          ", ".join(latex(r) for r in numeric), ("고차방정식", "인수정리"))
        listed = [f"{_m(sp.Eq(var, r))}" + (f" ({k}중근)" if k > 1 else "") for r, k in roots.items() if r in real]
        steps.append(f"2. 실근: {', '.join(listed) if listed else '없음'}")
        if others:
            steps.append(f"3. 허근: {', '.join(_m(sp.Eq(var, r)) for r in others)}")
        return Worked("solve", f"{degree}차방정식 풀이", "\n".join(steps),
                      ", ".join(latex(sp.Eq(var, r)) for r in roots), ("고차방정식", "인수정리"))
    solutions = sp.solveset(expr, var, domain=sp.S.Reals)
    steps.append(f"1. {_m(var)}에 대해 풀면 해집합은 {_m(solutions)}")
    if isinstance(solutions, sp.FiniteSet) and solutions:
        steps.append(f"2. 따라서 {_roots_text(var, sorted(solutions, key=lambda r: float(sp.N(r))))}")
    elif solutions == sp.S.EmptySet:
        steps.append("2. 실수 범위에서 해가 없어요.")
    else:
        steps.append("2. 주기가 있는 함수라 해가 무수히 많아요. 문제에 주어진 범위 안의 해만 고르면 됩니다.")
    return Worked("solve", "방정식 풀이", "\n".join(steps), latex(solutions), ("방정식",))


def _system(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    symbols = sorted(set().union(*(e.free_symbols for e in exprs)), key=lambda s: s.name)
    shown = [f"${_as_written(query, i)}$" for i in range(len(exprs))]
    steps = ["**주어진 연립방정식:** " + ", ".join(shown), ""]
    solutions = sp.solve(exprs, symbols, dict=True)
    linear = all(e.is_polynomial(*symbols) and sp.Poly(e, *symbols).total_degree() <= 1 for e in exprs)
    if len(exprs) == 2 and len(symbols) == 2 and linear:
        first, second = symbols
        isolated = sp.solve(exprs[0], second)
        if isolated:
            steps.append(f"1. 첫째 식을 {_m(second)}에 대해 정리하면 {_m(sp.Eq(second, isolated[0]))}")
            substituted = sp.expand(exprs[1].subs(second, isolated[0]))
            steps.append(f"2. 둘째 식에 대입하면 {_m(sp.Eq(substituted, 0))} (대입법)")
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
    return _m(solution)


def _inequality(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    ops = {"<": sp.Lt, "<=": sp.Le, ">": sp.Gt, ">=": sp.Ge, "=": sp.Eq}
    solution: sp.Set = sp.S.Reals
    steps = ["**주어진 부등식:** " + ", ".join(f"${_as_written(query, i)}$" for i in range(len(exprs))), ""]
    for expr, relation in zip(exprs, query.relations, strict=False):
        expr = sp.expand(expr)
        part = sp.solve_univariate_inequality(ops[relation](expr, 0), var, relational=False)
        if _degree(expr, var) == 2:
            roots = sp.solve(expr, var)
            a = sp.Poly(expr, var).LC()
            if roots:
                steps.append(f"1. 먼저 {_m(sp.Eq(expr, 0))}의 근을 구하면 {_roots_text(var, roots)}")
            else:
                steps.append(f"1. {_m(sp.Eq(expr, 0))}은(는) 실근이 없어요 (판별식 $D<0$).")
            steps.append(f"2. 이차항의 계수가 {'양수' if a > 0 else '음수'}이므로 그래프가 "
                         f"{'아래로' if a > 0 else '위로'} 볼록해요. 그래프가 x축의 위·아래 어디에 있는지 보면 됩니다.")
        solution = solution.intersect(part)
    steps.append(f"{'3' if len(steps) > 3 else '1'}. 따라서 해는 {_interval_text(solution, var)}")
    return Worked("inequality", "부등식 풀이", "\n".join(steps), latex(solution), ("부등식", "이차함수의 그래프"))


def _factor(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    expr = sp.expand(exprs[0])
    factored = sp.factor(expr)
    steps = [f"**주어진 식:** {_m(expr)}", ""]
    if factored == expr:
        steps.append("유리수 계수의 범위에서는 더 이상 인수분해되지 않아요.")
        if _degree(expr, var) == 2:
            roots = sp.solve(expr, var)
            a = sp.Poly(expr, var).LC()
            real_form = a * sp.Mul(*[(var - r) for r in roots], evaluate=False)
            steps.append(f"근의 공식으로 근을 구해 실수(또는 복소수) 범위로 넓히면 {_m(real_form)} 이에요.")
        return Worked("factor", "인수분해", "\n".join(steps), latex(expr), ("인수분해",))
    common = sp.gcd_terms(expr)
    if common != expr and common != factored:
        steps.append(f"1. 공통인수로 묶으면 {_m(common)}")
    steps.append(f"{'2' if len(steps) > 2 else '1'}. 인수분해하면 {_m(factored)}")
    steps += ["", f"**검산:** {_m(factored)}을(를) 전개하면 {_m(sp.expand(factored))}로 처음 식과 같아요. ✔"]
    return Worked("factor", "인수분해", "\n".join(steps), latex(factored), ("인수분해", "곱셈 공식"))


def _expand(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    expr = exprs[0]
    expanded = sp.expand(expr)
    steps = [f"**주어진 식:** {_m(expr)}", "",
             f"1. 분배법칙과 곱셈 공식으로 괄호를 풀면 {_m(expanded)}",
             "2. 동류항끼리 모아 차수가 높은 항부터(내림차순) 정리했어요."]
    return Worked("expand", "다항식의 전개", "\n".join(steps), latex(expanded), ("전개", "곱셈 공식"))


def _terms(expr: sp.Expr, var: sp.Symbol) -> list[sp.Expr]:
    """A polynomial's terms, highest degree first (as a teacher writes them)."""
    return sorted(sp.Add.make_args(sp.expand(expr)), key=lambda term: -sp.degree(term, var))


def _rules(expr: sp.Expr, var: sp.Symbol) -> list[str]:
    rules = []
    if expr.is_polynomial(var):
        rules.append(r"$\dfrac{d}{dx}x^n = nx^{n-1}$ (거듭제곱의 미분), 상수의 미분은 $0$")
        return rules
    terms = expr.args if isinstance(expr, sp.Add) else (expr,)
    for term in terms:
        numer, denom = sp.fraction(term)
        if denom.has(var):
            rules.append(r"몫의 미분법 $\left(\dfrac{f}{g}\right)' = \dfrac{f'g - fg'}{g^2}$")
        elif isinstance(term, sp.Mul) and sum(1 for f in term.args if f.has(var)) >= 2:
            rules.append(r"곱의 미분법 $(fg)' = f'g + fg'$")
        for sub in sp.preorder_traversal(term):
            if isinstance(sub, (sp.sin, sp.cos, sp.tan, sp.exp, sp.log, sp.Pow)) and sub.args[0] not in (var,) \
                    and sub.args[0].has(var) and not (isinstance(sub, sp.Pow) and sub.base == var):
                rules.append(r"합성함수의 미분법 $\{f(g(x))\}' = f'(g(x))\,g'(x)$")
                break
    known = {
        sp.sin: r"$(\sin x)' = \cos x$", sp.cos: r"$(\cos x)' = -\sin x$", sp.tan: r"$(\tan x)' = \sec^2 x$",
        sp.exp: r"$(e^x)' = e^x$", sp.log: r"$(\ln x)' = \dfrac{1}{x}$",
    }
    for function, rule in known.items():
        if expr.has(function):
            rules.append(rule)
    return list(dict.fromkeys(rules))


def _diff(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    expr = exprs[0]
    label = _function_label(query, var)
    derivative = sp.diff(expr, var)
    derivative = sp.expand(derivative) if derivative.is_polynomial(var) else sp.simplify(derivative)
    prime = "y'" if label == "y" else label.replace("(", "'(", 1)
    steps = [f"**주어진 함수:** ${label} = {latex(expr)}$", ""]
    rules = _rules(expr, var)
    if rules:
        steps.append("1. 사용할 공식: " + ", ".join(rules))
    if isinstance(expr, sp.Add) and expr.is_polynomial(var):
        parts = [f"$({latex(t)})' = {latex(sp.diff(t, var))}$" for t in _terms(expr, var)]
        steps.append("2. 항별로 미분하면 " + ", ".join(parts))
    steps.append(f"{len(steps) - 1}. 따라서 ${prime} = {latex(derivative)}$")
    result = f"{prime} = {latex(derivative)}"
    concepts = ["도함수", "미분법"]
    title = "도함수 구하기"
    if query.point:
        at = value(query.point[1])
        slope = sp.simplify(derivative.subs(var, at))
        steps.append(f"{len(steps) - 1}. {_m(sp.Eq(var, at))}을(를) 대입하면 미분계수는 "
                     f"${prime.replace(str(var), latex(at))} = {latex(slope)}$")
        result = latex(slope)
        title = "미분계수 구하기"
        concepts.append("미분계수")
        if "접선" in text:
            y0 = sp.simplify(expr.subs(var, at))
            line = sp.expand(slope * (var - at) + y0)
            steps.append(f"{len(steps) - 1}. 접점은 $({latex(at)}, {latex(y0)})$이므로 접선의 방정식은 "
                         f"$y = {latex(slope)}({latex(var)} - {latex(at)}) + {latex(y0)}$, 즉 $y = {latex(line)}$")
            result = f"y = {latex(line)}"
            title = "접선의 방정식"
            concepts.append("접선의 방정식")
    elif re.search(r"극값|극댓값|극솟값|극대|극소|증가|감소|그래프", text):
        steps += _extrema_steps(expr, derivative, var, label, start=len(steps) - 1)
        concepts += ["극대·극소", "증가·감소"]
        title = "극값 구하기"
    return Worked("diff", title, "\n".join(steps), result, tuple(concepts))


def _extrema_steps(expr: sp.Expr, derivative: sp.Expr, var: sp.Symbol, label: str, *, start: int) -> list[str]:
    critical = sorted((r for r in sp.solve(derivative, var) if r.is_real), key=lambda r: float(sp.N(r)))
    if not critical:
        sign = "증가" if derivative.subs(var, 0) > 0 else "감소"
        return [f"{start}. $f'(x) = 0$인 실수가 없으므로 극값이 없고, 함수는 항상 {sign}해요."]
    lines = [f"{start}. $f'({latex(var)}) = 0$에서 {_roots_text(var, critical)}"]
    second = sp.diff(derivative, var)
    for point in critical:
        height = sp.simplify(expr.subs(var, point))
        curvature = second.subs(var, point)
        if curvature.is_positive:
            kind = "극소"
        elif curvature.is_negative:
            kind = "극대"
        else:
            kind = "극값 아님(부호 변화 확인 필요)"
        lines.append(f"- {_m(sp.Eq(var, point))}에서 {kind}, 함숫값 ${latex(height)}$")
    return lines


def _integrate(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    expr = exprs[0]
    antiderivative = sp.integrate(expr, var)
    if antiderivative.has(sp.Integral):
        raise NotComputable("no elementary antiderivative")
    steps = [f"**피적분함수:** {_m(expr)}", ""]
    if expr.is_polynomial(var):
        steps.append(r"1. 공식 $\displaystyle\int x^n\,dx = \dfrac{x^{n+1}}{n+1} + C\ (n \ne -1)$을 항별로 씁니다.")
        parts = [f"$\\int {latex(t)}\\,d{latex(var)} = {latex(sp.integrate(t, var))}$"
                 for t in _terms(expr, var)]
        if len(parts) > 1:
            steps.append("2. " + ", ".join(parts))
    if not query.bounds:
        steps.append(f"{len(steps) - 1}. 따라서 $\\displaystyle\\int {latex(expr)}\\,d{latex(var)} = "
                     f"{latex(antiderivative)} + C$ ($C$는 적분상수)")
        steps.append("\n**검산:** 결과를 미분하면 처음 함수가 나와요. ✔")
        return Worked("integrate", "부정적분", "\n".join(steps), f"{latex(antiderivative)} + C",
                      ("부정적분", "적분상수"))
    low, high = (value(b) for b in query.bounds)
    total = sp.simplify(antiderivative.subs(var, high) - antiderivative.subs(var, low))
    steps.append(f"{len(steps) - 1}. 부정적분 $F({latex(var)}) = {latex(antiderivative)}$")
    steps.append(f"{len(steps) - 1}. $\\displaystyle\\int_{{{latex(low)}}}^{{{latex(high)}}} {latex(expr)}\\,d{latex(var)}"
                 f" = F({latex(high)}) - F({latex(low)}) = {latex(total)}$")
    result = latex(total)
    concepts = ["정적분", "미적분의 기본정리"]
    if "넓이" in text:
        inside = sorted((r for r in sp.solve(expr, var) if r.is_real and low < r < high), key=lambda r: float(r))
        if inside:
            points = [low, *inside, high]
            area = sum(abs(sp.integrate(expr, (var, a, b))) for a, b in zip(points, points[1:], strict=False))
            area = sp.simplify(area)
            steps.append(f"{len(steps) - 1}. 그래프가 구간 안의 {', '.join(_m(r) for r in inside)}에서 x축과 만나므로, "
                         f"넓이는 구간을 나누어 절댓값을 더한 ${latex(area)}$예요.")
            result = latex(area)
        concepts.append("넓이")
    return Worked("integrate", "정적분 계산", "\n".join(steps), result, tuple(concepts))


def _limit(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    expr = exprs[0]
    target_text, side = (query.approach[1], query.approach[2]) if query.approach else ("0", "")
    target = value(target_text)
    direction = side or ("+-" if target.is_finite else "+")
    if target in (sp.oo, -sp.oo):
        result = sp.limit(expr, var, target)
    else:
        result = sp.limit(expr, var, target, dir=direction)
    side_text = {"+": "^{+}", "-": "^{-}"}.get(side, "")
    head = f"\\lim_{{{latex(var)} \\to {latex(target)}{side_text}}} {latex(expr)}"
    steps = [f"**구할 극한:** ${head}$", ""]
    direct = expr.subs(var, target) if target.is_finite else sp.nan
    numer, denom = sp.fraction(sp.together(expr))
    if target.is_finite and direct.is_finite and not direct.has(sp.zoo, sp.nan):
        steps.append(f"1. 함수가 {_m(sp.Eq(var, target))}에서 연속이므로 그대로 대입하면 ${latex(sp.simplify(direct))}$")
    elif target.is_finite and numer.subs(var, target) == 0 and denom.subs(var, target) == 0:
        steps.append(r"1. 그대로 대입하면 $\dfrac{0}{0}$ 꼴(부정형)이에요.")
        cancelled = sp.cancel(expr)
        if cancelled != expr and not cancelled.has(sp.sin, sp.cos, sp.tan):
            steps.append(f"2. 분자·분모를 인수분해해 공통인수를 약분하면 {_m(cancelled)}")
            steps.append(f"3. 이제 대입하면 ${latex(cancelled.subs(var, target))}$")
        elif expr.has(sp.sin, sp.tan):
            steps.append(r"2. 삼각함수의 기본 극한 $\displaystyle\lim_{x \to 0} \dfrac{\sin x}{x} = 1$을 이용합니다.")
        elif expr.has(sp.sqrt) or any(isinstance(p, sp.Pow) and p.exp == sp.Rational(1, 2)
                                      for p in sp.preorder_traversal(expr)):
            steps.append("2. 근호가 있는 쪽을 유리화(켤레식을 곱하기)하면 부정형이 풀립니다.")
    elif not target.is_finite and sp.fraction(sp.cancel(expr))[1].has(var):
        steps.append("1. $\\dfrac{\\infty}{\\infty}$ 꼴이면 분모의 최고차항으로 분자와 분모를 나누어 봅니다.")
    answer = "존재하지 않아요" if result.has(sp.AccumBounds) or result is sp.nan else None
    if answer:
        steps.append(f"{len(steps) - 1}. 좌극한과 우극한이 다르거나 진동해서 극한값은 {answer}.")
        return Worked("limit", "함수의 극한", "\n".join(steps), r"\text{없음}", ("극한", "좌극한·우극한"))
    if result in (sp.oo, -sp.oo):
        steps.append(f"{len(steps) - 1}. 값이 한없이 {'커지므로' if result == sp.oo else '작아지므로'} "
                     f"양의 무한대로 발산해요." if result == sp.oo else f"{len(steps) - 1}. 음의 무한대로 발산해요.")
    steps.append(f"\n**답:** ${head} = {latex(result)}$")
    return Worked("limit", "함수의 극한", "\n".join(steps), latex(result), ("극한", "부정형"))


def _vertex(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    expr = sp.expand(exprs[0])
    a, b, c = sp.Poly(expr, var).all_coeffs()
    p = sp.nsimplify(-b / (2 * a))
    q = sp.simplify(c - b**2 / (4 * a))
    label = _function_label(query, var)
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


def _graph(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    expr = exprs[0]
    derivative = sp.expand(sp.diff(expr, var))
    label = _function_label(query, var)
    steps = [f"**주어진 함수:** ${label} = {latex(expr)}$", "",
             f"1. 도함수를 구하면 $f'({latex(var)}) = {latex(derivative)}$"]
    steps += _extrema_steps(expr, derivative, var, label, start=2)
    steps.append(f"\n$y$절편은 $(0,\\ {latex(expr.subs(var, 0))})$이고, 극값의 위치와 증가·감소를 이어 개형을 그립니다.")
    return Worked("graph", "그래프의 개형", "\n".join(steps), latex(derivative), ("도함수", "극대·극소", "그래프의 개형"))


def _evaluate_at(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    assert query.point is not None
    at = value(query.point[1])
    expr = exprs[0]
    result = sp.simplify(expr.subs(sp.Symbol(query.point[0]), at))
    label = _function_label(query, var)
    steps = [f"**주어진 식:** ${label} = {latex(expr)}$", "",
             f"1. {_m(sp.Eq(sp.Symbol(query.point[0]), at))}을(를) 대입하면 ${latex(result)}$"]
    return Worked("evaluate", "함숫값 구하기", "\n".join(steps), latex(result), ("함숫값", "대입"))


def _evaluate(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    expr = exprs[0]
    exact = sp.nsimplify(sp.simplify(expr)) if expr.is_number and expr.is_real else sp.simplify(expr)
    steps = [f"**계산할 식:** {_m(parse(query.expressions[0], evaluate=False))}", "", f"1. 정확한 값: ${latex(exact)}$"]
    if exact.is_number and not exact.is_rational and exact.is_finite:
        steps.append(f"2. 근삿값: ${latex(sp.N(exact, 6))}$")
    return Worked("evaluate", "값 계산", "\n".join(steps), latex(exact), ("계산",))


def _simplify(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    expr = exprs[0]
    steps = [f"**주어진 식:** {_m(expr)}", ""]
    if expr.is_polynomial(*expr.free_symbols) and expr.free_symbols:
        expanded, factored = sp.expand(expr), sp.factor(expr)
        steps.append(f"1. 전개해 정리하면 {_m(expanded)}")
        if factored != expanded:
            steps.append(f"2. 인수분해하면 {_m(factored)}")
        if _degree(expanded, var) == 2 and len(expr.free_symbols) == 1:
            roots = sp.solve(expanded, var)
            steps.append(f"3. 이 식이 $0$이 되는 값은 {_roots_text(var, roots)}")
        return Worked("simplify", "식의 정리", "\n".join(steps), latex(factored), ("다항식", "인수분해"))
    simplified = sp.simplify(expr)
    steps.append(f"1. 약분하고 정리하면 {_m(simplified)}")
    return Worked("simplify", "식의 정리", "\n".join(steps), latex(simplified), ("식의 계산",))


_HANDLERS = {
    "solve": _solve, "system": _system, "inequality": _inequality, "factor": _factor, "expand": _expand,
    "diff": _diff, "integrate": _integrate, "limit": _limit, "vertex": _vertex, "graph": _graph,
    "evaluate_at": _evaluate_at, "evaluate": _evaluate, "simplify": _simplify,
}
