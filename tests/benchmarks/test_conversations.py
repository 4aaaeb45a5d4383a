"""The conversation harness (`benchmarks.conversations`) in `make test`.

Its quick scenarios (`python -m benchmarks.conversations --quick`: those marked `quick: true`), spoken by Piper on
the web band, are run against the whole platform served in this process (lifespan, job worker, the offline speech
stack), as `tests/calls/test_live.py` serves it: each must pass, and each is a test of its own,
`test_quick_conversation[<scenario>]` (find them with `-k quick_conversation`). The calls run once, in a module
fixture, one after another (about a minute and a half in all). The other tests here check the harness's own rules
(matching facts, cutting replies, the telephone band, the scenario files) without a server.
"""

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from benchmarks._conversations_audio import PhoneBand, mu_law_decode, mu_law_encode, pink_noise, speech_level
from benchmarks._conversations_judge import (
    OVERLAP_ALLOWED,
    CallerTurn,
    CallLog,
    Reply,
    Verdict,
    attach_text,
    judge,
    says,
    split_replies,
    tokens,
)
from benchmarks._conversations_scenarios import Scenario, ScenarioError, load_scenario, load_scenarios
from benchmarks.conversations import agent_overrides, run_scenarios, select
from benchmarks.voice import Api

from tests.standins.server import serve
from vocalis.app import create_app
from vocalis.config import Settings
from vocalis.database import migrate
from vocalis.kit.embedded_postgres import EmbeddedPostgres

SCENARIOS = load_scenarios()
QUICK = select(SCENARIOS, only=None, quick=True)


# --- the quick scenarios, against the platform


@pytest.fixture(scope="module")
def conversation_platform(
    postgres: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str, Path]]:
    """The platform on 127.0.0.1, on a database of its own (the server commits): (base URL, database URL, data dir)."""
    url = postgres.create_database("vocalis_conversations")
    migrate(url)
    data_dir = tmp_path_factory.mktemp("conversation-data")
    settings = Settings(
        environment="test",
        data_dir=data_dir,
        secret_key="test-signing-key-" + "x" * 32,
        database_url=url,
        redis_url=None,
        auth_cache_seconds=0,
    )
    with serve(create_app(settings), lifespan="on") as base_url:
        yield base_url, url, data_dir


@pytest.fixture(scope="module")
async def quick_verdicts(conversation_platform: tuple[str, str, Path]) -> dict[str, Verdict]:
    base_url, database_url, data_dir = conversation_platform
    started = time.monotonic()

    def progress(line: str) -> None:  # shown with a failure: how long each call took
        print(f"{time.monotonic() - started:5.1f} s {line}")

    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        verdicts = await run_scenarios(Api(client), database_url, data_dir, QUICK, ["piper"], progress=progress)
    return {verdict.scenario: verdict for verdict in verdicts}


def explain(verdict: Verdict) -> str:
    """Why a scenario failed, and what the caller heard."""
    lines = [str(failure) for failure in verdict.failures]
    for number, turn in enumerate(verdict.turns, 1):
        lines.append(f"turn {number}: {turn.said!r}")
        lines += [f"  heard: {reply.heard!r} (agent text: {reply.said!r})" for reply in turn.replies]
    lines += ["the call record:", *(f"  {turn['role']}: {turn['text']!r}" for turn in verdict.record_turns)]
    return "\n".join(lines)


@pytest.mark.parametrize("name", [scenario.name for scenario in QUICK])
def test_quick_conversation(name: str, quick_verdicts: dict[str, Verdict]) -> None:
    verdict = quick_verdicts[name]
    assert verdict.passed, explain(verdict)


# --- the harness's own rules


def test_the_scenarios_load_and_cover_what_callers_do() -> None:
    assert len(SCENARIOS) >= 40
    assert 4 <= len(QUICK) <= 6
    turns = [turn for scenario in SCENARIOS for turn in scenario.turns]
    assert any(turn.silence for turn in turns)
    assert any(turn.expect.stops_talking for turn in turns) and any(turn.expect.keeps_talking for turn in turns)
    assert any(turn.expect.ends_call for turn in turns)
    assert any(turn.say and any(not isinstance(item, str) for item in turn.say) for turn in turns)  # pauses
    assert any(scenario.callback for scenario in SCENARIOS)
    assert any(scenario.snr is not None for scenario in SCENARIOS)
    assert {scenario.speed for scenario in SCENARIOS} > {1.0}
    assert len({scenario.knowledge for scenario in SCENARIOS}) >= 2


