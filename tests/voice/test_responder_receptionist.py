"""The offline responder as a receptionist: greetings, "say that again", "are you a robot?", "is this the dentist?",
a person, a booking, and a callback request taken over several turns, as callers say them (transcribed speech)."""

from dataclasses import dataclass, field

import pytest

from tests.voice.dental_faq import DENTAL_FAQ, PASSAGES, chunked
from vocalis.voice.responder import (
    ANYTHING_ELSE,
    BUSINESS_GREETING,
    FALLBACK,
    GOODBYE,
    GREETING,
    NOT_HEARD,
    YOU_ARE_WELCOME,
    ExtractiveResponder,
)
from vocalis.voice.responder.callback import details_in, format_phone
from vocalis.voice.thinking import CallbackRequest, EndCall, Message, Prompt

BUSINESS = "Bright Smile Dental"
# The same FAQ without its booking instructions (nor the contact section, for the person requests).
WITHOUT_BOOKING = chunked(DENTAL_FAQ[: DENTAL_FAQ.index("Booking")])
WITHOUT_CONTACT = chunked(DENTAL_FAQ[: DENTAL_FAQ.index("Contact Us")] + DENTAL_FAQ[DENTAL_FAQ.index("Prices") :])


@dataclass
class Heard:
    text: str
    callback: CallbackRequest | None = None
    ended: EndCall | None = None


@dataclass
class Call:
    """A conversation with one responder: each reply goes into the history as the engine's context keeps it."""

    passages: list[str] = field(default_factory=lambda: PASSAGES)
    business_name: str | None = BUSINESS
    first_message: str | None = None
    transfer_to: str | None = None
    responder: ExtractiveResponder = field(default_factory=ExtractiveResponder)
    messages: list[Message] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.first_message:
            self.messages.append(Message("assistant", self.first_message))

    async def say(self, words: str) -> Heard:
        self.messages.append(Message("user", words))
        prompt = Prompt(
            system_prompt="",
            messages=list(self.messages),
            passages=self.passages,
            end_call_phrases=[],
            business_name=self.business_name,
            first_message=self.first_message,
            transfer_to=self.transfer_to,
        )
        pieces = [piece async for piece in self.responder.reply(prompt)]
        text = "".join(piece for piece in pieces if isinstance(piece, str))
        self.messages.append(Message("assistant", text))
        return Heard(
            text,
            next((piece for piece in pieces if isinstance(piece, CallbackRequest)), None),
            next((piece for piece in pieces if isinstance(piece, EndCall)), None),
        )


# --- greetings, thanks, goodbyes


@pytest.mark.parametrize("said", ["hi", "Hello!", "uh hi", "hey there", "Hi, how are you?"])
async def test_a_greeting_names_the_business(said: str) -> None:
    assert (await Call().say(said)).text == BUSINESS_GREETING.format(business=BUSINESS)
    assert (await Call().say(said)).text == "Hello, you've reached Bright Smile Dental. How can I help?"


async def test_a_greeting_uses_the_agents_opening_line_when_it_names_the_business() -> None:
    call = Call(first_message="Bright Smile Dental, how can I help you?")
    assert (await call.say("hello")).text == "Bright Smile Dental, how can I help you?"


async def test_the_default_opening_line_does_not_name_the_business_so_the_greeting_does() -> None:
    call = Call(first_message=GREETING)
    assert (await call.say("hi")).text == "Hello, you've reached Bright Smile Dental. How can I help?"


async def test_without_a_business_name_the_greeting_is_the_opening_line() -> None:
    assert (await Call(business_name=None).say("hi")).text == GREETING
    assert (await Call(business_name=None, first_message="Hi, Maple Salon here!").say("hi")).text == (
        "Hi, Maple Salon here!"
    )
    assert (
        await Call().say("good morning")
    ).text == "Good morning, you've reached Bright Smile Dental. How can I help?"


