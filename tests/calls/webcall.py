"""A scripted browser caller for web-call tests and benchmarks: a microphone that streams in real time, and ears.

Like a browser, it sends 20 ms frames of 16 kHz PCM continuously (silence when not speaking) and records every event
and audio frame the agent sends, with the time it arrived.
"""

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import websockets
from websockets.asyncio.client import ClientConnection

SAMPLE_RATE = 16_000
FRAME_SECONDS = 0.02  # a browser's microphone frames: 640 bytes

SHOP_FAQ = """Opening hours. We are open Monday to Friday from 9 am to 6 pm, and on Saturday from 10 am to 4 pm.
We are closed on Sundays and on public holidays.

Returns. You can return any item within 30 days of purchase with its receipt for a full refund.

Delivery. Standard delivery takes three to five working days and costs four pounds ninety nine.
Orders over fifty pounds are delivered free of charge. Express delivery arrives the next working day.
Our couriers deliver between 8 am and 8 pm. You can track your parcel with the link in your confirmation email.
If you are not at home, the courier leaves a card and tries again the next day.
After three attempts the parcel comes back to our store, where you can collect it within two weeks."""
"""What the scripted callers' agents know: a shop's FAQ, as one knowledge base document."""


Caller = TypeVar("Caller", bound="WebCaller")


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
    frame_seconds: float = FRAME_SECONDS
    _speech: asyncio.Queue[tuple[bytes, asyncio.Event]] = field(default_factory=asyncio.Queue)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def heard_audio(self, at: float, size: int) -> None:
        """An agent audio frame arrived (subclasses time it)."""
        self.audio.append(Heard(at, size))

    def heard_event(self, at: float, message: dict[str, Any]) -> None:
        """An event arrived."""
        self.events.append((at, message))

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

    async def wait_for_audio(self, seconds: float, after: float, within: float = 30.0) -> float:
        """Wait until `seconds` of agent audio arrived after `after`; returns when (time.monotonic())."""
        deadline = time.monotonic() + within
        while sum(heard.size for heard in self.audio_after(after)) < seconds * SAMPLE_RATE * 2:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closed.is_set():
                raise AssertionError(f"less than {seconds} s of agent audio")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return time.monotonic()

    def event_time(self, kind: str, after: float = 0) -> float:
        return next(at for at, message in self.events if message.get("type") == kind and at >= after)

    def audio_after(self, since: float) -> list[Heard]:
        return [heard for heard in self.audio if heard.at >= since]

    def transcript(self, role: str) -> list[str]:
        return [m["text"] for _, m in self.events if m.get("type") == "transcript" and m["role"] == role and m["final"]]

    async def _microphone(self) -> None:
        frame_bytes = int(SAMPLE_RATE * self.frame_seconds) * 2
        next_at = time.monotonic()
        pending = b""
        done: asyncio.Event | None = None
        while True:
            if not pending and done is not None:
                done.set()
                done = None
            if not pending and not self._speech.empty():
                pending, done = self._speech.get_nowait()
            frame, pending = (pending[:frame_bytes], pending[frame_bytes:]) if pending else (bytes(frame_bytes), b"")
            frame = frame.ljust(frame_bytes, b"\0")
            try:
                await self.connection.send(frame)
            except websockets.ConnectionClosed:
                if done is not None:
                    done.set()
                return
            next_at += self.frame_seconds
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def _ears(self) -> None:
        try:
            async for message in self.connection:
                now = time.monotonic()
                if isinstance(message, bytes):
                    self.heard_audio(now, len(message))
                else:
                    self.heard_event(now, json.loads(message))
                self._changed.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()
            self._changed.set()


def web_call(url: str) -> AbstractAsyncContextManager[WebCaller]:
    """Open a web call's WebSocket and keep a caller's microphone and ears running until the block exits."""
    return calling(url, WebCaller)


@asynccontextmanager
async def calling(url: str, make: Callable[[ClientConnection], Caller]) -> AsyncIterator[Caller]:
    """`web_call` with a caller of one's own (made by `make`, from the connection)."""
    async with websockets.connect(url, max_size=None, open_timeout=30) as connection:
        caller = make(connection)
        tasks = [asyncio.create_task(caller._microphone()), asyncio.create_task(caller._ears())]
        try:
            yield caller
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