def scenario(text: str, tmp_path: Path) -> Scenario:
    path = tmp_path / "scenario.yaml"
    path.write_text(f"about: x\nknowledge: [bright-smile-dental-faq.txt]\n{text}")
    return load_scenario(path)


def test_the_command_line_sets_every_agents_speech_over_its_own() -> None:
    assert agent_overrides(None, None) == {}
    assert agent_overrides("tiny.en", "piper") == {"stt": {"model": "tiny.en"}, "tts": {"provider": "piper"}}


def test_a_scenario_that_says_something_impossible_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="while_agent_speaks"):
        scenario("turns:\n  - say: Okay.\n    expect: {keeps_talking: true}\n", tmp_path)


@pytest.mark.parametrize(
    ("text", "fact", "found"),
    [
        ("A routine cleaning costs $95.", "95", True),
        ("That's ninety-five dollars.", "95", True),
        ("We opened in 1995.", "95", False),
        ("Call (555) 014-2200. 42 Elm Street.", "555 014 2200", True),
        ("It's five five five, oh one four, two two oh oh.", "555 014 2200", True),
        ("It's 555 014 2299.", "555 014 2200", False),
        ("We're open 8:00 a.m. to 6:00 p.m.", "6 pm", True),
        ("We open at seven thirty AM.", "7 30", True),
        ("Monday to Friday, 7.30 a.m. to 6 p.m.", "7 30", True),
        ("It costs $9.50.", "950", False),
        ("Two hundred and fifty dollars.", "250", True),
        ("A 24,000-mile warranty.", "24000 mile", True),
        ("The 24-month, 24-thousand-mile warranty.", "24000 mile", True),
        ("About 5 hundred dollars.", "500", True),
        ("We accept Delta Dental.", "delta dental", True),
        ("We accept Delta.", "delta dental", False),
        ("We accept DeltaDental and Met Life.", "delta dental", True),
        ("We accept DeltaDental and Met Life.", "metlife", True),
        ("We accept DeltaDental and Met Life.", "metal", False),
        ("We are closed on Sundays.", "sunday", True),
        ("We are closed on Sundays.", "monday", False),
    ],
)
def test_facts_are_matched_on_normalised_words(text: str, fact: str, found: bool) -> None:
    assert says(text, [fact]) is found, tokens(text)


def frames(start: float, seconds: float) -> list[tuple[float, bytes]]:
    """Agent audio as it arrives: 20 ms frames, in real time."""
    return [(start + 0.02 * index, bytes(640)) for index in range(round(seconds / 0.02))]


def test_replies_are_cut_at_gaps_and_caller_turns_and_given_the_turn_they_answer() -> None:
    turns = [CallerTurn(0, "Hi there. Are you open on Saturday?", start=3.0, end=5.0)]
    # The greeting; a reply to "Hi there." started while the caller was still talking; the answer, with a 0.4 s
    # pause between its sentences.
    audio = frames(0.0, 2.0) + frames(4.0, 0.5) + frames(5.8, 2.0) + frames(8.2, 2.0)
    replies = split_replies(audio, turns)
    assert [(reply.turn, reply.false_start, round(reply.seconds, 1)) for reply in replies] == [
        (-1, False, 2.0),
        (0, True, 0.5),
        (0, False, 4.0),
    ]
    attach_text(replies, [(9.9, {"type": "transcript", "role": "agent", "text": "Saturday 9 to 1.", "final": True})])
    assert replies[2].said == "Saturday 9 to 1."


def test_a_reply_on_the_callers_last_syllable_is_not_talking_over() -> None:
    turns = [CallerTurn(0, "That's all I needed. Goodbye.", start=3.0, end=5.0)]
    [reply] = split_replies(frames(5.0 - OVERLAP_ALLOWED + 0.05, 1.5), turns)
    assert (reply.turn, reply.over_caller) == (0, False)


def test_a_reply_dropped_as_the_caller_went_on_is_a_false_start_and_the_answer_is_the_reply() -> None:
    turns = [CallerTurn(0, "Can someone call me back? I'm Dave Miller.", start=3.0, end=7.0)]
    # A reply started in the pause after the question, cut 0.4 s later; the answer after the caller's end.
    replies = split_replies(frames(5.0, 0.4) + frames(7.5, 2.0), turns)
    assert [(reply.false_start, reply.over_caller, round(reply.seconds, 1)) for reply in replies] == [
        (True, False, 0.4),
        (False, False, 2.0),
    ]
    # One that went on over the caller is talking over.
    [reply] = split_replies(frames(5.0, 1.5), turns)
    assert (reply.false_start, reply.over_caller) == (False, True)