async def test_a_greeting_followed_by_a_question_answers_the_question() -> None:
    assert (await Call().say("Hi there. Are you open on Saturday?")).text == "Saturday 9am to 1pm."
    assert (await Call().say("hello um how much is whitening")).text == (
        "Teeth whitening, full in-office treatment $350."
    )


async def test_thanks_goodbye_and_no_after_anything_else() -> None:
    call = Call()
    await call.say("How much is a cleaning?")
    assert (await call.say("great thank you so much")).text == YOU_ARE_WELCOME
    ended = await call.say("no that's it")  # to "Is there anything else I can help with?"
    assert (ended.text, ended.ended) == (GOODBYE, EndCall("caller_goodbye"))
    bye = await Call().say("Oh, sorry, wrong number. Bye!")
    assert (bye.text, bye.ended) == (GOODBYE, EndCall("caller_goodbye"))


# --- "say that again"


@pytest.mark.parametrize(
    "said",
    ["say that again", "Sorry?", "could you repeat that", "pardon", "what was that", "sorry i didn't catch that"],
)
async def test_a_repeat_request_repeats_the_last_answer(said: str) -> None:
    call = Call()
    answer = await call.say("What's the number for the front desk?")
    assert "(555) 014-2200" in answer.text
    assert (await call.say(said)).text == answer.text


async def test_a_repeat_request_skips_the_agents_own_didnt_catch_that() -> None:
    call = Call()
    answer = await call.say("How much is a cleaning?")
    assert (await call.say("...")).text == NOT_HEARD
    assert (await call.say("sorry what")).text == answer.text


# --- who is calling whom


@pytest.mark.parametrize(
    "said",
    [
        "Wait, am I talking to a robot?",
        "are you a real person",
        "is this a real person or a machine",
        "you a robot",
        "Are you AI?",
        "is this automated",
    ],
)
async def test_asked_if_it_is_a_machine_it_says_so_and_offers_a_person(said: str) -> None:
    call = Call()
    text = (await call.say(said)).text
    assert text == (
        "I'm an automated assistant for Bright Smile Dental. I can answer most questions, or help you reach someone "
        "on the team. Would you like to speak to a person?"
    )
    assert "(555) 014-2200" in (await call.say("yes please")).text


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("hello, is this the dentist?", "Yes, this is Bright Smile Dental. How can I help?"),
        ("is this bright smile dental", "Yes, this is Bright Smile Dental. How can I help?"),
        ("Hi, is this the dentist's office?", "Yes, this is Bright Smile Dental. How can I help?"),
        ("is this the right number", "Yes, this is Bright Smile Dental. How can I help?"),
        ("is this the pizza place?", "This is Bright Smile Dental. How can I help?"),
        ("who am I speaking to?", "You've reached Bright Smile Dental. I'm its automated assistant. How can I help?"),
    ],
)
async def test_an_identity_question_names_the_business(said: str, expected: str) -> None:
    assert (await Call().say(said)).text == expected


async def test_a_question_that_starts_like_an_identity_question_is_answered_from_the_knowledge() -> None:
    assert (
        await Call().say("is this covered by insurance?")
    ).text != "Yes, this is Bright Smile Dental. How can I help?"
    assert (await Call().say("are you open on Sunday?")).text == "We are closed on Sundays and on public holidays."


# --- a person


@pytest.mark.parametrize(
    "said",
    [
        "I want to speak to a human",
        "Can I speak to a real person, please?",
        "This is confusing. I just want to talk to someone at the front desk.",
        "put me through to reception",
        "can i talk to the manager",
    ],
)
async def test_a_caller_asking_for_a_person_gets_the_contact_the_knowledge_holds(said: str) -> None:
    assert (await Call().say(said)).text == (
        "To speak with a member of our team, call the front desk at (555) 014-2200 during opening hours. "
        "Or I can have someone call you back: just tell me your name and number."
    )


async def test_the_agents_own_contact_comes_first() -> None:
    assert (await Call(transfer_to="555-0199").say("can I speak to someone")).text == (
        "You can reach a member of our team at 555-0199. "
        "Or I can have someone call you back: just tell me your name and number."
    )


