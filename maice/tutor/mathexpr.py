"""Find the mathematics in a Korean question and turn it into text SymPy's parser accepts.

Only strings leave this module: ``MathQuery`` holds normalised, whitelisted expression
text (letters are variables or known function names, nothing else), so parsing it later
can never reach arbitrary Python. No SymPy import here: classification stays fast.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_QUESTION_CHARS = 4000
MAX_EXPRESSION_CHARS = 200

_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁽⁾ⁿˣ", "0123456789+-()nx")
_SUBSCRIPTS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
_SUPER_RUN = re.compile(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁽⁾ⁿˣ]+")
_SUB_RUN = re.compile(r"[₀₁₂₃₄₅₆₇₈₉]+")
_SYMBOLS = {
    "−": "-", "–": "-", "—": "-", "‐": "-", "‑": "-", "﹣": "-", "×": "*", "✕": "*", "·": "*", "⋅": "*", "∙": "*",
    "÷": "/", "⁄": "/", "∕": "/", "π": "pi", "∞": "oo", "→": "->", "⟶": "->", "⇒": "->", "≤": "<=", "≦": "<=",
    "≥": ">=", "≧": ">=", "≠": "!=", "θ": "theta", "α": "alpha", "β": "beta", "∫": " int ", "√": "sqrt",
    "∑": " sum ", "Σ": " sum ", "＝": "=", "（": "(", "）": ")", "［": "(", "］": ")", "｛": "(", "｝": ")",
    "′": "'", "’": "'", "‘": "'", "“": '"', "”": '"',
}
_SYMBOL_RE = re.compile("|".join(re.escape(k) for k in _SYMBOLS))

_LATEX_WORDS = {
    r"\cdot": "*", r"\times": "*", r"\div": "/", r"\pi": "pi", r"\infty": "oo", r"\to": "->", r"\rightarrow": "->",
    r"\leq": "<=", r"\le": "<=", r"\geq": ">=", r"\ge": ">=", r"\neq": "!=", r"\ne": "!=", r"\theta": "theta",
    r"\alpha": "alpha", r"\beta": "beta", r"\int": " int ", r"\lim": " lim ", r"\ln": "ln", r"\log": "log",
    r"\sin": "sin", r"\cos": "cos", r"\tan": "tan", r"\left": "", r"\right": "", r"\displaystyle": "",
    r"\mathrm": "", r"\,": " ", r"\;": " ", r"\!": "", r"\quad": " ", r"\qquad": " ", r"\sum": " sum ",
}
_LATEX_WORD_RE = re.compile("|".join(re.escape(k) + (r"(?![a-zA-Z])" if k[-1].isalpha() else "")
                                     for k in sorted(_LATEX_WORDS, key=len, reverse=True)))

# Function and constant names an expression may use; every other letter is a variable.
FUNCTIONS = ("sqrt", "sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp", "abs", "binomial", "ff")
CONSTANTS = ("theta", "alpha", "beta", "pi", "oo")
_NAMES = sorted(FUNCTIONS + CONSTANTS, key=len, reverse=True)

_BLANKS = re.compile(r"\s{2,}")
_ALLOWED = re.compile(r"^[0-9a-zA-Z+\-*/^().,<>=!| ']+$")
# ASCII runs of a Korean sentence that may hold mathematics.
_RUN = re.compile(r"[0-9A-Za-z+\-*/^().,<>=!|' ]+")
_POINT = re.compile(r"([a-z])\s*=\s*(-?\s*[0-9.]{1,20}(?:\s*/\s*[0-9]{1,20})?|-?pi(?:\s*/\s*[0-9]{1,20})?)\s*(?:에서|일\s*때|일때|인\s*점|인\s*곳)")
_BOUNDS = re.compile(
    r"(-?[0-9.]{1,20}|-?pi)\s*(?:부터|에서)\s*(-?[0-9.]{1,20}|-?pi)\s*까지"
)
_INT_BOUNDS = re.compile(r"int\s*_\s*\(?\s*(-?[0-9a-z.]+)\s*\)?\s*\^\s*\(?\s*(-?[0-9a-z.]+)\s*\)?")
# (The integrand is bounded: from every "int" an unbounded one scans to the question's end.)
_INTEGRAL = re.compile(r"int\b\s*(.{1,300}?)\s*d\s*([a-z])(?![a-z(])")
_APPROACH = re.compile(r"([a-z])\s*->\s*(-?\s*oo|-?\s*[0-9.]{1,20}(?:\s*/\s*[0-9]{1,20})?|-?pi)\s*([+-](?=\s|$|\)))?")
_KOREAN_APPROACH = re.compile(
    r"([a-z])\s?(?:가|이|의\s?값이)?\s?(-?\s?[0-9.]{1,20}|양의\s?무한대|음의\s?무한대|무한대|oo|-oo)\s?(?:으로|로|에)\s?"
    r"(?:한없이\s*)?(?:갈|다가갈|가까워질|접근할)\s*(?:때|경우)"
)
_DDX = re.compile(r"d\s*/\s*d\s*([a-z])\s*")
_LOG_BASE = re.compile(r"log\s*_\s*\(?\s*([0-9]{1,20}|[a-z])\s*\)?\s*(\([^()]*\)|[0-9.]{1,20}|[a-z])")
_DEGREES = re.compile(r"((?:sin|cos|tan)\s*\(?\s*)(-?[0-9]{1,20}(?:\.[0-9]{1,20})?)\s*(?:°|º|도(?![가-힣]*함수))")
# ₅C₂ (→ _5C_2), 5C2, {}_5P_2 and 중복조합 5H2.
_COMBINATORICS = re.compile(r"(?:\(\s*\))?_?\(?([0-9]{1,20})\)?\s*([CPH])\s*_?\(?([0-9]{1,20})\)?(?![0-9])")
_ABS_BARS = re.compile(r"\|([^|]+)\|")
_SUM = re.compile(r"sum\s*_\s*\(?\s*([a-z])\s*=\s*(-?[0-9]{1,20})\s*\)?\s*\^\s*\(?\s*([0-9]{1,20}|[a-z])\s*\)?")
_KOREAN_SUM = re.compile(r"([a-z])\s*=\s*(-?[0-9]{1,20})\s*부터\s*([0-9]{1,20}|[a-z])\s*까지")
_CALL = re.compile(r"(?<![A-Za-z])([fgh])\s*\(\s*(-?\s*[0-9]{1,20}(?:\.[0-9]{1,20})?(?:\s*/\s*[0-9]{1,20})?)\s*\)")
# (Bounded digit runs: a long run of digits backtracks through every split otherwise.)
_NUMBER = r"-?[0-9]{1,20}(?:\.[0-9]{1,20})?(?:\s*/\s*[0-9]{1,20})?"
_LISTED_TERMS = re.compile(rf"({_NUMBER}(?:\s*,\s*{_NUMBER}){{2,}})\s*,\s*(?:\.\.\.|⋯|…)")
_FIRST_TERM = re.compile(rf"(?:첫째\s*항|첫\s*항|초항)\s*(?:이|은|을|:|=)?\s*({_NUMBER})|a_?\(?1\)?\s*=\s*({_NUMBER})")
_DIFFERENCE = re.compile(rf"공차\s*(?:가|는|:|=)?\s*({_NUMBER})")
_RATIO = re.compile(rf"공비\s*(?:가|는|:|=)?\s*({_NUMBER})")
_NTH = re.compile(r"제\s*([0-9]{1,20})\s*항|([0-9]{1,20})\s*번째\s*항|a_?\(?([0-9]{1,20})\)?(?!\s*=)")
_VECTOR = re.compile(rf"([a-z])\s*=\s*\(\s*({_NUMBER})\s*,\s*({_NUMBER})(?:\s*,\s*({_NUMBER}))?\s*\)")
_COORDINATE_POINT = re.compile(rf"점\s*\(\s*({_NUMBER})\s*,\s*({_NUMBER})\s*\)")
_LHS_FUNCTION = re.compile(r"^\s*(?:([a-z])\s*\(\s*([a-z])\s*\)|(y))\s*=\s*(?!.*=)")
_RELATION = re.compile(r"<=|>=|!=|=|<|>")


@dataclass(frozen=True)
class SequenceFacts:
    """What a sequence question gives: listed terms, first term, difference or ratio, the term asked."""

    kind: str | None = None               # "arithmetic" | "geometric" | None (decided from the terms)
    terms: tuple[str, ...] = ()
    first: str | None = None
    difference: str | None = None
    ratio: str | None = None
    nth: str | None = None                # "5" for 제5항
    wants_sum: bool = False


@dataclass(frozen=True)
class MathQuery:
    """What a question asks about, as whitelisted expression text."""

    expressions: tuple[str, ...] = ()     # one per equation/expression, already ``lhs - (rhs)`` or plain
    relations: tuple[str, ...] = ()       # '=', '<', … per expression, '' for a plain expression
    shown: tuple[str, ...] = ()           # as the student wrote it (normalised)
    sides: tuple[tuple[str, str], ...] = ()  # (lhs, rhs) parsable, per expression ("", "") for a plain one
    function_name: str | None = None      # "y" or "f" when written as ``y = …`` / ``f(x) = …``
    variable: str | None = None
    point: tuple[str, str] | None = None          # (variable, value) from "x=1에서"
    bounds: tuple[str, str] | None = None         # definite integral
    approach: tuple[str, str, str] | None = None  # (variable, target, side) of a limit
    summation: tuple[str, str, str] | None = None  # (index, first, last) of a ∑
    sequence: SequenceFacts | None = None
    vectors: tuple[tuple[str, tuple[str, ...]], ...] = ()  # ("a", ("1", "2")) from "a=(1,2)"
    integral: bool = False
    derivative: bool = False

    @property
    def found(self) -> bool:
        return bool(self.expressions or self.sequence or self.vectors)

    @property
    def numeric(self) -> bool:
        """No variables: a value to compute (``sin (30*pi/180)``, ``log (8, 2)``)."""
        names = {t for e in self.expressions for t in e.split() if t[0].isalpha()}
        return not (names - _PARSER_FUNCTIONS - {"pi", "E"})


def _strip_braces(text: str, start: int) -> tuple[str, int]:
    """The contents of the ``{…}`` group at ``start`` and the index after it."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1:index], index + 1
    return text[start + 1:], len(text)


