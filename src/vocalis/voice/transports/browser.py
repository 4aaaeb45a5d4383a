"""The browser (web call) WebSocket protocol, as a Pipecat frame serializer.

Binary frames carry raw 16-bit little-endian mono PCM at 16 kHz, both ways. Text frames carry JSON events: the server
sends `call.started`, `transcript` ({role, text, final}), `agent.speaking`, `agent.stopped`, `call.ended` ({reason})
and `error` ({message}); the client may send `{"type": "hangup"}`. Anything else from the client is a protocol error
that ends the call (reason `protocol_error`).
"""

import json
from typing import Any

from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    OutputAudioRawFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
)
from pipecat.serializers.base_serializer import FrameSerializer

SAMPLE_RATE = 16_000
# A binary frame larger than this (one second of audio) is a protocol error, not audio.
MAX_AUDIO_FRAME_BYTES = SAMPLE_RATE * 2


class ProtocolError(Exception):
    """The client sent something the protocol does not allow."""


class BrowserSerializer(FrameSerializer):
    """Turns client messages into frames and frames into client messages.

    Malformed client messages are not raised from here (Pipecat's receive loop would only log them); they are
    handed to `on_protocol_error`, which ends the call.
    """

    def __init__(self, on_protocol_error: Any, on_hangup: Any) -> None:
        super().__init__()
        self._on_protocol_error = on_protocol_error
        self._on_hangup = on_hangup

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, OutputAudioRawFrame):
            return frame.audio
        if isinstance(frame, OutputTransportMessageFrame | OutputTransportMessageUrgentFrame):
            return json.dumps(frame.message)
        return None

    async def deserialize(self, data: str | bytes) -> Frame | None:
        if isinstance(data, bytes):
            if len(data) % 2 or len(data) > MAX_AUDIO_FRAME_BYTES:
                await self._on_protocol_error(
                    f"Audio frames must be 16-bit PCM of at most {MAX_AUDIO_FRAME_BYTES} bytes (got {len(data)})"
                )
                return None
            return InputAudioRawFrame(audio=data, sample_rate=SAMPLE_RATE, num_channels=1) if data else None
        try:
            message = json.loads(data)
        except ValueError:
            await self._on_protocol_error("Text frames must be JSON")
            return None
        if isinstance(message, dict) and message.get("type") == "hangup":
            await self._on_hangup()
            return None
        await self._on_protocol_error('Unknown message: the client may only send audio and {"type": "hangup"}')
        return None


def event(kind: str, **fields: Any) -> OutputTransportMessageUrgentFrame:
    """A JSON event for the client, sent ahead of any queued audio."""
    return OutputTransportMessageUrgentFrame(message={"type": kind, **fields})