async def test_without_a_contact_a_person_request_becomes_a_callback() -> None:
    call = Call(passages=WITHOUT_CONTACT)
    assert (await call.say("I want to speak to a human")).text == (
        "I can't put you through myself, but I can have someone call you back. May I have your name, please?"
    )
    assert (await call.say("Maria Lopez")).text == "Thanks, Maria Lopez. What's the best number to call you back on?"
    assert (await call.say("555 123 4567")).text == (
        "I have your number as 555 123 4567. When is a good time to call you?"
    )
    done = await call.say("um tomorrow morning")
    assert done.text == (
        "Thanks, Maria Lopez. We'll call you back on 555 123 4567, tomorrow morning. "
        "Is there anything else I can help with?"
    )
    assert done.callback == CallbackRequest("Maria Lopez", "555 123 4567", "tomorrow morning")


# --- bookings and callbacks


@pytest.mark.parametrize("said", ["can I book for tomorrow at 3", "I'd like an appointment", "how do I book"])
async def test_a_booking_request_gets_what_the_knowledge_says_about_booking(said: str) -> None:
    assert (await Call().say(said)).text == (
        "You can book an appointment by phone or online at brightsmile.example/book. "
        "Or I can have someone call you back to arrange it: just tell me your name and number."
    )


async def test_without_booking_instructions_a_booking_request_takes_a_callback() -> None:
    call = Call(passages=WITHOUT_BOOKING)
    asked = await call.say("can I book for tomorrow at 3")
    assert asked.text == (
        "I can't book appointments myself, but I can have someone call you back to arrange it. "
        "I've noted tomorrow at 3. May I have your name, please?"
    )
    assert (await call.say("Maria")).text == "Thanks, Maria. What's the best number to call you back on?"
    done = await call.say("five five five one two three four five six seven")
    assert done.text == (
        "Thanks, Maria. We'll call you on 555 123 4567 about tomorrow at 3. Is there anything else I can help with?"
    )
    assert done.callback == CallbackRequest("Maria", "555 123 4567", "tomorrow at 3")


async def test_the_callback_request_comes_right_after_the_words_that_confirm_it() -> None:
    call = Call(passages=WITHOUT_BOOKING)
    await call.say("I'd like an appointment")
    await call.say("It's Maria")
    await call.say("555 123 4567")
    call.messages.append(Message("user", "Tuesday afternoon"))
    prompt = Prompt("", list(call.messages), WITHOUT_BOOKING, business_name=BUSINESS)
    pieces = [piece async for piece in ExtractiveResponder().reply(prompt)]
    assert pieces == [
        "Thanks, Maria. We'll call you on 555 123 4567 about Tuesday afternoon.",
        CallbackRequest("Maria", "555 123 4567", "Tuesday afternoon"),
        " " + ANYTHING_ELSE,
    ]


async def test_a_caller_who_takes_the_offer_gives_their_details_in_one_breath() -> None:
    call = Call()
    await call.say("I'd like to book a cleaning appointment for next week.")
    done = await call.say(
        "Sure, it's Aisha Khan, five five five, three three one, zero seven seven two, "
        "and Tuesday afternoon works best."
    )
    assert done.callback == CallbackRequest("Aisha Khan", "555 331 0772", "Tuesday afternoon")
    assert done.text.startswith("Thanks, Aisha Khan. We'll call you on 555 331 0772 about Tuesday afternoon.")


async def test_yes_to_the_offer_asks_for_the_name_and_keeps_the_time_asked_for() -> None:
    call = Call()
    await call.say("can I book for tomorrow at 3")
    assert (await call.say("yes please")).text == "Great. May I have your name, please?"
    await call.say("Maria")
    done = await call.say("555 123 4567")
    assert done.callback == CallbackRequest("Maria", "555 123 4567", "tomorrow at 3")