def _latex(text: str) -> str:
    r"""Rewrite the LaTeX a student may paste (\frac, \sqrt, ^{…}, \int_a^b, \lim_{x\to0})."""
    text = text.replace("$", " ")
    out: list[str] = []
    index = 0
    while index < len(text):
        for command, arity in ((r"\dfrac", 2), (r"\tfrac", 2), (r"\frac", 2), (r"\sqrt", 1)):
            if text.startswith(command, index):
                index += len(command)
                root = None
                if command == r"\sqrt" and index < len(text) and text[index] == "[":
                    close = text.find("]", index)
                    if close > 0:
                        root, index = text[index + 1:close], close + 1
                groups = []
                for _ in range(arity):
                    while index < len(text) and text[index] == " ":
                        index += 1
                    if index < len(text) and text[index] == "{":
                        group, index = _strip_braces(text, index)
                    else:
                        group, index = text[index:index + 1], index + 1
                    groups.append(_latex(group))
                if arity == 2:
                    out.append(f"(({groups[0]})/({groups[1]}))")
                elif root:
                    out.append(f"(({groups[0]})^(1/({root})))")
                else:
                    out.append(f"sqrt({groups[0]})")
                break
        else:
            out.append(text[index])
            index += 1
    result = _LATEX_WORD_RE.sub(lambda m: _LATEX_WORDS[m.group(0)], "".join(out))
    return result.replace("{", "(").replace("}", ")").replace("\\", " ")


