"""Web callers for the density part of `benchmarks.voice`, many per process: `python -m benchmarks._voice_client`.

Reads its work from stdin as JSON: `{"calls": [{"url": ..., "start_at": unix time}, ...], "question": PCM file,
"steady_from": unix time, "end_at": unix time, "pause": s, "answer_timeout": s}`; writes one result per call, and
how late this process's own event loop ran, to stdout as JSON.

Each caller is a `tests.calls.webcall.WebCaller` with 40 ms microphone frames (half the sends of a browser's 20 ms,
to keep the client cheap on a machine it shares with the server). It opens its call at `start_at`, hears the
greeting, then asks the question (16 kHz PCM, streamed in real time) and waits for the whole answer, again and
again, until `end_at`, when it hangs up.

Every agent audio frame is timed on arrival against when a player would need it (see `Playback`): a burst of speech
starts with its first frame, and frame n of a burst is due at that frame's arrival + the duration of frames 0..n-1.
A frame more than `LATE_AFTER` s past its due time is late. A burst ends when the server says the agent stopped
(`agent.stopped`); a frame more than `STALL_AFTER` s late without that is a stall: counted late, and the burst starts
again from it.
"""

import asyncio
import contextlib
import json
import os
import sys
import time
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import websockets
from tests.calls.webcall import WebCaller, calling

SAMPLE_RATE = 16_000
BYTES_PER_SECOND = SAMPLE_RATE * 2
FRAME_SECONDS = 0.04
FRAME_BYTES = int(SAMPLE_RATE * FRAME_SECONDS) * 2
LATE_AFTER = 0.1
STALL_AFTER = 0.3
HANGUP_TIMEOUT = 15.0
# The callers' priority: above the server's many busy threads, so that the clock that times the frames is not held
# up by them (the callers need little CPU). Needs the right to raise priority (root); otherwise they run as they are.
NICENESS = -10


def raise_priority() -> int:
    """Run at `NICENESS` if allowed; returns the niceness this process runs at."""
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, NICENESS)
    return os.getpriority(os.PRIO_PROCESS, 0)


@dataclass
class Counts:
    frames: int = 0
    late: int = 0
    glitches: int = 0
    worst_s: float = 0.0


@dataclass
class Playback:
    """Lateness of the agent's audio frames, as a player started at each burst's first frame would see it.

    Two players are modelled. The strict one keeps to its schedule: a frame more than `LATE_AFTER` s past it is late,
    and (as Pipecat's output transport does not catch up after a delay) so is every later frame of the burst until
    the next burst or a stall. The other buffers `LATE_AFTER` s and, when it runs dry, waits for the frame and plays
    on from there: each time it runs dry is a glitch (an audible gap). Frames are counted in two phases: while the
    level's calls are still opening (before `steady_from`, time.monotonic()) and after.
    """

    steady_from: float = 0.0
    opening: Counts = field(default_factory=Counts)
    steady: Counts = field(default_factory=Counts)
    _start: float = 0.0
    _queued_s: float = 0.0
    _shift_s: float = 0.0  # how long the buffering player has waited in this burst
    _stopped: bool = True  # no burst yet, or the agent said it stopped since the last frame

    def heard(self, at: float, size: int) -> None:
        counts = self.steady if at >= self.steady_from else self.opening
        counts.frames += 1
        due = self._start + self._queued_s
        if self._stopped:
            self._start, self._queued_s, self._shift_s, self._stopped = at, 0.0, 0.0, False
        else:
            lateness = at - due
            counts.worst_s = max(counts.worst_s, lateness)
            if lateness > LATE_AFTER:
                counts.late += 1
            if lateness > LATE_AFTER + self._shift_s:
                counts.glitches += 1
                self._shift_s = lateness - LATE_AFTER
            if lateness > STALL_AFTER:
                self._start, self._queued_s, self._shift_s = at, 0.0, 0.0
        self._queued_s += size / BYTES_PER_SECOND

    def agent_stopped(self) -> None:
        self._stopped = True


@dataclass
class DensityCaller(WebCaller):
    """A `WebCaller` with 40 ms microphone frames that times the agent's audio as it arrives."""

    playback: Playback = field(default_factory=Playback)

    def heard_audio(self, at: float, size: int) -> None:
        super().heard_audio(at, size)
        self.playback.heard(at, size)

    def heard_event(self, at: float, message: dict[str, Any]) -> None:
        super().heard_event(at, message)
        if message.get("type") == "agent.stopped":
            self.playback.agent_stopped()


