"""A scripted browser caller for web-call tests and benchmarks: a microphone that streams in real time, and ears.

Like a browser, it sends 20 ms frames of 16 kHz PCM continuously (silence when not speaking) and records every event
and audio frame the agent sends, with the time it arrived.
"""

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

FRAME_BYTES = 640  # 20 ms at 16 kHz, 16-bit mono
FRAME_SECONDS = 0.02


@dataclass
class Heard:
    at: float
    size: int


@dataclass
class WebCaller:
    connection: ClientConnection
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    audio: list[Heard] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    _speech: asyncio.Queue[tuple[bytes, asyncio.Event]] = field(default_factory=asyncio.Queue)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def say(self, pcm: bytes) -> float:
        """Speak `pcm` into the microphone in real time; returns when the last of it was sent (time.monotonic())."""
        done = asyncio.Event()
        await self._speech.put((pcm, done))
        await done.wait()
        return time.monotonic()

    async def wait_for(
        self,
        kind: str,
        where: Callable[[dict[str, Any]], bool] = lambda _: True,
        within: float = 30.0,
        after: float = 0,
    ) -> dict[str, Any]:
        """The first event of `kind` (received after `after`) that matches `where`, waiting up to `within` s."""
        deadline = time.monotonic() + within
        while True:
            for at, message in self.events:
                if at >= after and message.get("type") == kind and where(message):
                    return message
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (self.closed.is_set() and kind != "call.ended"):
                raise AssertionError(f"no {kind!r} event; got {[m for _, m in self.events]}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    def event_time(self, kind: str, after: float = 0) -> float:
        return next(at for at, message in self.events if message.get("type") == kind and at >= after)

    def audio_after(self, since: float) -> list[Heard]:
        return [heard for heard in self.audio if heard.at >= since]

    def transcript(self, role: str) -> list[str]:
        return [m["text"] for _, m in self.events if m.get("type") == "transcript" and m["role"] == role and m["final"]]

    async def _microphone(self) -> None:
        next_at = time.monotonic()
        pending = b""
        done: asyncio.Event | None = None
        while True:
            if not pending and done is not None:
                done.set()
                done = None
            if not pending and not self._speech.empty():
                pending, done = self._speech.get_nowait()
            frame, pending = (pending[:FRAME_BYTES], pending[FRAME_BYTES:]) if pending else (bytes(FRAME_BYTES), b"")
            if len(frame) < FRAME_BYTES:
                frame += bytes(FRAME_BYTES - len(frame))
            try:
                await self.connection.send(frame)
            except websockets.ConnectionClosed:
                if done is not None:
                    done.set()
                return
            next_at += FRAME_SECONDS
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def _ears(self) -> None:
        try:
            async for message in self.connection:
                now = time.monotonic()
                if isinstance(message, bytes):
                    self.audio.append(Heard(now, len(message)))
                else:
                    self.events.append((now, json.loads(message)))
                    self._changed.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()
            self._changed.set()


@asynccontextmanager
async def web_call(url: str) -> AsyncIterator[WebCaller]:
    """Open a web call's WebSocket and keep its microphone and ears running until the block exits."""
    async with websockets.connect(url, max_size=None) as connection:
        caller = WebCaller(connection)
        tasks = [asyncio.create_task(caller._microphone()), asyncio.create_task(caller._ears())]
        try:
            yield caller
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