def normalize(text: str) -> str:
    """Unicode and LaTeX forms → plain ASCII maths; the Korean words stay as they are."""
    text = _SUPER_RUN.sub(lambda m: "^(" + m.group(0).translate(_SUPERSCRIPTS) + ")", text)
    text = _SUB_RUN.sub(lambda m: "_" + m.group(0).translate(_SUBSCRIPTS), text)
    text = _SYMBOL_RE.sub(lambda m: _SYMBOLS[m.group(0)], text)
    text = unicodedata.normalize("NFKC", text)
    text = _SYMBOL_RE.sub(lambda m: _SYMBOLS[m.group(0)], text)
    # One space (or line break) per run: the patterns' chains of \s* backtrack cubically on
    # a long run of blanks (minutes for a 4000-character question).
    text = _BLANKS.sub(lambda m: "\n" if "\n" in m.group(0) else " ", text)
    if "\\" in text:
        text = _latex(text)
    text = text.replace("{", "(").replace("}", ")")
    text = _DEGREES.sub(lambda m: f"{m.group(1)}({m.group(2)}*pi/180)", text)
    text = _LOG_BASE.sub(lambda m: f"log({m.group(2)}, {m.group(1)})", text)
    text = _COMBINATORICS.sub(_combinatorics, text)
    return text


