"""The browser (web call) WebSocket protocol, as a call transport.

Binary frames carry raw 16-bit little-endian mono PCM at 16 kHz, both ways. Text frames carry JSON events: the server
sends `call.started`, `transcript` ({role, text, final}), `agent.speaking`, `agent.stopped`, `call.ended` ({reason})
and `error` ({message}); the client may send `{"type": "hangup"}`. Anything else from the client is a protocol error
that ends the call (reason `protocol_error`).
"""

import contextlib
import json
from typing import Any

from fastapi import WebSocket
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    OutputAudioRawFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
)
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.transports.base_transport import BaseTransport
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
from starlette.websockets import WebSocketState

from vocalis.voice.audio import SAMPLE_RATE, SAMPLE_WIDTH
from vocalis.voice.events import CallEvent
from vocalis.voice.transports import HangUp

# A binary frame larger than this (one second of audio) is a protocol error, not audio. `vocalis serve` also makes it
# the WebSocket's largest message, so the server never buffers more from a client (it closes with 1009 instead).
MAX_AUDIO_FRAME_BYTES = SAMPLE_RATE * SAMPLE_WIDTH


class BrowserSerializer(FrameSerializer):
    """Turns client messages into frames and frames into client messages.

    Malformed client messages are not raised from here (Pipecat's receive loop would only log them); they are
    reported to `on_hang_up` as a `protocol_error`, which ends the call.
    """

    def __init__(self, on_hang_up: HangUp) -> None:
        super().__init__()
        self._on_hang_up = on_hang_up

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, OutputAudioRawFrame):
            return frame.audio
        if isinstance(frame, OutputTransportMessageFrame | OutputTransportMessageUrgentFrame):
            message = frame.message
            return json.dumps(message.as_message() if isinstance(message, CallEvent) else message)
        return None

    async def deserialize(self, data: str | bytes) -> Frame | None:
        if isinstance(data, bytes):
            if len(data) % SAMPLE_WIDTH or len(data) > MAX_AUDIO_FRAME_BYTES:
                await self._protocol_error(
                    f"Audio frames must be 16-bit PCM of at most {MAX_AUDIO_FRAME_BYTES} bytes (got {len(data)})"
                )
                return None
            return InputAudioRawFrame(audio=data, sample_rate=SAMPLE_RATE, num_channels=1) if data else None
        try:
            message = json.loads(data)
        except (ValueError, RecursionError):  # deep nesting ("[[[[...") exhausts the parser's recursion
            await self._protocol_error("Text frames must be JSON")
            return None
        if isinstance(message, dict) and message.get("type") == "hangup":
            await self._on_hang_up("caller_hangup", None)
            return None
        await self._protocol_error('Unknown message: the client may only send audio and {"type": "hangup"}')
        return None

    async def _protocol_error(self, message: str) -> None:
        await self._on_hang_up("protocol_error", message)


class BrowserTransport:
    """A web call's accepted WebSocket as the engine's `CallTransport`."""

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket

    def pipecat(self, on_hang_up: HangUp) -> BaseTransport:
        transport = FastAPIWebsocketTransport(
            self._websocket,
            FastAPIWebsocketParams(
                audio_in_enabled=True,
                audio_out_enabled=True,
                audio_in_sample_rate=SAMPLE_RATE,
                audio_out_sample_rate=SAMPLE_RATE,
                audio_out_auto_silence=False,
                audio_out_end_silence_secs=0,
                serializer=BrowserSerializer(on_hang_up),
            ),
        )

        async def disconnected(_transport: Any, _websocket: Any) -> None:
            await on_hang_up("caller_hangup", None)

        transport.add_event_handler("on_client_disconnected", disconnected)
        return transport

    async def send(self, events: list[CallEvent]) -> None:
        if self._websocket.client_state is not WebSocketState.CONNECTED:
            return
        with contextlib.suppress(Exception):  # the caller may be gone already
            for event in events:
                await self._websocket.send_json(event.as_message())

    async def close(self, events: list[CallEvent]) -> None:
        if self._websocket.client_state is not WebSocketState.CONNECTED:
            return
        await self.send(events)
        with contextlib.suppress(Exception):
            await self._websocket.close()
