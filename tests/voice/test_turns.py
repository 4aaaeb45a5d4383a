import pytest
from pipecat.processors.aggregators.llm_context import LLMContext

from vocalis.voice.engine import context_messages
from vocalis.voice.thinking import Message
from vocalis.voice.turns import CONTINUATION_HEARD_SECONDS, TurnJoiner, is_backchannel, is_opener


@pytest.mark.parametrize(
    "said",
    ["Uh-huh.", "okay", "Mm-hm", "Yeah.", "Right, right.", "Oh, okay.", "I see.", "MMA.", "Collar", "M.M.H.M.",
     "M-M-H-M"],
)  # fmt: skip
def test_a_listeners_sounds_are_backchannels(said: str) -> None:
    assert is_backchannel(said)


@pytest.mark.parametrize(
    "said",
    ["Wait, what about Sunday?", "Okay, and do you take Cigna?", "No", "Stop", "Sorry?", "Hello?", "", "I. T. A."],
)
def test_words_that_ask_for_the_floor_are_not(said: str) -> None:
    assert not is_backchannel(said)


@pytest.mark.parametrize("said", ["Hi there.", "Hello?", "Hey, um", "Good morning.", "Oh hi", "OK.", "Sorry, actually"])
def test_a_greeting_alone_opens_a_turn_that_may_go_on(said: str) -> None:
    assert is_opener(said)


@pytest.mark.parametrize("said", ["Hi, are you open on Saturday?", "Yes.", "Bye.", ""])
def test_a_turn_that_says_something_is_not_just_an_opener(said: str) -> None:
    assert not is_opener(said)


def conversation(*messages: tuple[str, str]) -> LLMContext:
    return LLMContext(messages=[{"role": role, "content": content} for role, content in messages])  # type: ignore[misc]


def test_a_caller_who_goes_on_has_the_reply_dropped_and_their_words_joined() -> None:
    context = conversation(
        ("assistant", "Hello! How can I help?"),
        ("user", "Hi there."),
        ("assistant", "Hello!"),
        ("user", "Open Saturday?"),
    )
    joiner = TurnJoiner()
    joiner.turn_stopped()
    joiner.turn_started(heard_seconds=0.4)
    joiner.join(context)
    assert context_messages(context) == [
        Message("assistant", "Hello! How can I help?"),
        Message("user", "Hi there. Open Saturday?"),
    ]
    # Once only: the next turn is a turn of its own.
    context.add_message({"role": "assistant", "content": "We open at 10."})
    context.add_message({"role": "user", "content": "Thanks."})
    joiner.join(context)
    assert context_messages(context)[-2:] == [Message("assistant", "We open at 10."), Message("user", "Thanks.")]


def test_a_caller_who_heard_the_reply_answers_it() -> None:
    context = conversation(("user", "What time do you open?"), ("assistant", "At 9 am."), ("user", "And Saturday?"))
    joiner = TurnJoiner()
    joiner.turn_stopped()
    joiner.turn_started(heard_seconds=CONTINUATION_HEARD_SECONDS + 0.5)
    joiner.join(context)
    assert [message.role for message in context_messages(context)] == ["user", "assistant", "user"]


def test_a_caller_who_speaks_long_after_their_turn_starts_a_new_one(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([100.0, 110.0])
    monkeypatch.setattr("vocalis.voice.turns.time.monotonic", lambda: next(clock))
    joiner = TurnJoiner()
    joiner.turn_stopped()
    joiner.turn_started(heard_seconds=0.0)
    context = conversation(("user", "Hi."), ("assistant", "Hello!"), ("user", "Bye."))
    joiner.join(context)
    assert len(context_messages(context)) == 3


def test_a_caller_who_barged_in_has_the_words_they_heard_before_their_own() -> None:
    # Pipecat keeps a reply's sentence in the context only once all of it was played.
    context = conversation(("user", "Tell me about cancelling."), ("user", "Sorry, how much is whitening?"))
    joiner = TurnJoiner()
    joiner.turn_stopped()
    joiner.turn_started(heard_seconds=2.2, heard_words="Please give us at least 24 hours'")
    joiner.join(context)
    assert context_messages(context) == [
        Message("user", "Tell me about cancelling."),
        Message("assistant", "Please give us at least 24 hours'"),
        Message("user", "Sorry, how much is whitening?"),
    ]


def test_the_heard_words_are_not_added_twice() -> None:
    context = conversation(("user", "Hours?"), ("assistant", "We open at nine"), ("user", "And Sunday?"))
    joiner = TurnJoiner()
    joiner.turn_stopped()
    joiner.turn_started(heard_seconds=2.0, heard_words="We open at nine")
    joiner.join(context)
    assert [message.role for message in context_messages(context)] == ["user", "assistant", "user"]