def _combinatorics(match: re.Match[str]) -> str:
    n, kind, r = match.group(1), match.group(2), match.group(3)
    if kind == "C":
        return f"binomial({n}, {r})"
    if kind == "P":
        return f"ff({n}, {r})"
    return f"binomial({n} + {r} - 1, {r})"  # H: combinations with repetition


def _split_identifier(word: str) -> list[str] | None:
    """``sinx`` → [sin, x], ``xy`` → [x, y]; None for an English word (not maths)."""
    if word in _NAMES:
        return [word]
    parts: list[str] = []
    index = 0
    singles = 0
    while index < len(word):
        name = next((n for n in _NAMES if word.startswith(n, index)), None)
        if name:
            parts.append(name)
            index += len(name)
        else:
            parts.append(word[index])
            index += 1
            singles += 1
    # "xy" or "abc" are products of variables; "solve" or "graph" are words.
    if singles > 3 or (singles == len(word) and len(word) > 3):
        return None
    return parts


def to_parsable(text: str, *, imaginary: bool = False) -> str | None:
    """Whitelisted text for SymPy's parser, or None when it is not an expression."""
    text = text.strip().strip(".,")
    if not text or len(text) > MAX_EXPRESSION_CHARS or not _ALLOWED.match(text):
        return None
    if re.search(r"[0-9]{16,}", text):
        return None
    text = _ABS_BARS.sub(lambda m: f"abs({m.group(1)})", text)
    if "|" in text or "'" in text or "!=" in text:
        return None
    tokens: list[str] = []
    for piece in re.finditer(r"[A-Za-z]+|[0-9]{1,20}(?:\.[0-9]{1,20})?|\*\*|[+\-*/^(),!]|\s+|.", text):
        token = piece.group(0)
        if token.isspace():
            continue
        if token[0].isalpha():
            parts = _split_identifier(token.lower() if token.lower() in _NAMES else token)
            if parts is None:
                return None
            for part in parts:
                if part == "ln":
                    part = "log"
                elif part == "abs":
                    part = "Abs"
                elif part == "e":
                    part = "E"
                elif part == "i" and imaginary:
                    part = "I"
                elif part in ("I", "E"):
                    # SymPy's own i and e; a student's capital I or E names a point, a set or an event.
                    return None
                tokens.append(part)
        elif token in "+-*/^(),!" or token == "**" or token[0].isdigit():
            tokens.append(token)
        else:
            return None
    if not tokens or not any(t[0].isalnum() for t in tokens) or not _commas_in_calls(tokens):
        return None
    return re.sub(r"\s+!", "!", " ".join(_bracket_arguments(tokens)))


def _commas_in_calls(tokens: list[str]) -> bool:
    """Balanced parentheses, and commas only between a two-argument call's arguments:
    ``log(8, 2)`` is an expression, ``(1, 1)`` is a point."""
    calls: list[bool] = []
    for index, token in enumerate(tokens):
        if token == "(":
            calls.append(index > 0 and tokens[index - 1] in ("log", "binomial", "ff"))
        elif token == ")":
            if not calls:
                return False
            calls.pop()
        elif token == "," and not (calls and calls[-1]):
            return False
    return not calls


_PARSER_FUNCTIONS = frozenset({"sqrt", "sin", "cos", "tan", "cot", "sec", "csc", "log", "exp", "Abs", "binomial", "ff"})


def _is_variable(token: str) -> bool:
    return token.isalpha() and token not in _PARSER_FUNCTIONS


