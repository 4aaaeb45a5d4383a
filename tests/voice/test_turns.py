import pytest
from pipecat.processors.aggregators.llm_context import LLMContext

from vocalis.voice.engine import context_messages
from vocalis.voice.thinking import Message
from vocalis.voice.turns import CONTINUATION_HEARD_SECONDS, TurnJoiner, is_backchannel


@pytest.mark.parametrize("said", ["Uh-huh.", "okay", "Mm-hm", "Yeah.", "Right, right.", "Oh, okay.", "I see."])
def test_a_listeners_sounds_are_backchannels(said: str) -> None:
    assert is_backchannel(said)


@pytest.mark.parametrize("said", ["Wait, what about Sunday?", "Okay, and do you take Cigna?", "No", "Stop", ""])
def test_words_that_ask_for_the_floor_are_not(said: str) -> None:
    assert not is_backchannel(said)


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
