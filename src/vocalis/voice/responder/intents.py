"""What the caller wants, beyond a question for the knowledge: the everyday things a receptionist hears.

Recognised on transcribed speech: no punctuation is guaranteed ("hello is this the dentist"), fillers come anywhere
("um", "uh"), and callers open with "so", "okay", "sorry". Each pattern reads the caller's words in lower case with
the fillers taken out.
"""

import re
from dataclasses import dataclass

from vocalis.voice.responder.words import FILLERS, LEAD_INS, says_phrase, stem, words_of

GREETING_WORDS = frozenset({"hi", "hello", "hey", "hiya", "howdy", "greetings", "morning", "afternoon", "evening"})
THANKS_WORDS = frozenset({"thanks", "thank", "cheers", "appreciate", "appreciated"})
ACK_WORDS = frozenset(
    {"ok", "okay", "yes", "yeah", "yep", "sure", "right", "alright", "great", "cool", "perfect", "fine", "got", "see",
     "understood", "good", "nice", "awesome", "wonderful", "excellent", "lovely", "brilliant", "i", "it", "that's"}
)  # fmt: skip
# Words that may pad a greeting, thanks or acknowledgement without turning it into a question.
PADDING = frozenset(
    {"um", "uh", "er", "oh", "so", "well", "there", "you", "very", "much", "a", "lot", "how", "are", "is", "anyone",
     "doing", "today", "this", "that", "all", "and", "again", "for", "your", "help", "the", "info", "information",
     "good"}
)  # fmt: skip
# Said without a question mark, these end a conversation on any agent (the agent's own phrases are added to them).
BUILTIN_GOODBYES = (
    "bye", "goodbye", "good bye", "bye bye", "farewell", "see you", "see ya", "talk to you later", "have a nice day",
    "have a good day", "have a great day", "that's all", "that is all", "that's everything", "nothing else",
    "wrong number",
)  # fmt: skip

_GREETING_PREFIX = re.compile(
    r"^\s*(?:(?:oh|um|uh|so|yeah|okay|ok)\b[\s,.!?-]+)*"
    r"(?:(?:hi|hello|hey|hiya|howdy|greetings|good (?:morning|afternoon|evening))\b(?: there\b)?[\s,.!?-]*)+",
    re.IGNORECASE,
)

_REPEAT = re.compile(
    r"\b(?:repeat (?:that|it|this|yourself|the|what|please|again|for me)|repeat$|please repeat|you repeat|"
    r"say (?:that|it|this) again|say again|come again|one more time|once more|"
    r"didn't (?:catch|hear|get|understand) (?:that|it|you|what|the|all|any)|missed (?:that|it|what)|"
    r"what did you (?:just )?say|what was that)\b"
)
_ONLY_REPEAT = frozenset(
    {"sorry", "pardon", "pardon me", "excuse me", "what", "huh", "sorry what", "i'm sorry", "what's that", "what sorry",
     "sorry say again", "i beg your pardon", "beg your pardon", "sorry pardon"}
)  # fmt: skip

_MACHINE = (
    r"(?:robot|bot|machine|computer|ai|a i|artificial intelligence|automated|automatic|recording|recorded|chat ?bot|"
    r"human|human being|real person|live person|actual person|real human|real|person|answering machine|"
    r"virtual assistant|receptionist|secretary|operator)"
)
_ROBOT = re.compile(
    r"(?:^you|\b(?:are you|you are|you're|is this|is that|is it|am i (?:talking|speaking|chatting) (?:to|with)|"
    r"am i on with)|"
    r"\bi'm (?:talking|speaking) (?:to|with))"
    rf"\s+(?:(?:a|an|the|just|really|even|actually|like|only|some|some kind of)\s+)*{_MACHINE}\b"
)
_PERSON_TARGET = (
    r"(?:(?:a|an|the|some|your|to|real|live|actual|human)\s+)*(?:human|humans|person|people|someone|somebody|anyone|"
    r"anybody|manager|receptionist|reception|operator|representative|rep|agent|staff|member|front desk|office|team|"
    r"doctor|dentist|nurse|hygienist|owner|boss|supervisor|dr)"
)
_PERSON = re.compile(
    rf"\b(?:speak|talk|chat)(?:ing)? (?:to|with) {_PERSON_TARGET}\b|\b(?:transfer|connect|forward) me\b|"
    r"\bput me (?:through|on)\b|"
    r"\b(?:get|give) me (?:a |an |the )?(?:real |live )?(?:human|person|someone|somebody|manager|operator|"
    r"representative|receptionist)\b|"
    r"\b(?:want|need|like) (?:a |an |the |to get a )?(?:real |live |actual )?(?:human|person|operator|"
    r"representative|receptionist|manager)\b|"
    r"^(?:a |the )?(?:real |live )?(?:human|person|operator|representative|receptionist|agent)(?: please)?$"
)
_WHO = re.compile(
    r"\b(?:who (?:is this|is that|am i (?:speaking|talking) (?:to|with)|are you|is speaking|did i (?:call|reach|get))|"
    r"what (?:company|business|place|number|office) is this|where am i calling|what is this place)\b"
)
_IDENTITY = re.compile(
    r"^(?:is (?:this|that|it)|am i (?:speaking|talking) (?:to|with)|have i (?:reached|got|called)|"
    r"did i (?:reach|get|call)|are you|is this the number for)\s+(?P<what>.+)$"
)
# What a caller checks they have reached ("is this the dentist?", "is this Bright Smile Dental?").
_BUSINESS_NOUNS = frozenset(
    {"dentist", "dentists", "dental", "doctor", "doctors", "clinic", "office", "practice", "surgery", "hospital",
     "salon", "barber", "barbers", "shop", "garage", "mechanic", "mechanics", "store", "restaurant", "hotel",
     "pharmacy", "vet", "vets", "spa", "gym", "studio", "agency", "firm", "company", "business", "place", "center",
     "centre", "reception", "front", "desk", "number", "line", "care", "auto", "repair", "repairs",
     "service", "services", "health", "medical", "team"}
)  # fmt: skip
_IDENTITY_FILLER = frozenset({"the", "a", "an", "right", "correct", "for", "of", "my", "your", "one", "still"})
_PEOPLE = frozenset({"dentist", "doctor", "receptionist", "nurse", "owner", "manager", "hygienist", "secretary"})

