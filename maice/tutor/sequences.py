"""Worked answers for arithmetic and geometric sequences: general term, a term, a partial sum."""

from __future__ import annotations

import sympy as sp

from maice.tutor.mathexpr import SequenceFacts
from maice.tutor.solution import Worked
from maice.tutor.symbolic import NotComputable, latex, value

N = sp.Symbol("n")


def _kind(facts: SequenceFacts, terms: list[sp.Expr]) -> str:
    if facts.kind:
        return facts.kind
    if len(terms) >= 3:
        differences = {sp.simplify(b - a) for a, b in zip(terms, terms[1:], strict=False)}
        if len(differences) == 1:
            return "arithmetic"
        if 0 not in terms and len({sp.simplify(b / a) for a, b in zip(terms, terms[1:], strict=False)}) == 1:
            return "geometric"
    raise NotComputable("neither arithmetic nor geometric")


def sequence(facts: SequenceFacts) -> Worked:
    terms = [value(t) for t in facts.terms]
    kind = _kind(facts, terms)
    first = value(facts.first) if facts.first else terms[0] if terms else None
    if first is None:
        raise NotComputable("no first term")
    steps: list[str] = []
    if terms:
        steps.append(f"**주어진 수열:** ${', '.join(latex(t) for t in terms)}, \\dots$")
        steps.append("")
    if kind == "arithmetic":
        step = value(facts.difference) if facts.difference else sp.simplify(terms[1] - terms[0])
        general = sp.expand(first + (N - 1) * step)
        steps.append(f"1. 등차수열이에요: 첫째항 $a = {latex(first)}$, 공차 $d = {latex(step)}$"
                     + (" (이웃한 두 항의 차)" if terms and not facts.difference else ""))
        steps.append(f"2. 일반항 $a_n = a + (n-1)d = {latex(first)} + (n-1) \\cdot {latex(step)} = {latex(general)}$")
        partial = sp.factor(N * (2 * first + (N - 1) * step) / 2)
        sum_formula = r"S_n = \dfrac{n\{2a + (n-1)d\}}{2}"
        title, concepts = "등차수열", ("등차수열", "일반항", "공차")
    else:
        step = value(facts.ratio) if facts.ratio else sp.simplify(terms[1] / terms[0])
        general = first * step ** (N - 1)
        steps.append(f"1. 등비수열이에요: 첫째항 $a = {latex(first)}$, 공비 $r = {latex(step)}$"
                     + (" (이웃한 두 항의 비)" if terms and not facts.ratio else ""))
        steps.append(f"2. 일반항 $a_n = ar^{{n-1}} = {latex(general)}$")
        partial = sp.simplify(first * (step**N - 1) / (step - 1)) if step != 1 else first * N
        sum_formula = r"S_n = \dfrac{a(r^n - 1)}{r - 1}"
        title, concepts = "등비수열", ("등비수열", "일반항", "공비")
    result = f"a_n = {latex(general)}"
    if facts.nth:
        n = int(facts.nth)
        term = sp.simplify(general.subs(N, n))
        steps.append(f"3. $n = {n}$을 대입하면 $a_{{{n}}} = {latex(term)}$")
        result = f"a_{{{n}}} = {latex(term)}"
        if facts.wants_sum:
            total = sp.simplify(partial.subs(N, n))
            steps.append(f"4. 합 공식 ${sum_formula}$에서 $S_{{{n}}} = {latex(total)}$")
            result = f"S_{{{n}}} = {latex(total)}"
    elif facts.wants_sum:
        steps.append(f"3. 합 공식 ${sum_formula}$로 $S_n = {latex(partial)}$")
        result = f"S_n = {latex(partial)}"
    return Worked("sequence", f"{title}의 일반항", "\n".join(steps), result, concepts)
