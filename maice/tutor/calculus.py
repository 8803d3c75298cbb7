"""Worked answers of calculus: derivatives, tangents, extrema, integrals and areas, limits."""

from __future__ import annotations

import re

import sympy as sp

from maice.tutor.mathexpr import MathQuery
from maice.tutor.solution import NON_ELEMENTARY, Worked, function_label, inline, roots_text, terms, tidy
from maice.tutor.symbolic import NotComputable, latex, value


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


def diff(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    expr = exprs[0]
    label = function_label(query, var)
    derivative = tidy(sp.diff(expr, var))
    prime = "y'" if label == "y" else label.replace("(", "'(", 1)
    steps = [f"**주어진 함수:** ${label} = {latex(expr)}$", ""]
    rules = _rules(expr, var)
    if rules:
        steps.append("1. 사용할 공식: " + ", ".join(rules))
    if isinstance(expr, sp.Add) and expr.is_polynomial(var):
        parts = [f"$({latex(t)})' = {latex(sp.diff(t, var))}$" for t in terms(expr, var)]
        steps.append("2. 항별로 미분하면 " + ", ".join(parts))
    steps.append(f"{len(steps) - 1}. 따라서 ${prime} = {latex(derivative)}$")
    result = f"{prime} = {latex(derivative)}"
    concepts = ["도함수", "미분법"]
    title = "도함수 구하기"
    if query.point:
        at = value(query.point[1])
        slope = sp.simplify(derivative.subs(var, at))
        steps.append(f"{len(steps) - 1}. {inline(sp.Eq(var, at))}을(를) 대입하면 미분계수는 "
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
        lines, result = extrema_steps(expr, derivative, var, start=len(steps) - 1)
        steps += lines
        concepts += ["극대·극소", "증가·감소"]
        title = "극값 구하기"
    return Worked("diff", title, "\n".join(steps), result, tuple(concepts))


def extrema_steps(expr: sp.Expr, derivative: sp.Expr, var: sp.Symbol, *, start: int) -> tuple[list[str], str]:
    """Steps to the local extrema, and the extrema as one LaTeX line (the result)."""
    critical = sorted((r for r in sp.solve(derivative, var) if r.is_real), key=lambda r: float(sp.N(r)))
    if not critical:
        sign = "증가" if derivative.subs(var, 0) > 0 else "감소"
        return [f"{start}. $f'(x) = 0$인 실수가 없으므로 극값이 없고, 함수는 항상 {sign}해요."], r"\text{극값 없음}"
    lines = [f"{start}. $f'({latex(var)}) = 0$에서 {roots_text(var, critical)}"]
    second = sp.diff(derivative, var)
    found: list[str] = []
    for point in critical:
        height = sp.simplify(expr.subs(var, point))
        curvature = second.subs(var, point)
        kind = "극소" if curvature.is_positive else "극대" if curvature.is_negative else ""
        if kind:
            found.append(f"\\text{{{kind}}}\\ ({latex(point)}, {latex(height)})")
            lines.append(f"- {inline(sp.Eq(var, point))}의 앞뒤에서 $f'$의 부호가 바뀌어 {kind}, 함숫값 ${latex(height)}$")
        else:
            lines.append(f"- {inline(sp.Eq(var, point))}에서는 $f'$의 부호가 바뀌는지 증감표로 확인해야 해요.")
    return lines, r",\ ".join(found) or r"\text{극값 없음}"


def integrate(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    expr = exprs[0]
    antiderivative = sp.integrate(expr, var)
    if antiderivative.has(sp.Integral, *NON_ELEMENTARY):
        raise NotComputable("no elementary antiderivative")
    steps = [f"**피적분함수:** {inline(expr)}", ""]
    if expr.is_polynomial(var):
        steps.append(r"1. 공식 $\displaystyle\int x^n\,dx = \dfrac{x^{n+1}}{n+1} + C\ (n \ne -1)$을 항별로 씁니다.")
        parts = [f"$\\int {latex(t)}\\,d{latex(var)} = {latex(sp.integrate(t, var))}$"
                 for t in terms(expr, var)]
        if len(parts) > 1:
            steps.append("2. " + ", ".join(parts))
    if not query.bounds:
        # The curriculum writes the antiderivative of 1/x as ln|x|.
        antiderivative = antiderivative.replace(sp.log, lambda arg: sp.log(sp.Abs(arg)))
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
            steps.append(f"{len(steps) - 1}. 그래프가 구간 안의 {', '.join(inline(r) for r in inside)}에서 x축과 만나므로, "
                         f"넓이는 구간을 나누어 절댓값을 더한 ${latex(area)}$예요.")
            result = latex(area)
        concepts.append("넓이")
    return Worked("integrate", "정적분 계산", "\n".join(steps), result, tuple(concepts))


def limit(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    expr = exprs[0]
    target_text, side = (query.approach[1], query.approach[2]) if query.approach else ("0", "")
    target = value(target_text)
    direction = side or ("+-" if target.is_finite else "+")
    try:
        result = sp.limit(expr, var, target) if not target.is_finite else sp.limit(expr, var, target, dir=direction)
    except ValueError:  # SymPy refuses a two-sided limit whose sides differ
        result = sp.nan
    side_text = {"+": "^{+}", "-": "^{-}"}.get(side, "")
    head = f"\\lim_{{{latex(var)} \\to {latex(target)}{side_text}}} {latex(expr)}"
    steps = [f"**구할 극한:** ${head}$", ""]
    direct = expr.subs(var, target) if target.is_finite else sp.nan
    numer, denom = sp.fraction(sp.together(expr))
    if target.is_finite and direct.is_finite and not direct.has(sp.zoo, sp.nan):
        steps.append(f"1. 함수가 {inline(sp.Eq(var, target))}에서 연속이므로 그대로 대입하면 ${latex(sp.simplify(direct))}$")
    elif target.is_finite and numer.subs(var, target) == 0 and denom.subs(var, target) == 0:
        steps.append(r"1. 그대로 대입하면 $\dfrac{0}{0}$ 꼴(부정형)이에요.")
        cancelled = sp.cancel(expr)
        if cancelled != expr and not cancelled.has(sp.sin, sp.cos, sp.tan):
            steps.append(f"2. 분자·분모를 인수분해해 공통인수를 약분하면 {inline(cancelled)}")
            steps.append(f"3. 이제 대입하면 ${latex(cancelled.subs(var, target))}$")
        elif expr.has(sp.sin, sp.tan):
            steps.append(r"2. 삼각함수의 기본 극한 $\displaystyle\lim_{x \to 0} \dfrac{\sin x}{x} = 1$을 이용합니다.")
        elif expr.has(sp.sqrt) or any(isinstance(p, sp.Pow) and p.exp == sp.Rational(1, 2)
                                      for p in sp.preorder_traversal(expr)):
            steps.append("2. 근호가 있는 쪽을 유리화(켤레식을 곱하기)하면 부정형이 풀립니다.")
    elif not target.is_finite and sp.fraction(sp.cancel(expr))[1].has(var):
        steps.append("1. $\\dfrac{\\infty}{\\infty}$ 꼴이면 분모의 최고차항으로 분자와 분모를 나누어 봅니다.")
    if result.has(sp.AccumBounds, sp.nan, sp.zoo):
        if target.is_finite and not side:
            left, right = (sp.limit(expr, var, target, dir=d) for d in ("-", "+"))
            steps.append(f"{len(steps) - 1}. 좌극한은 ${latex(left)}$, 우극한은 ${latex(right)}$로 서로 달라요.")
        else:
            steps.append(f"{len(steps) - 1}. 값이 한 값에 가까워지지 않고 진동해요.")
        steps.append("\n**답:** 극한값은 존재하지 않아요.")
        return Worked("limit", "함수의 극한", "\n".join(steps), r"\text{없음}", ("극한", "좌극한·우극한"))
    if result == sp.oo:
        steps.append(f"{len(steps) - 1}. 값이 한없이 커지므로 양의 무한대로 발산해요.")
    elif result == -sp.oo:
        steps.append(f"{len(steps) - 1}. 값이 한없이 작아지므로 음의 무한대로 발산해요.")
    steps.append(f"\n**답:** ${head} = {latex(result)}$")
    return Worked("limit", "함수의 극한", "\n".join(steps), latex(result), ("극한", "부정형"))


def graph(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    expr = exprs[0]
    derivative = sp.expand(sp.diff(expr, var))
    label = function_label(query, var)
    steps = [f"**주어진 함수:** ${label} = {latex(expr)}$", "",
             f"1. 도함수를 구하면 $f'({latex(var)}) = {latex(derivative)}$"]
    lines, extrema = extrema_steps(expr, derivative, var, start=2)
    steps += lines
    steps.append(f"\n$y$절편은 $(0,\\ {latex(expr.subs(var, 0))})$이고, 극값의 위치와 증가·감소를 이어 개형을 그립니다.")
    return Worked("graph", "그래프의 개형", "\n".join(steps), extrema, ("도함수", "극대·극소", "그래프의 개형"))


def series_sum(query: MathQuery, exprs: list[sp.Expr], var: sp.Symbol, text: str) -> Worked:
    assert query.summation is not None
    index = sp.Symbol(query.summation[0])
    first, last = value(query.summation[1]), value(query.summation[2])
    term = exprs[0]
    total = sp.factor(sp.summation(term, (index, first, last)))
    head = f"\\sum_{{{latex(index)}={latex(first)}}}^{{{latex(last)}}} {latex(term)}"
    steps = [f"**구할 합:** ${head}$", ""]
    formulas = {1: r"\sum_{k=1}^{n} k = \dfrac{n(n+1)}{2}", 2: r"\sum_{k=1}^{n} k^2 = \dfrac{n(n+1)(2n+1)}{6}",
                3: r"\sum_{k=1}^{n} k^3 = \left\{\dfrac{n(n+1)}{2}\right\}^2"}
    if term.is_polynomial(index):
        used = sorted({int(sp.degree(t, index)) for t in sp.Add.make_args(sp.expand(term))} & set(formulas))
        steps.append("1. 시그마의 성질로 항별로 나누고 공식을 씁니다: " + ", ".join(f"${formulas[d]}$" for d in used)
                     if used else "1. 상수의 합은 (상수)×(항의 개수)예요.")
    elif isinstance(term, sp.Pow) and not term.base.has(index):
        steps.append("1. 등비수열의 합 공식 $S_n = \\dfrac{a(r^n - 1)}{r - 1}$을 씁니다.")
    steps.append(f"{len(steps) - 1}. 계산하면 ${head} = {latex(total)}$")
    return Worked("sum", "수열의 합", "\n".join(steps), latex(total), ("수열의 합", "시그마"))
