"""The reply step of a call's pipeline: a reply that does not answer waits for a caller who may go on."""

import time

import pytest
from pipecat.frames.frames import LLMContextFrame, LLMTextFrame
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.tests.utils import run_test

from vocalis.voice import engine
from vocalis.voice.engine import ReplyProcessor
from vocalis.voice.responder import ExtractiveResponder
from vocalis.voice.responder.thinker import FALLBACK
from vocalis.voice.settings import VoiceSettings
from vocalis.voice.thinking import CallbackRequest
from vocalis.voice.turns import TurnJoiner


async def no_passages(_: str) -> list[str]:
    return []


async def not_ended(_: str, __: str | None) -> None:
    return None


def no_callback(_: CallbackRequest) -> None:
    return None


async def seconds_to_reply(said: str, unfinished_since: float | None = None) -> tuple[float, str]:
    settings, thinker = VoiceSettings(), ExtractiveResponder()
    replies = ReplyProcessor(
        settings, thinker, no_passages, TurnJoiner(), not_ended, no_callback, lambda: unfinished_since
    )
    context = LLMContext(messages=[{"role": "user", "content": said}])
    started = time.monotonic()
    down, _ = await run_test(replies, frames_to_send=[LLMContextFrame(context)])
    text = "".join(frame.text for frame in down if isinstance(frame, LLMTextFrame))
    return time.monotonic() - started, text


@pytest.fixture(autouse=True)
def short_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "UNFINISHED_HOLD_SECONDS", 0.8)


async def test_no_answer_to_a_turn_judged_unfinished_waits_for_the_caller_to_go_on() -> None:
    seconds, text = await seconds_to_reply("So, um, I was wondering,", time.time())
    assert text == FALLBACK
    assert seconds >= 0.8


async def test_no_answer_to_a_finished_turn_is_given_at_once() -> None:
    seconds, text = await seconds_to_reply("Do you sell gift cards?")
    assert text == FALLBACK
    assert seconds < 0.5


async def test_an_answer_is_given_at_once_however_the_turn_ended() -> None:
    seconds, text = await seconds_to_reply("Hello?", time.time())
    assert text and text != FALLBACK
    assert seconds < 0.5