async def test_no_to_the_offer_moves_on() -> None:
    call = Call()
    await call.say("I'd like an appointment")
    assert (await call.say("no thanks, I'll call")).text == f"No problem. {ANYTHING_ELSE}"


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        (
            "Could someone call me back? My name is Maria Lopez, my number is five five five, zero one nine, eight two "
            "two seven, and mornings are best.",
            CallbackRequest("Maria Lopez", "555 019 8227", "mornings"),
        ),
        (
            "Can a dentist call me back? I'm Dave Miller, 555-881-2034, best after five p.m.",
            CallbackRequest("Dave Miller", "555 881 2034", "after 5 pm"),
        ),
    ],
)
async def test_a_callback_asked_for_in_one_go_is_confirmed_at_once(said: str, expected: CallbackRequest) -> None:
    heard = await Call().say(said)
    assert heard.callback == expected
    assert heard.text.startswith(f"Of course, I can have someone call you back. Thanks, {expected.name}.")


async def test_a_callback_in_two_turns() -> None:
    call = Call()
    assert (await call.say("Can someone from the clinic call me back?")).text == (
        "Of course, I can have someone call you back. May I have your name, please?"
    )
    done = await call.say(
        "It's James Carter, five five five, two seven one, four four zero nine. Any time after three p.m."
    )
    assert done.callback == CallbackRequest("James Carter", "555 271 4409", "after 3 pm")


async def test_a_caller_who_changes_topic_gets_an_answer_and_is_asked_once_more() -> None:
    call = Call(passages=WITHOUT_BOOKING)
    await call.say("can I book for tomorrow at 3")
    await call.say("Maria")
    asked_again = await call.say("actually how much is whitening?")
    assert asked_again.text == (
        "Teeth whitening, full in-office treatment $350. "
        "Now, for your callback: what's the best number to call you back on?"
    )
    # Answered again, then they may go on: the number still completes the request.
    done = await call.say("oh right, it's 555 123 4567")
    assert done.callback == CallbackRequest("Maria", "555 123 4567", "tomorrow at 3")


async def test_a_caller_who_changes_topic_twice_is_not_trapped_in_the_form() -> None:
    call = Call(passages=WITHOUT_BOOKING)
    await call.say("can I book for tomorrow at 3")
    await call.say("how much is whitening")
    assert (await call.say("do you take Cigna")).text == (
        "I don't see Cigna in what I have. We accept Aetna, Delta Dental, MetLife and Guardian dental plans."
    )
    assert (await call.say("and parking?")).text == FALLBACK  # the FAQ has no parking: no form question either


async def test_a_caller_who_cancels_the_form_is_let_go() -> None:
    call = Call(passages=WITHOUT_BOOKING)
    await call.say("call me back please")
    assert (await call.say("never mind")).text == f"No problem, I won't take a callback. {ANYTHING_ELSE}"
    assert (await call.say("Maria")).callback is None


async def test_an_answer_that_is_no_answer_is_asked_for_again() -> None:
    call = Call(passages=WITHOUT_BOOKING)
    await call.say("call me back please")
    await call.say("Maria")
    assert (await call.say("hold on")).text == "Sorry, I didn't catch that. What's the best number to call you back on?"
    assert (await call.say("five five five oh one four")).text == (
        "Sorry, I didn't get the whole number. What's the best number to call you back on?"
    )
    assert (await call.say("five five five oh one four two")).text == (
        "I have your number as 555-0142. When is a good time to call you?"
    )
    done = await call.say("whenever")
    assert done.callback == CallbackRequest("Maria", "555-0142", None)
    assert done.text.startswith("Thanks, Maria. We'll call you back on 555-0142 as soon as we can.")


async def test_one_responder_serves_two_calls_at_once() -> None:
    shared = ExtractiveResponder()
    first, second = Call(passages=WITHOUT_BOOKING, responder=shared), Call(passages=WITHOUT_BOOKING, responder=shared)
    await first.say("can I book for tomorrow at 3")
    await second.say("call me back please")
    await first.say("Maria")
    await second.say("Dave")
    assert (await first.say("555 123 4567")).callback == CallbackRequest("Maria", "555 123 4567", "tomorrow at 3")
    assert (
        await second.say("555 987 6543")
    ).text == "I have your number as 555 987 6543. When is a good time to call you?"


