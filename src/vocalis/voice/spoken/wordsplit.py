"""Words run together in a web address split apart: "maplesalon" is read "mapleazellon", "maple salon" right.

A most-probable segmentation (Zipf costs over the English word list, ranked by frequency, that the wordninja package
ships; MIT), kept only when every piece is a common word: a brand the list does not know ("lumiere", "vocalis") is
left whole rather than cut into rare fragments ("lumi ere", "vocal is").
"""

import gzip
import importlib.util
import math
from pathlib import Path

from loguru import logger

# Pieces must be among the most frequent words, or long (the list's long words are real ones: "barbershop"), or one
# of the short words names are made of ("hair by jen").
COMMON_RANK = 50_000
LONG_PIECE = 7
SHORT_WORDS = frozenset({"by", "my", "go", "to", "of", "in", "on", "at", "me", "we", "us", "up", "do", "no", "so"})
SHORTEST_SPLIT = 7  # shorter labels ("info", "book") are words already


def _load_ranks() -> dict[str, int]:
    # Only its data file: importing wordninja would load a second copy of the list (~18 MB) for its own splitter.
    spec = importlib.util.find_spec("wordninja")
    if spec is None or spec.origin is None:
        # Addresses are then said as written ("maplesalon"); a voice that stopped speaking would be far worse.
        logger.warning("wordninja is not installed: web addresses are said without splitting their words")
        return {}
    path = Path(spec.origin).parent / "wordninja" / "wordninja_words.txt.gz"
    with gzip.open(path, "rt", encoding="utf-8") as file:
        return {word: rank for rank, word in enumerate(file.read().split())}


# Loaded with the module (~40 ms, ~18 MB for 126,000 words), so no call waits for it on the event loop.
_RANKS = _load_ranks()
_LOG_SIZE = math.log(max(len(_RANKS), 2))
_LONGEST = max((len(word) for word in _RANKS), default=1)


def _cost(word: str) -> float:
    rank = _RANKS.get(word)
    return math.inf if rank is None else math.log((rank + 1) * _LOG_SIZE)


def _segment(label: str) -> list[str]:
    """The cheapest split of `label` into listed words (the whole label when none exists)."""
    best: list[tuple[float, int]] = [(0.0, 0)]  # (cost of label[:i], length of its last word)
    for end in range(1, len(label) + 1):
        best.append(
            min(
                (best[end - length][0] + _cost(label[end - length : end]), length)
                for length in range(1, min(end, _LONGEST) + 1)
            )
        )
    if math.isinf(best[-1][0]):
        return [label]
    words: list[str] = []
    end = len(label)
    while end > 0:
        length = best[end][1]
        words.append(label[end - length : end])
        end -= length
    return words[::-1]


def _common(piece: str) -> bool:
    if piece in SHORT_WORDS:
        return True
    rank = _RANKS.get(piece)
    return rank is not None and len(piece) >= 3 and (rank < COMMON_RANK or len(piece) >= LONG_PIECE)


def split_words(label: str) -> list[str]:
    """The words of a lower-case label written without spaces ("maplesalon" -> ["maple", "salon"]), or [label]."""
    if len(label) < SHORTEST_SPLIT or not label.isalpha():
        return [label]
    pieces = _segment(label)
    return pieces if len(pieces) > 1 and all(_common(piece) for piece in pieces) else [label]
