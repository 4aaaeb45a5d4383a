"""The offline responder on a dental clinic's FAQ as a PDF parser leaves it: titles on lines of their own, hard-wrapped
sentences, a price list, opening hours as short lines, page footers, cut into overlapping chunks."""

import pytest

from tests.voice.dental_faq import PASSAGES, TITLES
from vocalis.voice.responder import FALLBACK, ExtractiveResponder, answer
from vocalis.voice.thinking import EndCall, Message, Prompt


async def reply(said: str, passages: list[str] = PASSAGES) -> list[str]:
    prompt = Prompt(
        system_prompt="",
        messages=[Message("user", said)],
        passages=passages,
        business_name="Bright Smile Dental",
    )
    pieces = [piece async for piece in ExtractiveResponder().reply(prompt)]
    assert not any(isinstance(piece, EndCall) for piece in pieces)
    return [piece.strip() for piece in pieces if isinstance(piece, str)]


def test_the_faq_is_cut_anywhere_like_real_chunks() -> None:
    # The first chunk ends inside a sentence, the second starts inside the page footer.
    assert [passage[-20:] for passage in PASSAGES[:1]] == ["our insurer is not on"[-20:]]
    assert PASSAGES[1].startswith("1 of 2\nInsurance")


@pytest.mark.parametrize(
    "question",
    [
        "Tell me about your cancellation policy",
        "What are your opening hours?",
        "How do I contact you?",
        "What are your prices?",
        "Which insurance do you take?",
        "How can I book?",
        "What's on page 2?",
    ],
)
async def test_a_title_is_never_said(question: str) -> None:
    for sentence in await reply(question):
        assert not any(sentence.startswith(title) for title in TITLES), sentence
        assert "Page 1" not in sentence and "Page 2" not in sentence


async def test_the_sentence_that_answers_comes_first_and_the_answer_is_short() -> None:
    said = await reply("How much is teeth whitening?")
    assert said[0] == "Teeth whitening, full in-office treatment $350."
    assert not any("$95" in sentence for sentence in said)  # the cleaning price came first before
    assert len(said) <= 2


@pytest.mark.parametrize(
    "question",
    [
        "Tell me about your cancellation policy",
        "What happens if I cancel my appointment at the last minute?",
        "um so if i cancel my appointment is there a fee",
        "how does the cancellation policy work",
        "what's the cancellation fee",
    ],
)
async def test_the_cancellation_answer_keeps_the_fee(question: str) -> None:
    said = " ".join(await reply(question))
    assert "$30 cancellation fee" in said
    assert "24 hours' notice" in said


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        (
            "What are your hours?",
            ["Mon to Fri 8am to 6pm; Saturday 9am to 1pm.", "We are closed on Sundays and on public holidays."],
        ),
        ("Are you open on Wednesday?", ["Mon to Fri 8am to 6pm."]),
        ("What time do you close on Friday?", ["Mon to Fri 8am to 6pm."]),
        ("Are you open on Saturday no, sorry, I mean Sunday?", ["We are closed on Sundays and on public holidays."]),
        ("How much is a cleaning?", ["Routine cleaning (scale and polish) $95."]),
        (
            "What are your prices?",
            ["Routine cleaning (scale and polish) $95; Teeth whitening, full in-office treatment $350; "
             "New patient exam with x-rays $120."],
        ),
        ("What's your email?", ["Email: hello@brightsmile.example."]),
        ("How early should new patients arrive?", ["New patients should arrive 15 minutes early."]),
        # Two questions in one breath: one answer each.
        (
            "How much is a cleaning, and do you take Delta Dental?",
            [
                "Routine cleaning (scale and polish) $95.",
                "We accept Aetna, Delta Dental, MetLife and Guardian dental plans.",
            ],
        ),
        # Whisper writes a fast caller in Title Case at times.
        (
            "Quick Question, Do You Guys Take Aetna, And How Much Is A Cleaning?",
            [
                "We accept Aetna, Delta Dental, MetLife and Guardian dental plans.",
                "Routine cleaning (scale and polish) $95.",
            ],
        ),
        (
            "What's the difference in price between teeth whitening and a regular cleaning?",
            ["Teeth whitening, full in-office treatment $350.", "Routine cleaning (scale and polish) $95."],
        ),
        # The clinic says nothing of walk-ins: only the hours are answered, and no list of insurers.
        ("what are your hours and do you take walk-ins?", ["Mon to Fri 8am to 6pm; Saturday 9am to 1pm."]),
    ],
)  # fmt: skip
async def test_questions_get_the_sentence_that_answers_them(question: str, expected: list[str]) -> None:
    assert await reply(question) == expected


