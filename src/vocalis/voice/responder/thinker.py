"""The offline thinker: a receptionist's replies, from the retrieved passages and the conversation alone.

Each turn it reads what the caller said and the agent's own last lines (the callback form it is taking, the offer
it made), recognises the everyday things callers want (a greeting, a person, a booking, "say that again"), and
otherwise answers from the knowledge. It keeps no state of its own: one object may answer many calls at once.
"""

import re
from collections.abc import AsyncIterator

from vocalis.voice.responder import callback, intents
from vocalis.voice.responder.matching import Knowledge, answer_from, booking_sentence, contact_sentence
from vocalis.voice.responder.words import words_of
from vocalis.voice.thinking import EndCall, Piece, Prompt, TokenUsage, Unanswered

GREETING = "Hello! How can I help you today?"
BUSINESS_GREETING = "Hello, you've reached {business}. How can I help?"
GOODBYE = "Thank you for calling. Goodbye!"
YOU_ARE_WELCOME = "You're welcome! Is there anything else I can help with?"
ANYTHING_ELSE = "Is there anything else I can help with?"
NOT_HEARD = "Sorry, I didn't catch that. Could you say it again?"
FALLBACK = "I'm sorry, I don't have information about that. Is there anything else I can help with?"
NO_PROBLEM = "No problem. How can I help?"
SURE = "Sure, what would you like to know?"
MACHINE = (
    "I'm an automated assistant{for_business}. I can answer most questions, or help you reach someone on the team."
)
OFFER_PERSON = "Would you like to speak to a person?"
WHO = "You've reached {business}. I'm its automated assistant. How can I help?"
WHO_UNNAMED = "I'm an automated assistant. How can I help?"
IDENTITY_YES = "Yes, this is {business}. How can I help?"
IDENTITY_OTHER = "This is {business}. How can I help?"
IDENTITY_UNNAMED = "Yes, you've reached us. How can I help?"
TEAM_CONTACT = "You can reach a member of our team at {contact}."

_ANYTHING_ELSE_MARK = "anything else i can help with"
_DAYTIME = ("morning", "afternoon", "evening")
_CONTACT_LIKE = re.compile(r"[\d@]|\bwww\.|\.[a-z]{2,}\b", re.IGNORECASE)
_NAME_SMALL_WORDS = frozenset({"the", "and", "of", "&", "at", "inc", "ltd", "llc", "co"})

Reply = list[Piece]


class ExtractiveResponder:
    """Answers from the retrieved passages alone: no model, no tokens, about a millisecond per turn."""

    def __init__(self, max_sentences: int = 2, max_words: int = 50) -> None:
        self.usage = TokenUsage()  # stays zero: nothing is generated
        self.max_sentences = max_sentences
        self.max_words = max_words

    async def reply(self, prompt: Prompt) -> AsyncIterator[Piece]:
        """Stream the reply sentence by sentence; a CallbackRequest right after the words that confirm it, and
        EndCall last after a goodbye."""
        # Pure Python on a few short passages takes about a millisecond, so it runs on the event loop.
        first = True
        for item in _Turn(prompt, self.max_sentences, self.max_words).respond():
            if isinstance(item, str):
                # Pieces are joined as they come (like an LLM's tokens), so each piece after the first brings its space.
                yield item if first else f" {item}"
                first = False
            else:
                yield item