_CALLBACK = re.compile(
    r"\b(?:call|ring|phone) (?:me|us) back\b|\bcall ?back\b|\b(?:call|ring|phone|contact|reach) me\b|"
    r"\bget back to me\b|\b(?:take|leave) a message\b|\bhave (?:someone|somebody) (?:call|ring|phone|contact)\b"
)
_NOT_BOOKING = re.compile(
    r"\b(?:cancel\w*|reschedul\w*|postpone\w*|(?:move|moving|change|changing) (?:my|the|an|our|it)\b)"
)
_APPOINTMENT = (
    r"(?:appointment|appt|booking|reservation|slot|visit|checkup|check up|cleaning|consultation|exam|session)"
)
_REQUEST = (
    r"(?<!do )(?<!does )(?<!should )(?<!would )\b(?:(?:can|could|may) (?:i|we|you)|i'd like|i would like|i want|"
    r"i wanna|i need|we need|we'd like|i'm looking|looking|i'm trying|trying|i'm calling|calling|"
    r"how (?:do|can|would) i|is it possible|help me|let me|i'd love|get me|set me up|fit me in)\b"
    r"(?:\s+(?:to|get|make|have|set|up|arrange|please|just|also|for|me|us|in))*"
)
_BOOKING = [
    re.compile(
        r"\bbook\b|\b(?:schedule|reserve) (?:me|an?|the|my|it|for|in|appointment)\b|\bto (?:schedule|reserve)\b"
    ),
    re.compile(rf"{_REQUEST}\s+(?:an?|another|the|my|a new|new)\s+(?:\w+\s+)?{_APPOINTMENT}\b"),
    re.compile(rf"{_REQUEST}\s+(?:come in|see (?:a|the|someone|somebody|dr|doctor|dentist|hygienist)\b)"),
    re.compile(r"\b(?:availability|openings|any opening|an opening|free slots?|any slots?|spots? (?:open|free))\b"),
]

_YES = frozenset(
    {"yes", "yeah", "yep", "yup", "sure", "ok", "okay", "please", "absolutely", "definitely", "perfect", "great",
     "alright", "fine", "course", "go", "lovely"}
)  # fmt: skip
_YES_PADDING = frozenset(
    {"that", "would", "be", "sounds", "good", "ahead", "of", "i", "i'd", "like", "do", "thanks", "thank", "you",
     "that'd", "why", "not", "great", "nice", "it", "yes", "please", "sure", "well", "so", "oh"}
)  # fmt: skip
_NO = re.compile(
    r"^(?:no|nope|nah|no thanks|no thank you|not now|not really|not right now|not today|i'm good|i'm fine|i'm ok|"
    r"i'm okay|all good|nothing|never ?mind|no need|don't bother|that's it|that's fine|i'll call|i'll ring)\b"
)
_CANCEL = re.compile(
    r"\b(?:never ?mind|forget (?:it|that|about it)|don't bother|cancel (?:that|it|the callback)|no need|"
    r"changed my mind|not now|skip (?:it|that)|i'll call (?:back|you|later|them)|i'll ring|don't worry)\b"
)
_QUESTION_START = frozenset(
    {"what", "what's", "whats", "when", "when's", "where", "where's", "how", "how's", "why", "who", "who's", "which",
     "do", "does", "did", "is", "are", "can", "could", "would", "will", "should", "may", "have", "has", "any", "tell"}
)  # fmt: skip


