"""The offline default thinker: a receptionist that answers from the retrieved knowledge, without generating text.

- `reading`: the passages' sentences, titles and lists, cleaned for speech.
- `matching`: the sentence that best answers each part of the question, first; near misses ("do you take Cigna?").
- `intents`: what else the caller wants (a greeting, a person, a booking, "say that again", "are you a robot?").
- `callback`: taking a callback request down over several turns, with its state in the conversation itself.
- `thinker`: `ExtractiveResponder`, which puts them together for each turn.
"""

from vocalis.voice.responder.matching import answer, parts_of
from vocalis.voice.responder.reading import speakable as _speakable
from vocalis.voice.responder.thinker import (
    ANYTHING_ELSE,
    BUSINESS_GREETING,
    FALLBACK,
    GOODBYE,
    GREETING,
    NOT_HEARD,
    YOU_ARE_WELCOME,
    ExtractiveResponder,
)

__all__ = [
    "ANYTHING_ELSE",
    "BUSINESS_GREETING",
    "FALLBACK",
    "GOODBYE",
    "GREETING",
    "NOT_HEARD",
    "YOU_ARE_WELCOME",
    "ExtractiveResponder",
    "_speakable",
    "answer",
    "parts_of",
]