def _bracket_arguments(tokens: list[str]) -> list[str]:
    """``sin x cos x`` → ``sin(x) cos(x)``, ``sin 2x`` → ``sin(2x)``, ``sin^2 x`` → ``(sin(x))^2``.

    SymPy's implicit application would read ``sin x cos x`` as ``sin(x cos x)``: a function
    written without parentheses takes only the next number-and-letters atom (and its power).
    """
    out: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token not in _PARSER_FUNCTIONS or index + 1 >= len(tokens) or tokens[index + 1] == "(":
            out.append(token)
            index += 1
            continue
        power: list[str] = []
        cursor = index + 1
        if tokens[cursor] == "^" and cursor + 2 < len(tokens) and tokens[cursor + 1][0].isdigit():
            power = ["^", tokens[cursor + 1]]
            cursor += 2
        start = cursor
        if cursor < len(tokens) and tokens[cursor][0].isdigit():
            cursor += 1
        while cursor < len(tokens) and _is_variable(tokens[cursor]):
            cursor += 1
        if cursor + 1 < len(tokens) and cursor > start and tokens[cursor] == "^" and tokens[cursor + 1][0].isalnum():
            cursor += 2
        if cursor == start:  # "sin (" handled above; anything else stays as written
            out.append(token)
            index += 1
            continue
        argument = _bracket_arguments(tokens[start:cursor])
        call = [token, "(", *argument, ")"]
        out.extend(["(", *call, ")", *power] if power else call)
        index = cursor
    return out


def _has_math(run: str) -> bool:
    run = run.strip()
    if len(run) < 1:
        return False
    letters = re.findall(r"[A-Za-z]+", run)
    has_operator = bool(re.search(r"[+\-*/^=<>()!]|sqrt|sin|cos|tan|log|ln|oo", run))
    has_digit = bool(re.search(r"[0-9]", run))
    if not letters and not has_digit:
        return False
    # "2x" and "x^2" are maths; "x" alone is a variable's name, "K3", "A4" or "1" (1등급) are not.
    return has_operator or bool(re.search(r"[0-9][a-z]", run))


def _sequence(text: str) -> tuple[SequenceFacts | None, str]:
    """The facts of a sequence question, and the text without them."""
    if not re.search(r"수열|등차|등비|공차|공비|첫째\s*항|초항|일반항|제\s*[0-9]{1,20}\s*항|번째\s*항", text):
        return None, text
    facts: dict[str, object] = {}
    if match := _LISTED_TERMS.search(text):
        facts["terms"] = tuple(t.replace(" ", "") for t in match.group(1).split(","))
        text = text[:match.start()] + " " + text[match.end():]
    for key, pattern in (("first", _FIRST_TERM), ("difference", _DIFFERENCE), ("ratio", _RATIO)):
        if match := pattern.search(text):
            facts[key] = next(g for g in match.groups() if g).replace(" ", "")
            text = text[:match.start()] + " " + text[match.end():]
    if match := _NTH.search(text):
        facts["nth"] = next(g for g in match.groups() if g)
        text = text[:match.start()] + " " + text[match.end():]
    kind = "arithmetic" if re.search(r"등차|공차", text) or "difference" in facts else (
        "geometric" if re.search(r"등비|공비", text) or "ratio" in facts else None)
    if not facts.get("terms") and not facts.get("first"):
        return None, text
    wants_sum = bool(re.search(r"합|S_?n", text))
    return SequenceFacts(kind=kind, wants_sum=wants_sum, **facts), text  # type: ignore[arg-type]