def test_a_fact_said_but_heard_wrong_is_misheard_and_one_answered_a_turn_late_is_behind(tmp_path: Path) -> None:
    two_prices = scenario(
        "turns:\n  - say: How much is a cleaning?\n    expect: {heard: [95]}\n"
        "  - say: And whitening?\n    expect: {heard: [350]}\n",
        tmp_path,
    )
    log = CallLog(
        "x",
        "piper",
        turns=[CallerTurn(0, "", 1.0, 2.0), CallerTurn(1, "", 10.0, 11.0)],
        record={"status": "completed", "turns": []},
    )
    replies = [
        Reply(3.0, 6.0, b"", turn=0, said="It costs $95.", heard="It costs $85."),
        Reply(12.0, 15.0, b"", turn=1, said="A cleaning is $95.", heard="A cleaning is $95."),
    ]
    verdict = judge(two_prices, log, replies)
    checks = [(failure.check, failure.turn) for failure in verdict.failures]
    assert ("misheard", 0) in checks and ("facts", 1) in checks and ("record", None) in checks
    assert verdict.numbers_said == 1 and verdict.numbers_misheard == 1 and verdict.behind == 0
    assert verdict.latencies_ms == [1000.0, 1000.0]

    replies[0].said = replies[0].heard = "Let me check."
    late = judge(two_prices, log, replies)
    assert ("behind", 0) in [(failure.check, failure.turn) for failure in late.failures] and late.behind == 1


def record_checks(scenario_: Scenario, turns: list[tuple[str, str, bool]]) -> list[str]:
    latency = {"total_ms": 500}
    record = {
        "status": "completed",
        "turns": [{"role": role, "text": text, "interrupted": cut, "latency": latency} for role, text, cut in turns],
    }
    log = CallLog("x", "piper", turns=[CallerTurn(0, "", 1.0, 2.0)], record=record)
    return [failure.detail for failure in judge(scenario_, log, []).failures if failure.check == "record"]


def test_the_record_takes_a_false_start_and_a_barge_in_but_not_two_answers_to_one_turn(tmp_path: Path) -> None:
    one_question = scenario("turns:\n  - say: Do you see children?\n", tmp_path)
    false_start = [("agent", "Hello", False), ("user", "Do you see", False), ("agent", "I'm sorry", True)]
    assert record_checks(one_question, [*false_start, ("user", "children?", False), ("agent", "Yes.", False)]) == []
    twice = [("agent", "Hello", False), ("user", "Do you see children?", False), ("agent", "Yes.", False)]
    assert record_checks(one_question, [*twice, ("user", "Thanks.", False), ("agent", "Bye.", False)]) != []


def test_mu_law_keeps_speech_within_its_quantisation() -> None:
    samples = (np.sin(np.linspace(0, 200, 8000)) * 20_000).astype(np.int16)
    decoded = mu_law_decode(mu_law_encode(samples)).astype(np.int32)
    assert np.max(np.abs(decoded - samples) / np.maximum(np.abs(samples), 256)) < 0.07


def test_the_phone_band_streams_frame_by_frame_as_it_would_whole_and_cuts_above_4_khz() -> None:
    rate = 16_000
    time_axis = np.arange(rate) / rate
    low, high = np.sin(2 * np.pi * 500 * time_axis), np.sin(2 * np.pi * 6000 * time_axis)
    pcm = ((low + high) * 8000).astype(np.int16).tobytes()
    whole = PhoneBand().pcm(pcm)
    streaming = PhoneBand()
    assert b"".join(streaming.pcm(pcm[offset : offset + 640]) for offset in range(0, len(pcm), 640)) == whole
    out = np.frombuffer(whole, dtype=np.int16).astype(np.float64)[800:]
    spectrum = np.abs(np.fft.rfft(out))
    frequencies = np.fft.rfftfreq(len(out), 1 / rate)
    assert spectrum[np.argmin(np.abs(frequencies - 6000))] < 0.01 * spectrum[np.argmin(np.abs(frequencies - 500))]


def test_noise_is_set_below_the_speech_level() -> None:
    speech = (np.sin(np.linspace(0, 3000, 32_000)) * 3000).astype(np.int16).tobytes()
    level = speech_level([speech])
    assert 2000 < level < 2200  # a sine's RMS: amplitude / sqrt(2)
    noise = pink_noise(2.0)
    assert abs(float(np.sqrt(np.mean(noise**2))) - 1.0) < 1e-6