@dataclass(frozen=True)
class Heard:
    """What the caller said, as the intents read it."""

    raw: str  # as transcribed or typed
    words: list[str]  # lower-case words and numbers
    text: str  # the words without fillers, joined by spaces
    core: str  # the same without the greeting and lead-ins it opens with ("hi so um what are...")


def hear(said: str) -> Heard:
    words = words_of(said)
    kept = [word for word in words if word not in FILLERS]
    core = words_of(_GREETING_PREFIX.sub("", said)) if _GREETING_PREFIX.match(said) else kept
    core = [word for word in core if word not in FILLERS]
    while core and core[0] in LEAD_INS:
        core = core[1:]
    return Heard(said, words, " ".join(kept), " ".join(core))


def only(words: list[str], required: frozenset[str], allowed: frozenset[str]) -> bool:
    """Whether the utterance has one of the required words and nothing beyond the allowed ones."""
    return any(word in required for word in words) and all(word in required or word in allowed for word in words)


def without_greeting(said: str) -> str:
    """What the caller said after their greeting ("Hi there. Are you open on Saturday?" -> the question)."""
    return _GREETING_PREFIX.sub("", said).strip() or said


def says_goodbye(heard: Heard, end_call_phrases: list[str]) -> bool:
    goodbyes = [*end_call_phrases, *([] if "?" in heard.raw else BUILTIN_GOODBYES)]
    return any(says_phrase(heard.words, phrase) for phrase in goodbyes)


def is_question(heard: Heard) -> bool:
    first = heard.core.split(" ", 1)[0]
    return "?" in heard.raw or first in _QUESTION_START


def wants_repeat(heard: Heard) -> bool:
    return heard.text in _ONLY_REPEAT or bool(_REPEAT.search(heard.text))


def asks_if_machine(heard: Heard) -> bool:
    return bool(_ROBOT.search(heard.text)) or _asks_for_person_role(heard)


def _asks_for_person_role(heard: Heard) -> bool:
    """ "Are you the dentist?", "am I speaking to the receptionist?": asking who (or what) answers."""
    match = _IDENTITY.match(heard.core)
    if not match or not heard.core.startswith(("are you", "am i")):
        return False
    return bool(set(match["what"].split()) & _PEOPLE)


def wants_person(heard: Heard) -> bool:
    return bool(_PERSON.search(heard.text))


def asks_who(heard: Heard) -> bool:
    return bool(_WHO.search(heard.text))


def asks_identity(heard: Heard, business_words: set[str], vocabulary: frozenset[str]) -> bool | None:
    """Whether the caller checks they have reached the business: True when what they name fits it ("is this the
    dentist?"), False when it does not ("is this the pizza place?"), None when it is not that kind of question."""
    match = _IDENTITY.match(heard.core)
    if not match:
        return None
    named = [word for word in match["what"].split() if word not in _IDENTITY_FILLER]
    if not named or len(named) > 5:
        return None
    # A kind of business fits when the business's name or its own knowledge says it ("dentist").
    fits = [
        _fits_business(word, business_words) or (word in _BUSINESS_NOUNS and stem(word) in vocabulary) for word in named
    ]
    kinds = [word in _BUSINESS_NOUNS for word in named]
    # Every word names the business or a kind of business, or a short phrase ends with one ("the pizza place").
    if not all(fit or kind for fit, kind in zip(fits, kinds, strict=True)) and not (kinds[-1] and len(named) <= 3):
        return None
    return any(fits) or all(word in ("number", "line", "place", "right", "office", "business") for word in named)


def _fits_business(word: str, business_words: set[str]) -> bool:
    """The word names the business or what it does ("dentist" for "Bright Smile Dental")."""
    return any(
        (word[:4] == known[:4] and len(word) >= 4 and len(known) >= 4) or word == known for known in business_words
    )


def wants_callback(heard: Heard) -> bool:
    return bool(_CALLBACK.search(heard.text))


def wants_booking(heard: Heard) -> bool:
    if _NOT_BOOKING.search(heard.text):
        return False
    return any(pattern.search(heard.core) for pattern in _BOOKING)


def says_yes(heard: Heard) -> bool:
    words = heard.text.split()
    return any(word in _YES for word in words) and all(word in _YES or word in _YES_PADDING for word in words)


def says_no(heard: Heard) -> bool:
    return bool(_NO.match(heard.core or heard.text)) and not is_question(heard)


def cancels(heard: Heard) -> bool:
    return says_no(heard) or bool(_CANCEL.search(heard.text))
