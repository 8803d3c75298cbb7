"""A small pattern language over Kiwi's morphemes, so rules read like the Korean they match.

The analysed text is one sentence as " form/TAG form/TAG … " (``screen._analyse``). A pattern is a
space-separated sequence of:

- ``죽|뒤지/V``: one morpheme whose form is one of the alternatives and whose tag starts
  with the given prefix (``V`` is any verb or adjective, ``VX`` only auxiliaries);
  ``*`` as the form matches any form, a missing tag any tag;
- ``~N``: up to N morphemes of any kind within the sentence;
- ``%N``: up to N endings, particles or auxiliaries (the glue of one predicate:
  "죽어 버리고 싶" is ``죽/V %3 싶/VX``);
- a trailing ``?`` makes a morpheme optional.

Stems are what Kiwi restores ("모았어요" -> 모으/VV 었/EP 어요/EF), so one rule covers
every conjugation, and spacing or particles do not change the sequence.
"""

from __future__ import annotations

import re
from functools import cache

_ANY_IN_SENTENCE = r"(?:[^ /]+/(?!SF)[^ ]* )"
_GLUE = r"(?:[^ /]+/(?:E|J|VX|XS)[^ ]* )"


def _token(spec: str) -> str:
    optional = spec.endswith("?") and len(spec) > 1
    if optional:
        spec = spec[:-1]
    form, _, tag = spec.partition("/")
    form_re = r"[^ /]+" if form in ("", "*") else "(?:" + "|".join(re.escape(f) for f in form.split("|")) + ")"
    tag_re = "(?:" + "|".join(re.escape(t) for t in tag.split("|")) + ")[^ ]*" if tag not in ("", "*") else r"[^ ]*"
    token = f"{form_re}/{tag_re} "
    return f"(?:{token})?" if optional else token


def seq(spec: str) -> str:
    parts = []
    for item in spec.split():
        if item[0] in "~%" and item[1:].isdigit():
            parts.append(f"{_ANY_IN_SENTENCE if item[0] == '~' else _GLUE}{{0,{item[1:]}}}")
        else:
            parts.append(_token(item))
    return "".join(parts)


@cache
def compile_seq(*specs: str) -> re.Pattern[str]:
    """Alternatives, each a sequence; matched against the text with its leading space."""
    return re.compile("(?<= )(?:" + "|".join(seq(spec) for spec in specs) + ")")


def anchors(*specs: str) -> frozenset[str] | None:
    """Forms one of which must be in a sentence for ``specs`` to match (None: no such set).

    Each alternative's first morpheme's forms: a set test that lets most sentences skip
    the regular expression.
    """
    found: set[str] = set()
    for spec in specs:
        first = spec.split()[0]
        form = first.partition("/")[0]
        if first.endswith("?") or first[0] in "~%" or form in ("", "*"):
            return None
        found.update(form.split("|"))
    return frozenset(found)