def density_call(url: str, steady_from: float = 0.0) -> AbstractAsyncContextManager[DensityCaller]:
    """A call's WebSocket with a `DensityCaller` on it; `steady_from` as in `Playback` (unix time)."""
    playback = Playback(time.monotonic() + steady_from - time.time())
    return calling(url, lambda connection: DensityCaller(connection, frame_seconds=FRAME_SECONDS, playback=playback))


@dataclass
class CallerResult:
    opening: Counts = field(default_factory=Counts)
    steady: Counts = field(default_factory=Counts)
    turns: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def ask_until(
    caller: DensityCaller, question: bytes, pause: float, answer_timeout: float, result: CallerResult
) -> None:
    """Ask and hear the answer, turn after turn, until cancelled."""
    while True:
        await asyncio.sleep(pause)
        asked = await caller.say(question)
        try:
            await caller.wait_for("agent.speaking", within=answer_timeout, after=asked)
            speaking = caller.event_time("agent.speaking", after=asked)
            await caller.wait_for("agent.stopped", within=answer_timeout + 30, after=speaking)
        except AssertionError:
            result.errors.append(f"no answer within {answer_timeout:g} s")
            return
        heard = caller.audio_after(asked)
        if heard:
            result.latencies_ms.append((heard[0].at - asked) * 1000)
        result.turns += 1


async def run_caller(spec: dict[str, Any], question: bytes, config: dict[str, Any]) -> CallerResult:
    end_at, pause, answer_timeout = config["end_at"], config["pause"], config["answer_timeout"]
    result = CallerResult()
    await asyncio.sleep(max(0.0, spec["start_at"] - time.time()))
    try:
        async with density_call(spec["url"], config["steady_from"]) as caller:
            try:
                await caller.wait_for("call.started", within=answer_timeout)
                await caller.wait_for("agent.stopped", within=answer_timeout + 30)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        ask_until(caller, question, pause, answer_timeout, result), max(0.0, end_at - time.time())
                    )
                if not caller.closed.is_set():
                    await caller.connection.send('{"type": "hangup"}')
                    await caller.wait_for("call.ended", within=HANGUP_TIMEOUT)
            except AssertionError as error:
                result.errors.append(str(error)[:200])
            for _, event in caller.events:
                if event.get("type") == "error":
                    result.errors.append(f"error event: {event.get('message')}")
                elif event.get("type") == "call.ended" and event.get("reason") != "caller_hangup":
                    result.errors.append(f"call ended: {event.get('reason')}")
            playback = caller.playback
    except (OSError, websockets.WebSocketException, TimeoutError) as error:
        result.errors.append(f"{type(error).__name__}: {error}"[:200])
        return result
    result.opening, result.steady = playback.opening, playback.steady
    return result


async def loop_lag(since: float, lags: list[float]) -> None:
    """How late this process's event loop wakes a 10 ms timer, from `since` (unix time) on: a late wake-up here
    would be timed as a late frame."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + 0.01
        await asyncio.sleep(0.01)
        if time.time() >= since:
            lags.append(loop.time() - due)


async def run(config: dict[str, Any], question: bytes) -> dict[str, Any]:
    lags: list[float] = []
    monitor = asyncio.create_task(loop_lag(config["steady_from"], lags))
    results = await asyncio.gather(*(run_caller(spec, question, config) for spec in config["calls"]))
    monitor.cancel()
    lags.sort()
    lag = {
        "p99_ms": 1000 * lags[min(len(lags) - 1, int(0.99 * len(lags)))] if lags else 0.0,
        "max_ms": 1000 * lags[-1] if lags else 0.0,
    }
    return {"callers": [asdict(result) for result in results], "loop_lag": lag, "niceness": config["niceness"]}


def main() -> None:
    config = json.loads(sys.stdin.read())
    config["niceness"] = raise_priority()
    question = Path(config["question"]).read_bytes()
    try:
        import uvloop
    except ImportError:
        results = asyncio.run(run(config, question))
    else:
        results = uvloop.run(run(config, question))
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
