"""The business's own words in its knowledge: names, insurers, products, streets — what speech recognition should
expect a caller to say, and would otherwise mishear ("Cigna" as "the signal")."""

import re
from collections import Counter
from collections.abc import Iterable

# Capitalised words, joined when they follow each other ("Delta Dental", "Larkspur Avenue"), titles included
# ("Dr. Okonkwo").
_NAME = re.compile(
    r"(?:(?:Dr|Mr|Mrs|Ms|St)\.\s)?[A-Z][a-zA-Z'&-]+(?:[ \t]+(?:(?:Dr|Mr|Mrs|Ms|St)\.\s)?[A-Z][a-zA-Z'&-]+)*"
)
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
    """The names the texts mention most. A capital opening a sentence proves nothing, so a sentence's first words
    count only when the texts also capitalise them mid-sentence ("Welcome to Bright Smile Dental" keeps "Bright")."""
    runs: list[tuple[list[str], bool]] = []
    named: set[str] = set()
    for text in texts:
        for match in _NAME.finditer(text):
            at_start = _SENTENCE_START.search(text[: match.start()]) is not None
            words = match[0].split()
            runs.append((words, at_start))
            named.update(words[1:] if at_start else words)
    counts: Counter[str] = Counter()
    for words, at_start in runs:
        if at_start:
            while words and words[0] not in named and words[0] not in _TITLES:
                words = words[1:]
        kept = [word for word in words if not _COMMON.issuperset(word.split("-"))]
        if kept and kept[-1] not in _TITLES:
            counts[" ".join(kept)] += 1
    return [name for name, _ in counts.most_common(limit)]


_TITLES = frozenset({"Dr.", "Mr.", "Mrs.", "Ms.", "St."})