class _Turn:
    """One caller turn: what they said, in the light of the conversation so far."""

    def __init__(self, prompt: Prompt, max_sentences: int, max_words: int) -> None:
        self.prompt = prompt
        self.max_sentences = max_sentences
        self.max_words = max_words
        self.said = next((m.content for m in reversed(prompt.messages) if m.role == "user"), "")
        self.heard = intents.hear(self.said)
        self.knowledge = Knowledge(prompt.passages)
        self.business = (prompt.business_name or "").strip() or None
        earlier = prompt.messages[:-1] if prompt.messages and prompt.messages[-1].role == "user" else prompt.messages
        self.last_reply = next((m.content for m in reversed(earlier) if m.role == "assistant"), None)

    def respond(self) -> Reply:
        heard = self.heard
        if not heard.words:
            return [Unanswered(), NOT_HEARD]
        if intents.says_goodbye(heard, self.prompt.end_call_phrases):
            return [GOODBYE, EndCall("caller_goodbye")]
        form = callback.read_form(self.prompt.messages)
        if form is not None:
            step = self._in_form(form)
            if step is not None:
                return step
        last = (self.last_reply or "").lower()
        if _ANYTHING_ELSE_MARK in last and intents.says_no(heard):
            return [GOODBYE, EndCall("caller_goodbye")]
        if OFFER_PERSON.lower() in last:
            if intents.says_yes(heard):
                return self._person()
            if intents.says_no(heard):
                return [NO_PROBLEM]
        return self._reply()

    # --- the callback form

    def _in_form(self, form: callback.Form) -> Reply | None:
        heard = self.heard
        if form.pending == "time" and callback.no_preference(self.said):
            return self._step(callback.advance(form, callback.Details()))
        if intents.cancels(heard) and not intents.says_yes(heard):
            return [callback.DROPPED if form.pending != "offer" else callback.DECLINED, ANYTHING_ELSE]
        if intents.wants_repeat(heard):
            return None  # the repeated line asks the same question again
        found = callback.details_in(self.said, form.pending, self.knowledge.vocabulary)
        other = intents.is_question(heard) or self._other_intent()
        if other and not (found.name or found.phone):
            # A time in a question is an answer only to "when?", and only when the knowledge has no answer to it
            # ("how about Tuesday?" yes; "are you open on Saturday?" no).
            answered = answer_from(self.knowledge, self.said, 1, self.max_words)
            if form.pending == "time" and found.time and not answered:
                return self._step(callback.advance(form, found))
            found = callback.Details()
        if found.name or found.phone or found.time or (form.pending == "time" and not other):
            return self._step(callback.advance(form, found))
        if form.pending == "offer":
            return [callback.OFFER_TAKEN] if intents.says_yes(heard) else None
        if form.pending == "phone" and found.digits:
            return [f"{callback.ASK_WHOLE_NUMBER} {callback.ASK_PHONE}"]
        if not other and not answer_from(self.knowledge, self.said, 1, self.max_words):
            return [callback.ask_again(form)]
        # Another topic: answer it, and ask for the callback once more (only once: the caller may have moved on).
        reply = self._reply()
        asking = any(isinstance(item, str) and callback.asks(item) for item in reply)
        if form.resumed or asking or any(isinstance(item, EndCall) for item in reply):
            return reply
        return [*reply, callback.resume(form)]

    def _step(self, step: callback.Step) -> Reply:
        if step.request is None:
            return [step.text]
        return [step.text, step.request, ANYTHING_ELSE]

    def _other_intent(self) -> bool:
        heard = self.heard
        return (
            intents.asks_if_machine(heard)
            or intents.wants_person(heard)
            or intents.asks_who(heard)
            or intents.wants_callback(heard)
            or intents.wants_booking(heard)
            or intents.only(heard.words, intents.THANKS_WORDS, intents.PADDING | intents.ACK_WORDS)
            or intents.only(heard.words, intents.GREETING_WORDS, intents.PADDING | intents.ACK_WORDS)
        )

    # --- everything else

    def _reply(self) -> Reply:
        heard = self.heard
        if intents.wants_repeat(heard):
            return [self._last_words()]
        if intents.asks_if_machine(heard):
            for_business = f" for {self.business}" if self.business else ""
            return [MACHINE.format(for_business=for_business), OFFER_PERSON]
        if intents.wants_person(heard):
            return self._person()
        if intents.asks_who(heard):
            return [WHO.format(business=self.business) if self.business else WHO_UNNAMED]
        identity = intents.asks_identity(heard, self._business_words(), self.knowledge.vocabulary)
        if identity is not None:
            if not self.business:
                return [IDENTITY_UNNAMED]
            return [(IDENTITY_YES if identity else IDENTITY_OTHER).format(business=self.business)]
        if intents.wants_callback(heard):
            return self._step(callback.start(callback.CALLBACK_LEAD, self._details(), booking=False))
        if intents.wants_booking(heard):
            return self._booking()
        if intents.only(heard.words, intents.GREETING_WORDS, intents.PADDING | intents.ACK_WORDS):
            return [self._greeting()]
        if intents.only(heard.words, intents.THANKS_WORDS, intents.PADDING | intents.ACK_WORDS):
            return [YOU_ARE_WELCOME]
        if intents.only(heard.words, intents.ACK_WORDS, intents.PADDING):
            return [ANYTHING_ELSE]
        sentences = answer_from(self.knowledge, intents.without_greeting(self.said), self.max_sentences, self.max_words)
        if sentences:
            return list(sentences)
        if intents.says_yes(heard):
            return [SURE]
        if intents.says_no(heard):
            return [ANYTHING_ELSE]
        return [Unanswered(), FALLBACK]

    def _details(self) -> callback.Details:
        return callback.details_in(self.said, None, self.knowledge.vocabulary)

    def _greeting(self) -> str:
        """The agent's opening line when it names the business (or there is none to name), else one that does."""
        first, business = (self.prompt.first_message or "").strip(), self.business
        daytime = next((word for word in self.heard.words if word in _DAYTIME), None)
        if first and (not business or _names(first, business)) and not daytime:
            return first
        if business:
            opening = f"Good {daytime}, you've" if daytime else "Hello, you've"
            return BUSINESS_GREETING.replace("Hello, you've", opening).format(business=business)
        return f"Good {daytime}! How can I help you today?" if daytime else first or GREETING

    def _business_words(self) -> set[str]:
        return {word for word in words_of(self.business or "") if word not in _NAME_SMALL_WORDS}

    def _last_words(self) -> str:
        """The agent's last line worth repeating (not its own "sorry, I didn't catch that")."""
        for message in reversed(self.prompt.messages[:-1]):
            if message.role == "assistant" and message.content.strip() and message.content.strip() != NOT_HEARD:
                return message.content.strip()
        return self._greeting()

    def _person(self) -> Reply:
        """A way to reach a person: the agent's own contact, else the knowledge's; a callback when there is none."""
        transfer_to = (self.prompt.transfer_to or "").strip()
        if transfer_to:
            contact = TEAM_CONTACT.format(contact=transfer_to)
            if not _CONTACT_LIKE.search(transfer_to):
                contact = f"You can reach a member of our team through {transfer_to}."
            return [contact, callback.OFFER]
        sentence = contact_sentence(self.knowledge, self.said)
        if sentence:
            return [sentence, callback.OFFER]
        return self._step(callback.start(callback.PERSON_LEAD, self._details(), booking=False))

    def _booking(self) -> Reply:
        """What the knowledge says about booking, with a callback to arrange it; just the callback without it."""
        details = self._details()
        how = booking_sentence(self.knowledge)
        if how and not (details.name or details.phone):
            return [how, callback.BOOKING_OFFER]
        return self._step(callback.start(callback.BOOKING_LEAD, details, booking=True))


def _names(line: str, business: str) -> bool:
    """Whether a line names the business (its first significant word will do: "Bright Smile, how can I help?")."""
    wanted = [word for word in words_of(business) if word not in _NAME_SMALL_WORDS]
    return bool(wanted) and wanted[0] in words_of(line)