async def test_a_heard_question_without_punctuation_is_answered() -> None:
    assert await reply("um so uh how much is uh whitening") == ["Teeth whitening, full in-office treatment $350."]
    assert await reply("hi there are you open on saturday") == ["Saturday 9am to 1pm."]


@pytest.mark.parametrize("said", ["How much is the Wicening?", "so um how much is the wightening"])
async def test_a_misheard_word_of_the_business_is_taken_for_the_word_it_is_like(said: str) -> None:
    assert await reply(said) == ["Teeth whitening, full in-office treatment $350."]


async def test_a_misheard_insurer_is_the_insurer_not_a_near_miss() -> None:
    assert await reply("Do you take Aetnna?") == ["We accept Aetna, Delta Dental, MetLife and Guardian dental plans."]


async def test_a_price_asked_of_that_is_the_price_of_what_was_just_named() -> None:
    said = "So, for the whitening. How much does that cost?"
    assert await reply(said) == ["Teeth whitening, full in-office treatment $350."]


@pytest.mark.parametrize("said", ["Do you sell cars?", "What's the weather like?", "Do you do Invisalign?"])
async def test_a_word_like_none_of_the_business_still_gets_the_fallback(said: str) -> None:
    assert await reply(said) == [FALLBACK]


# --- near misses: the caller names something the knowledge does not list


@pytest.mark.parametrize("question", ["Do you take Cigna?", "do you take Cigna", "Do you accept Cigna insurance?"])
async def test_an_insurer_not_listed_gets_the_list(question: str) -> None:
    assert await reply(question) == [
        "I don't see Cigna in what I have.",
        "We accept Aetna, Delta Dental, MetLife and Guardian dental plans.",
    ]


async def test_an_insurer_not_listed_typed_in_lower_case_gets_the_list_when_insurance_is_named() -> None:
    # Lower case is no sign of a name ("cigna" could be any word), but the caller named the list's topic.
    assert await reply("do you take cigna insurance") == [
        "We accept Aetna, Delta Dental, MetLife and Guardian dental plans."
    ]


async def test_a_listed_insurer_is_answered_plainly() -> None:
    assert await reply("Do you take MetLife?") == ["We accept Aetna, Delta Dental, MetLife and Guardian dental plans."]


@pytest.mark.parametrize(
    "question",
    [
        "do you sell cars?",
        "What's the weather like?",
        "Do you take walk-ins?",
        "Do you offer Invisalign braces?",
        "Can I buy a gift card for a friend?",
        "What is the capital of Peru?",
    ],
)
async def test_a_topic_the_knowledge_lacks_gets_the_fallback_not_a_random_passage(question: str) -> None:
    assert await reply(question) == [FALLBACK]


def test_answer_is_importable_and_says_the_same() -> None:
    assert answer("How much is teeth whitening?", PASSAGES) == ["Teeth whitening, full in-office treatment $350."]


# --- reading a PDF's text


def test_a_long_sentence_is_cut_after_its_fact_not_before() -> None:
    passage = (
        "If you cannot make it, which happens to everyone now and then, for instance because of illness, traffic, "
        "work or family matters, or simply because you forgot, please let the front desk know as soon as you can, "
        "and bear in mind that appointments missed without notice are charged a $30 fee."
    )
    (sentence,) = answer("What if I miss my appointment?", [passage], max_words=30)
    assert sentence.endswith("are charged a $30 fee.")


def test_a_sentence_cut_by_a_chunk_is_said_whole_from_the_other_chunk() -> None:
    whole = "Appointments cancelled with less than 24 hours' notice are charged a $30 cancellation fee."
    first = "Please give us notice if you need to cancel. Appointments cancelled with less than 24 hours'"
    second = "less than 24 hours' notice are charged a $30 cancellation fee. New patients should arrive early."
    assert answer("Is there a cancellation fee?", [first, second, whole]) == [whole]
    # Alone, the end of the sentence is still said, starting with a capital.
    assert answer("Is there a cancellation fee?", [second]) == [
        "Less than 24 hours' notice are charged a $30 cancellation fee."
    ]


def test_lines_of_a_price_list_are_items_not_one_run_on_sentence() -> None:
    passage = "Prices\nHaircut $30\nBeard trim $15\nColour from $60"
    assert answer("How much is a beard trim?", [passage]) == ["Beard trim $15."]
    assert answer("What are your prices?", [passage]) == ["Haircut $30; Beard trim $15; Colour from $60."]


def test_names_on_lines_of_their_own_are_a_list_not_titles() -> None:
    passage = "Our Team\nDr. Priya Raman\nDr. Tom Becker\nAna Souza\n\nParking\nFree parking is behind the building."
    assert answer("Is Dr. Becker there?", [passage]) == ["Dr. Tom Becker."]
    assert answer("Is there parking?", [passage]) == ["Free parking is behind the building."]