def analyze(question: str) -> MathQuery:
    """The expressions, equations and calculus notation a question holds."""
    text = normalize(question[:MAX_QUESTION_CHARS])
    imaginary = bool(re.search(r"복소수|허수|허근|\bi\s*\^\s*2|\bi\^", text))
    point = bounds = approach = None
    integral = derivative = False

    sequence, text = _sequence(text)
    vectors: list[tuple[str, tuple[str, ...]]] = []
    if re.search(r"벡터|내적", text):
        for vector in _VECTOR.finditer(text):
            vectors.append((vector.group(1), tuple(g.replace(" ", "") for g in vector.groups()[1:] if g)))
        text = _VECTOR.sub(" ", text)
    if match := _COORDINATE_POINT.search(text):
        point = ("x", match.group(1).replace(" ", ""))
        text = text[:match.start()] + " " + text[match.end():]
    summation = None
    if match := (_SUM.search(text) or _KOREAN_SUM.search(text)):
        summation = (match.group(1), match.group(2), match.group(3))
        text = text[:match.start()] + " " + text[match.end():]
    text = re.sub(r"\bsum\b", " ", text)
    for call in _CALL.finditer(text):
        definition = re.search(rf"(?<![A-Za-z]){call.group(1)}\s*\(\s*([a-z])\s*\)\s*=", text)
        if definition and point is None:
            # f(3) of a function defined in the question: its value at 3.
            point = (definition.group(1), call.group(2).replace(" ", ""))
            text = text[:call.start()] + " " * (call.end() - call.start()) + text[call.end():]
    if match := _BOUNDS.search(text):
        bounds = (match.group(1), match.group(2))
        text = text[:match.start()] + " " + text[match.end():]
    if match := _INT_BOUNDS.search(text):
        bounds = (match.group(1), match.group(2))
        text = text[:match.start()] + " int " + text[match.end():]
    if match := _KOREAN_APPROACH.search(text):
        target = match.group(2).replace(" ", "")
        target = {"양의무한대": "oo", "무한대": "oo", "음의무한대": "-oo"}.get(target, target)
        approach = (match.group(1), target, "")
        text = text[:match.start()] + " " + text[match.end():]
    if match := _APPROACH.search(text):
        approach = (match.group(1), match.group(2).replace(" ", ""), match.group(3) or "")
        text = text[:match.start()] + " " + text[match.end():]
        text = re.sub(r"lim\s*_?\s*\(\s*\)", " ", text)
    text = re.sub(r"\blim\b\s*_?", " ", text)
    point_match = _POINT.search(text) if point is None else None
    if point_match:
        point = (point_match.group(1), point_match.group(2).replace(" ", ""))
        text = text[:point_match.start()] + " " + text[point_match.end():]
    variable_hint = None
    if match := _DDX.search(text):
        derivative = True
        variable_hint = match.group(1)
        text = text[:match.start()] + " " + text[match.end():]
    if match := _INTEGRAL.search(text):
        integral = True
        variable_hint = match.group(2)
        text = text[:match.start()] + " " + match.group(1) + " " + text[match.end():]
    text = re.sub(r"\bint\b", " ", text)
    if re.search(r"\)\s*'|[a-z]\s*'\s*\(", text):
        derivative = True

    runs = [run for run in _RUN.findall(text) if _has_math(run)]
    pieces: list[str] = []
    for run in runs:
        # "x+y=3, x-y=1" is a system; "f(x, y)" never occurs in this curriculum's questions.
        pieces.extend(part for part in re.split(r",(?![^()]*\))|;", run) if _has_math(part))

    expressions: list[str] = []
    relations: list[str] = []
    shown: list[str] = []
    sides: list[tuple[str, str]] = []
    function_name = None
    for piece in pieces:
        piece = piece.strip().rstrip(".")
        piece = re.sub(r"^\s*[a-z]\s*'\s*\(\s*[a-z]\s*\)\s*", "", piece) if "'" in piece else piece
        piece = piece.replace("'", "")
        lhs_function = _LHS_FUNCTION.match(piece)
        if lhs_function:
            function_name = lhs_function.group(1) or lhs_function.group(3)
            if lhs_function.group(2):
                variable_hint = variable_hint or lhs_function.group(2)
            body = to_parsable(piece[lhs_function.end():], imaginary=imaginary)
            if body:
                expressions.append(body)
                relations.append("")
                shown.append(piece.strip())
                sides.append(("", ""))
            continue
        parts = _RELATION.split(piece)
        signs = _RELATION.findall(piece)
        if len(parts) == 2:
            lhs, rhs = (to_parsable(p, imaginary=imaginary) for p in parts)
            if lhs and rhs:
                expressions.append(f"({lhs}) - ({rhs})")
                relations.append(signs[0])
                shown.append(piece.strip())
                sides.append((lhs, rhs))
        elif len(parts) == 1:
            body = to_parsable(piece, imaginary=imaginary)
            if body:
                expressions.append(body)
                relations.append("")
                shown.append(piece.strip())
                sides.append(("", ""))
        elif len(parts) == 3 and signs[0] in "<<=" and signs[1] in "<<=":
            # a < x < b: two inequalities
            low, middle, high = (to_parsable(p, imaginary=imaginary) for p in parts)
            if low and middle and high:
                expressions += [f"({low}) - ({middle})", f"({middle}) - ({high})"]
                relations += [signs[0], signs[1]]
                shown += [piece.strip()] * 2
                sides += [(low, middle), (middle, high)]
    del expressions[6:], relations[6:], shown[6:], sides[6:]
    return MathQuery(
        expressions=tuple(expressions), relations=tuple(relations), shown=tuple(shown), sides=tuple(sides),
        function_name=function_name, variable=variable_hint, point=point, bounds=bounds,
        approach=approach, summation=summation, sequence=sequence, vectors=tuple(vectors), integral=integral,
        derivative=derivative,
    )