async def test_an_opening_line_that_asks_a_question_is_not_taken_for_a_form() -> None:
    call = Call(first_message="Bright Smile Dental. May I have your name, please?")
    assert (await call.say("How much is a cleaning?")).text == "Routine cleaning (scale and polish) $95."


# --- the caller's details, as speech recognition writes them


@pytest.mark.parametrize(
    ("said", "phone"),
    [
        ("555-123-4567", "555 123 4567"),
        ("(555) 123-4567", "555 123 4567"),
        ("my number is 555 123 4567", "555 123 4567"),
        ("5551234567", "555 123 4567"),
        ("five five five one two three four five six seven", "555 123 4567"),
        ("five five five, one two three, four five six seven", "555 123 4567"),
        ("5-5-5, 1-2-3, 4-5-6-7", "555 123 4567"),
        ("double five five, one two three, forty five sixty seven", "555 123 4567"),
        ("it's five five five oh one four two", "555-0142"),
        ("+1 555 123 4567", "1 555 123 4567"),
        ("020 7946 0958", "020 7946 0958"),
    ],
)
def test_a_phone_number_is_understood_in_digits_or_words(said: str, phone: str) -> None:
    assert details_in(said, "phone").phone == phone


@pytest.mark.parametrize(
    ("said", "name"),
    [
        ("Maria", "Maria"),
        ("maria lopez", "Maria Lopez"),
        ("um, it's Maria", "Maria"),
        ("my name is maria", "Maria"),
        ("Sure, it's Aisha Khan, 555 331 0772", "Aisha Khan"),
        ("This is James O'Brien.", "James O'Brien"),
        ("hold on", None),
        ("what are your hours", None),
        ("one second", None),
    ],
)
def test_a_name_is_understood_when_asked_for(said: str, name: str | None) -> None:
    assert details_in(said, "name").name == name


@pytest.mark.parametrize(
    ("said", "name"),
    [
        ("I'm Dave Miller, 555 881 2034", "Dave Miller"),
        ("This is confusing", None),
        ("I'm calling about whitening", None),
    ],
)
def test_a_name_said_unasked_needs_a_capital(said: str, name: str | None) -> None:
    assert details_in(said, None).name == name


@pytest.mark.parametrize(
    ("said", "time"),
    [
        ("can I book for tomorrow at 3", "tomorrow at 3"),
        ("Tuesday afternoon works best", "Tuesday afternoon"),
        ("mornings are best", "mornings"),
        ("any time after three p.m.", "after 3 pm"),
        ("next week", "next week"),
        ("at 10:30 on Friday", "at 10:30 on Friday"),
        ("whenever", None),
        ("any time", None),
        ("how much is a cleaning", None),
    ],
)
def test_a_time_is_understood_in_the_callers_words(said: str, time: str | None) -> None:
    assert details_in(said, "time").time == time


def test_phone_numbers_are_grouped_as_they_are_read_out() -> None:
    assert [format_phone(digits) for digits in ("5551234567", "15551234567", "5550142")] == [
        "555 123 4567",
        "1 555 123 4567",
        "555-0142",
    ]


async def test_the_form_is_read_back_from_the_context_however_its_lines_were_joined() -> None:
    # The engine's context joins the streamed pieces (and a silence reprompt) into one message of the agent's.
    messages = [
        Message("user", "can someone call me back"),
        Message("assistant", "Of course, I can have someone call you back.  May I have your\nname, please?"),
        Message("user", "Maria"),
        Message("assistant", "Thanks, Maria.   What's the best number to call you back on? Are you still there?"),
        Message("user", "yes sorry, 555 123 4567"),
    ]
    prompt = Prompt("", messages, WITHOUT_BOOKING, business_name=BUSINESS)
    pieces = [piece async for piece in ExtractiveResponder().reply(prompt)]
    assert pieces == ["I have your number as 555 123 4567. When is a good time to call you?"]
