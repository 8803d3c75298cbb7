"""Worked answers computed with SymPy: the results a student checks, and the steps shown."""

from __future__ import annotations

import pytest

from maice.tutor.worked import work

# (question, task, result in LaTeX, texts the worked steps must show)
TABLE: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("y = x² − 4x + 3의 꼭짓점", "vertex", "(2, -1)", (r"\left(x - 2\right)^2 - 1", "x = 2", "최솟값은 $-1$")),
    ("y=-2x^2+4x+1 그래프", "vertex", "(1, 3)", ("위로 볼록", "최댓값은 $3$")),
    ("y=2x^2-8x+5의 최솟값", "vertex", "(2, -3)", ("최솟값은 $-3$",)),
    ("x^2-5x+6=0을 풀어줘", "solve", "x = 2, x = 3", ("인수분해", "$x = 2$ 또는 $x = 3$")),
    ("3x² + 2x − 1 = 0 풀어줘", "solve", r"x = -1, x = \frac{1}{3}", ()),
    ("x^2+2x+5=0의 근", "solve", "x = -1 - 2 i, x = -1 + 2 i", ("D < 0", "허근")),
    ("x^2-4x+4=0", "solve", "x = 2", ("중근",)),
    ("x^2-2x-1=0", "solve", r"x = 1 - \sqrt{2}, x = 1 + \sqrt{2}", ("근의 공식", "D = b^2 - 4ac = 8")),
    ("2x+3=7", "solve", "x = 2", ("$2 x + 3 = 7$", "$2 x = 4$")),
    ("x^3-6x^2+11x-6=0", "solve", "x = 1, x = 2, x = 3", ("인수정리",)),
    ("x+y=3, x-y=1 연립방정식 풀어줘", "system", "x = 2, y = 1", ("대입법",)),
    ("x^2-3x+2<0을 풀어줘", "inequality", r"\left(1, 2\right)", ("$1 < x < 2$",)),
    ("x^2-1 인수분해", "factor", r"\left(x - 1\right) \left(x + 1\right)", ("검산",)),
    ("x^4-1을 인수분해", "factor", r"\left(x - 1\right) \left(x + 1\right) \left(x^{2} + 1\right)", ()),
    ("x^2+1 인수분해", "factor", "x^{2} + 1", ("더 이상 인수분해되지 않아요",)),
    ("(x+2)^3을 전개해줘", "expand", "x^{3} + 6 x^{2} + 12 x + 8", ()),
    ("f(x)=x^3-3x 미분", "diff", "f'(x) = 3 x^{2} - 3", (r"nx^{n-1}",)),
    ("d/dx x^3", "diff", "f'(x) = 3 x^{2}", ()),
    (r"\frac{1}{2}x^2 을 미분해줘", "diff", "f'(x) = x", ()),
    ("d/dx (x^2 sin x)", "diff", r"f'(x) = x^{2} \cos{\left(x \right)} + 2 x \sin{\left(x \right)}", ("곱의 미분법",)),
    ("e^x를 미분", "diff", "f'(x) = e^{x}", ()),
    ("x=1에서 f(x)=x^2+1의 미분계수", "diff", "2", ("f'(1) = 2",)),
    ("x=1에서 f(x)=x^3+2x의 접선의 방정식", "diff", "y = 5 x - 2", ("접점",)),
    ("f(x)=x^3-3x의 극값을 구해줘", "diff", r"\text{극대}\ (-1, 2),\ \text{극소}\ (1, -2)", ()),
    ("∫ x^2 dx", "integrate", r"\frac{x^{3}}{3} + C", ("적분상수",)),
    ("∫ (3x^2+2x) dx", "integrate", "x^{3} + x^{2} + C", ()),
    (r"$\int_0^1 x^2 dx$", "integrate", r"\frac{1}{3}", ("F(1) - F(0)",)),
    ("0부터 1까지 x^2 적분", "integrate", r"\frac{1}{3}", ()),
    ("0부터 2까지 y=x^2-1의 그래프와 x축 사이의 넓이", "integrate", "2", ("절댓값",)),
    ("lim x→0 sin x / x", "limit", "1", (r"\dfrac{0}{0}", r"\dfrac{\sin x}{x} = 1")),
    (r"$\lim_{x \to 0} \frac{\sin x}{x}$", "limit", "1", ()),
    ("x가 0으로 갈 때 sin x / x의 극한", "limit", "1", ()),
    ("lim x->2 (x^2-4)/(x-2)", "limit", "4", ("약분",)),
    (r"$\lim_{x \to \infty} \frac{2x^2+1}{x^2-3}$", "limit", "2", ("최고차항",)),
    ("lim x->0+ 1/x", "limit", r"\infty", ()),
    ("sin 30°의 값은?", "evaluate", r"\frac{1}{2}", ()),
    ("log₂8의 값은?", "evaluate", "3", ()),
    ("log_{3}(27) 계산", "evaluate", "3", ()),
    ("2^10 계산해줘", "evaluate", "1024", ()),
    ("√2 × √8", "evaluate", "4", ()),
    ("2^x = 8", "solve", "x = 3", ()),
    ("log_2 x = 3", "solve", "x = 8", ()),
    ("sin x = 1/2 풀어줘", "solve", r"x = \frac{\pi}{6}, x = \frac{5 \pi}{6}", ("일반해",)),
    ("x^2+4x+k=0이 중근을 가질 때 k의 값", "solve", "k = 4", ("D = 0", "16 - 4 k")),
    ("x^2-2x+k=0이 서로 다른 두 실근을 가질 때 k의 범위", "solve", r"\left(-\infty, 1\right)", ("D > 0",)),
    ("|x-1| < 2 풀어줘", "inequality", r"\left(-1, 3\right)", ("$-1 < x < 3$",)),
    ("f(x)=x^2+1일 때 f(3)의 값", "evaluate", "10", ()),
    ("₅C₂의 값", "evaluate", "10", ()),
    ("5P2 계산", "evaluate", "20", ()),
    ("∑_{k=1}^{10} k^2", "sum", "385", (r"\dfrac{n(n+1)(2n+1)}{6}",)),
    (r"$\sum_{k=1}^{n} (2k-1)$", "sum", "n^{2}", ()),
    ("sin^2 x + cos^2 x 간단히", "simplify", "1", ()),
    ("1/0 계산", "evaluate", r"\text{정의되지 않음}", ("$0$으로 나누는",)),
    ("(-8)^(1/3)", "evaluate", "-2", ()),
    ("lim x->0 1/x", "limit", r"\text{없음}", (r"좌극한은 $-\infty$", r"우극한은 $\infty$")),
    ("곡선 y=x^2 위의 점 (1,1)에서의 접선의 방정식", "diff", "y = 2 x - 1", ()),
    ("등차수열 3, 7, 11, ...의 일반항", "sequence", "a_n = 4 n - 1", ("공차 $d = 4$",)),
    ("첫째항이 2이고 공비가 3인 등비수열의 제5항", "sequence", "a_{5} = 162", ()),
    ("첫째항이 1이고 공차가 2인 등차수열의 첫째항부터 제10항까지의 합", "sequence", "S_{10} = 100", ()),
    ("벡터 a=(1,2), b=(3,4)의 내적", "vector", "11", ("|\\vec{a}| = \\sqrt{5}",)),
    ("원 x^2+y^2-2x+4y-4=0의 중심과 반지름", "circle", "(1, -2), r = 3", ()),
    ("y=2x+1의 기울기", "linear", "a = 2, b = 1", ("x$절편은 $- \\frac{1}{2}$",)),
    ("∫ 1/x dx", "integrate", r"\ln{\left(\left|{x}\right| \right)} + C", ()),
]


@pytest.mark.parametrize(("question", "task", "result", "shown"), TABLE, ids=[row[0] for row in TABLE])
def test_worked_answers(question: str, task: str, result: str, shown: tuple[str, ...]) -> None:
    worked = work(question)
    assert worked is not None
    assert (worked.task, worked.result) == (task, result)
    for text in shown:
        assert text in worked.markdown
    # Every formula is closed, so the page's renderer never runs LaTeX into the prose.
    assert worked.markdown.count("$") % 2 == 0


def test_the_table_covers_every_task_the_brief_names() -> None:
    assert len(TABLE) >= 40
    assert {"solve", "factor", "expand", "diff", "integrate", "vertex", "limit"} <= {row[1] for row in TABLE}


@pytest.mark.parametrize("question", ["이차함수의 그래프를 그리는 방법", "미분이 뭐야?", "", "K3 질문", "graph please"])
def test_no_expression_means_nothing_to_compute(question: str) -> None:
    assert work(question) is None
