"""The browser WebSocket protocol: 16-bit PCM at 16 kHz in binary frames, JSON events in text frames."""

import json

import pytest
from pipecat.frames.frames import (
    InputAudioRawFrame,
    OutputAudioRawFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
    TextFrame,
    TTSAudioRawFrame,
)

from vocalis.voice.events import CallEnded, Transcript
from vocalis.voice.transports.browser import MAX_AUDIO_FRAME_BYTES, BrowserSerializer


class Client:
    """A serializer for one call, and the hang-ups it reported: (end reason, error or None)."""

    def __init__(self) -> None:
        self.hang_ups: list[tuple[str, str | None]] = []
        self.serializer = BrowserSerializer(self.hang_up)

    async def hang_up(self, reason: str, error: str | None) -> None:
        self.hang_ups.append((reason, error))


def test_an_audio_frame_holds_at_most_one_second_of_audio() -> None:
    assert MAX_AUDIO_FRAME_BYTES == 16_000 * 2


@pytest.mark.parametrize("size", [2, 640, MAX_AUDIO_FRAME_BYTES])
async def test_binary_frames_are_16_bit_pcm_at_16_khz(size: int) -> None:
    client = Client()
    audio = bytes(i % 256 for i in range(size))
    frame = await client.serializer.deserialize(audio)
    assert isinstance(frame, InputAudioRawFrame)
    assert (frame.audio, frame.sample_rate, frame.num_channels) == (audio, 16_000, 1)
    assert client.hang_ups == []


async def test_an_empty_binary_frame_is_ignored() -> None:
    client = Client()
    assert await client.serializer.deserialize(b"") is None
    assert client.hang_ups == []


@pytest.mark.parametrize(
    "size",
    [1, 641, MAX_AUDIO_FRAME_BYTES - 1, MAX_AUDIO_FRAME_BYTES + 2],
    ids=["one-byte", "odd", "odd-at-the-limit", "over-one-second"],
)
async def test_a_binary_frame_of_odd_length_or_over_one_second_is_a_protocol_error(size: int) -> None:
    client = Client()
    assert await client.serializer.deserialize(bytes(size)) is None
    [(reason, error)] = client.hang_ups
    assert reason == "protocol_error"
    assert error is not None and str(size) in error


async def test_a_hangup_message_hangs_up() -> None:
    client = Client()
    assert await client.serializer.deserialize(json.dumps({"type": "hangup"})) is None
    assert client.hang_ups == [("caller_hangup", None)]


@pytest.mark.parametrize(
    "text",
    ["hang up", "", '{"type": "hangup"', '"hangup"', '["hangup"]', "{}", '{"type": "start"}', '{"type": "HANGUP"}'],
)
async def test_any_other_text_frame_is_a_protocol_error(text: str) -> None:
    client = Client()
    assert await client.serializer.deserialize(text) is None
    [(reason, error)] = client.hang_ups
    assert reason == "protocol_error"
    assert error


async def test_output_audio_is_sent_as_its_bytes() -> None:
    serializer = Client().serializer
    audio = b"\x01\x02" * 320
    for frame in (OutputAudioRawFrame(audio, 16_000, 1), TTSAudioRawFrame(audio, 16_000, 1)):
        assert await serializer.serialize(frame) == audio


async def test_call_events_are_sent_as_json() -> None:
    serializer = Client().serializer
    transcript = Transcript(role="agent", text="Hello", final=True)
    sent = await serializer.serialize(OutputTransportMessageUrgentFrame(message=transcript))
    assert isinstance(sent, str)
    assert json.loads(sent) == {"type": "transcript", "role": "agent", "text": "Hello", "final": True}

    sent = await serializer.serialize(OutputTransportMessageFrame(message=CallEnded("hangup")))
    assert isinstance(sent, str)
    assert json.loads(sent) == {"type": "call.ended", "reason": "hangup"}


async def test_other_transport_messages_are_sent_as_json_too() -> None:
    sent = await Client().serializer.serialize(OutputTransportMessageFrame(message={"type": "custom", "n": 1}))
    assert isinstance(sent, str)
    assert json.loads(sent) == {"type": "custom", "n": 1}


async def test_other_frames_are_not_sent() -> None:
    assert await Client().serializer.serialize(TextFrame("internal")) is None


async def test_deeply_nested_json_is_a_protocol_error() -> None:
    client = Client()
    assert await client.serializer.deserialize("[" * 100_000) is None
    assert client.hang_ups == [("protocol_error", "Text frames must be JSON")]
