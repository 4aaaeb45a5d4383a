"""The offline speech services in Pipecat pipelines: hibari or Piper speaks a phrase, Whisper hears the same words
back."""

import pytest
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    ErrorFrame,
    Frame,
    InputAudioRawFrame,
    InterimTranscriptionFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.worker import PipelineParams
from pipecat.tests.utils import SleepFrame, run_test

from tests.voice.speech import SAMPLE_RATE, caller_audio, words
from vocalis.config import Settings
from vocalis.voice.providers.piper import PiperServer
from vocalis.voice.providers.speech import HibariTTS, LocalWhisperSTT, OfflineTTS, PiperTTS
from vocalis.voice.turns import SegmentTranscribedFrame
from vocalis.voice.weights import load_whisper

PHRASE = "What time do you open on Saturday?"
FRAME_BYTES = SAMPLE_RATE // 50 * 2  # 20 ms, as a transport delivers it


@pytest.mark.parametrize("model", ["base", "tiny.en"])
async def test_whisper_transcribes_what_the_caller_said(
    speech_settings: Settings, piper_server: PiperServer, model: str
) -> None:
    audio = await caller_audio(PHRASE)
    stt = LocalWhisperSTT(speech_settings, model)
    await stt.load()  # first time for base: assembled into the data dir, then loaded
    chunks = [audio[offset : offset + FRAME_BYTES] for offset in range(0, len(audio), FRAME_BYTES)]
    frames: list[Frame] = [
        VADUserStartedSpeakingFrame(),
        *(InputAudioRawFrame(chunk, SAMPLE_RATE, 1) for chunk in chunks),
        VADUserStoppedSpeakingFrame(),
    ]

    down, _ = await run_test(stt, frames_to_send=frames, start_timeout=30.0)

    transcripts = [frame for frame in down if isinstance(frame, TranscriptionFrame)]
    assert [words(frame.text) for frame in transcripts] == [words(PHRASE)], transcripts
    assert transcripts[0].finalized
    assert not any(isinstance(frame, InterimTranscriptionFrame) for frame in down)  # read once, at its end
    # The segment as transcribed: the speech plus the half second of silence Pipecat pads it with.
    assert stt.usage.stt_seconds == pytest.approx(len(audio) / 2 / SAMPLE_RATE + 0.5, abs=0.01)
    # One model per size for the whole process, whatever the number of calls.
    assert load_whisper(speech_settings, model) is load_whisper(speech_settings, model)


async def test_words_spoken_over_the_agent_are_read_as_they_come(
    speech_settings: Settings, piper_server: PiperServer
) -> None:
    audio = await caller_audio(PHRASE)
    stt = LocalWhisperSTT(speech_settings, "tiny.en")
    await stt.load()
    chunks = [audio[offset : offset + FRAME_BYTES] for offset in range(0, len(audio), FRAME_BYTES)]
    frames: list[Frame] = [
        BotStartedSpeakingFrame(),
        VADUserStartedSpeakingFrame(),
        *(InputAudioRawFrame(chunk, SAMPLE_RATE, 1) for chunk in chunks),
        SleepFrame(1.0),  # the caller is still speaking while the words so far are read
        VADUserStoppedSpeakingFrame(),
    ]

    down, _ = await run_test(stt, frames_to_send=frames, start_timeout=30.0)

    interim = [frame.text for frame in down if isinstance(frame, InterimTranscriptionFrame)]
    assert interim and all(words(text) and set(words(text)) <= set(words(PHRASE)) for text in interim), interim
    transcripts = [frame for frame in down if isinstance(frame, TranscriptionFrame)]
    assert [words(frame.text) for frame in transcripts] == [words(PHRASE)]


@pytest.fixture(params=["hibari", "piper"])
def voice(request: pytest.FixtureRequest, piper_server: PiperServer) -> OfflineTTS:
    return HibariTTS(speed=1.0) if request.param == "hibari" else PiperTTS(piper_server, speed=1.0)


async def test_a_voice_speaks_into_the_pipeline_and_whisper_hears_it(
    speech_settings: Settings, voice: OfflineTTS
) -> None:
    tts = voice
    down, _ = await run_test(
        tts,
        frames_to_send=[TTSSpeakFrame(PHRASE)],
        pipeline_params=PipelineParams(audio_out_sample_rate=SAMPLE_RATE),
    )

    kinds = [type(frame) for frame in down]
    assert kinds.index(TTSStartedFrame) < kinds.index(TTSAudioRawFrame) < kinds.index(TTSStoppedFrame)
    chunks = [frame for frame in down if isinstance(frame, TTSAudioRawFrame)]
    assert {(chunk.sample_rate, chunk.num_channels) for chunk in chunks} == {(SAMPLE_RATE, 1)}
    assert max(len(chunk.audio) for chunk in chunks) == SAMPLE_RATE * 40 // 1000 * 2  # 40 ms frames
    assert tts.usage.tts_characters == len(PHRASE)

    stt = LocalWhisperSTT(speech_settings, "tiny.en")
    frames = [frame async for frame in stt.run_stt(b"".join(chunk.audio for chunk in chunks))]
    # The transcript, then the marker that the segment is done (the turn's end waits for it).
    assert [type(frame) for frame in frames] == [TranscriptionFrame, SegmentTranscribedFrame]
    transcripts = frames[:1]
    assert isinstance(transcripts[0], TranscriptionFrame)
    assert words(transcripts[0].text) == words(PHRASE)


async def test_a_sentence_the_voice_cannot_say_is_an_error_and_the_next_is_spoken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vocalis.voice.providers import speech

    say = speech._hibari_pcm

    def failing_once(text: str, speed: float) -> tuple[bytes, int]:
        if "broken" in text:
            raise IndexError("phoneme out of range")
        return say(text, speed)

    monkeypatch.setattr(speech, "_hibari_pcm", failing_once)
    tts = HibariTTS()
    down, up = await run_test(
        tts,
        frames_to_send=[TTSSpeakFrame("A broken sentence."), TTSSpeakFrame(PHRASE)],
        pipeline_params=PipelineParams(audio_out_sample_rate=SAMPLE_RATE),
    )

    errors = [frame.error for frame in up if isinstance(frame, ErrorFrame)]
    assert "Speech synthesis failed: IndexError: phoneme out of range" in errors
    assert any(isinstance(frame, TTSAudioRawFrame) for frame in down)
    assert tts.usage.tts_characters == len(PHRASE)  # only what was said


def test_hibari_is_told_how_to_say_the_names_it_guesses_wrong() -> None:
    from vocalis.voice.providers.speech import _pronounced

    assert _pronounced("We take Aetna, and AETNA's plans.") == (
        "We take [Aetna](/ˈɛtnə/), and [AETNA](/ˈɛtnə/)'s plans."  # noqa: RUF001 (IPA)
    )
    assert _pronounced("Aetnas and Metaetna stay as they are.") == "Aetnas and Metaetna stay as they are."
