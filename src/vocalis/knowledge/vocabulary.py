"""The business's own words in its knowledge: names, insurers, products, streets — what speech recognition should
expect a caller to say, and would otherwise mishear ("Cigna" as "the signal")."""

import re
from collections import Counter
from collections.abc import Iterable

# Capitalised words, joined when they follow each other ("Delta Dental", "Larkspur Avenue"), optionally after a
# title ("Dr. Okonkwo").
_NAME = re.compile(r"(?:\b(?:Dr|Mr|Mrs|Ms|St)\.\s)?\b[A-Z][a-zA-Z'&-]+(?:\s+[A-Z][a-zA-Z'&-]+)*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n•*#|-]\s*)$")
# Capitalised for grammar, not because they are names; any recogniser knows them.
_COMMON = frozenset(
    """
    I A An The We Our Us You Your It Its This That These Those There Here They Their He She His Her If When Where What
    Who Why How Please Yes No Not And Or But For With From To In On At By Of As All Any Each Every Some Most More Also
    Monday Tuesday Wednesday Thursday Friday Saturday Sunday Mon Tue Wed Thu Fri Sat Sun January February March April
    May June July August September October November December FAQ Q AM PM OK
    """.split()  # noqa: SIM905 - a word list reads better as text
)  # fmt: skip


def business_words(texts: Iterable[str], limit: int = 40) -> list[str]:
    """The names a text mentions most, mid-sentence capitalised (a capital after a full stop proves nothing)."""
    counts: Counter[str] = Counter()
    for text in texts:
        for match in _NAME.finditer(text):
            words = [word for word in match[0].split() if word not in _COMMON]
            if not words:
                continue
            at_start = _SENTENCE_START.search(text[: match.start()]) is not None
            if at_start and len(words) == 1 and match[0] == words[0]:
                continue  # "Welcome" opening a sentence is no name
            counts[" ".join(words)] += 1
    return [name for name, _ in counts.most_common(limit)]
