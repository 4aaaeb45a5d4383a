"""Piper text-to-speech, run out of process.

Piper is GPL-licensed, so Vocalis never imports it: it runs as a child process (Piper's own HTTP server, one per app
process, shared by every call) and is spoken to over HTTP on the loopback interface.
"""

import asyncio
import atexit
import io
import json
import socket
import subprocess
import sys
import threading
import time
import wave
import weakref
from collections import deque
from pathlib import Path

import httpx
from loguru import logger

from vocalis.voice.weights import piper_voice

STARTUP_TIMEOUT_SECONDS = 60.0
REQUEST_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 5.0
# Piper's length_scale is the inverse of speed; outside this range speech becomes unintelligible.
MIN_SPEED, MAX_SPEED = 0.5, 2.0


class PiperError(Exception):
    """The Piper server could not be started or could not synthesise; the message says why."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PiperServer:
    """One `python -m piper.http_server` child process: started lazily, restarted once if it died, stopped cleanly.

    Loop-agnostic: process management runs in worker threads under a thread lock, so one instance can serve
    every event loop of the process (the app's, and those of tests).
    """

    def __init__(
        self,
        voice: Path | None = None,
        *,
        startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
        request_timeout: float = REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        self._voice = voice
        self._startup_timeout = startup_timeout
        self._request_timeout = request_timeout
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr_reader: threading.Thread | None = None
        self._stderr_tail: deque[str] = deque(maxlen=30)
        self._port = 0
        self._sample_rate = 0
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    async def start(self) -> None:
        """Start the server unless it runs already; returns once it answers."""
        await asyncio.to_thread(self._ensure_started)

    async def stop(self) -> None:
        """Stop the server (terminate, then kill after a timeout) and reap it."""
        await asyncio.to_thread(self._stop_blocking)
        # Only this loop's client can be closed here; those of other loops go with their loops.
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    async def synthesize(self, text: str, speed: float = 1.0) -> tuple[bytes, int]:
        """`text` spoken at `speed` (1.0 = the voice's natural pace), as 16-bit mono PCM and its sample rate."""
        if not self.running:
            await self.start()
        if not any(character.isalnum() for character in text):
            # Piper answers 500 for text with nothing to pronounce ("...", "—").
            return b"", self._sample_rate
        payload = {"text": text, "length_scale": 1.0 / min(max(speed, MIN_SPEED), MAX_SPEED)}
        try:
            response = await self._post(payload)
        except httpx.TransportError as exc:
            if not await asyncio.to_thread(self._exited, 1.0):
                raise PiperError(f"Piper server did not answer: {exc.__class__.__name__}") from exc
            # The child died (crash, OOM killer): start a new one and try once more.
            logger.warning("Piper server died; restarting it. {}", self.stderr_tail())
            await self.start()
            try:
                response = await self._post(payload)
            except httpx.TransportError as retry_exc:
                raise PiperError(f"Piper server did not answer: {retry_exc.__class__.__name__}") from retry_exc
        if response.status_code != 200:
            raise PiperError(f"Piper server answered {response.status_code} for {text[:40]!r}")
        with wave.open(io.BytesIO(response.content), "rb") as wav:
            if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
                raise PiperError("Piper server returned audio that is not 16-bit mono")
            return wav.readframes(wav.getnframes()), wav.getframerate()

    def stderr_tail(self) -> str:
        """The last lines the child wrote (for error messages)."""
        return "\n".join(self._stderr_tail)

    async def _post(self, payload: dict[str, object]) -> httpx.Response:
        return await self._client().post(f"{self.base_url}/synthesize", json=payload)

    def _client(self) -> httpx.AsyncClient:
        # An httpx client belongs to the loop it was first used on (and takes ~40 ms to build): one per loop.
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = httpx.AsyncClient(timeout=self._request_timeout, trust_env=False)
            self._clients[loop] = client
        return client

    def _ensure_started(self) -> None:
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                return
            self._reap()
            voice = self._voice
            if voice is None:
                voice = piper_voice()[0]
            try:
                self._sample_rate = int(json.loads(Path(f"{voice}.json").read_text())["audio"]["sample_rate"])
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise PiperError(f"{voice}.json is missing or has no audio.sample_rate") from exc
            # A free port can be taken between probing and binding: try a few.
            for attempt in range(3):
                try:
                    self._spawn(voice)
                    return
                except PiperError:
                    if attempt == 2 or "Address already in use" not in self.stderr_tail():
                        raise

    def _spawn(self, voice: Path) -> None:
        self._port = _free_port()
        self._stderr_tail.clear()
        command = [sys.executable, "-m", "piper.http_server", "--host", "127.0.0.1", "--port", str(self._port)]
        command += ["-m", str(voice)]
        started = time.monotonic()
        process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self._process = process
        _live_servers.add(self)
        # Drained continuously: the server logs every request, and a full pipe would block it.
        self._stderr_reader = threading.Thread(
            target=self._read_stderr, args=(process,), name="piper-stderr", daemon=True
        )
        self._stderr_reader.start()
        deadline = started + self._startup_timeout
        with httpx.Client(timeout=1.0, trust_env=False) as client:
            while True:
                if process.poll() is not None:
                    self._reap()
                    raise PiperError(
                        f"Piper server exited with status {process.returncode} while starting:\n{self.stderr_tail()}"
                    )
                try:
                    if client.get(f"{self.base_url}/info").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    self._stop_process()
                    raise PiperError(
                        f"Piper server did not answer within {self._startup_timeout:.0f} s:\n{self.stderr_tail()}"
                    )
                time.sleep(0.05)  # poll interval, not a wait for readiness
        logger.info("Piper server {} ready on port {} in {:.1f} s", process.pid, self._port, time.monotonic() - started)

    def _exited(self, timeout: float) -> bool:
        """Whether the child has exited (waiting up to `timeout`: its sockets close before it can be reaped)."""
        process = self._process
        if process is None:
            return True
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def _read_stderr(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            self._stderr_tail.append(line.decode(errors="replace").rstrip())

    def _stop_blocking(self) -> None:
        with self._lock:
            self._stop_process()

    def _stop_process(self) -> None:
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
        self._reap()

    def _reap(self) -> None:
        """Wait for the exited child (no zombie) and close its pipe."""
        process, self._process = self._process, None
        if process is None:
            return
        process.wait()
        if self._stderr_reader is not None:
            self._stderr_reader.join(timeout=1.0)
            self._stderr_reader = None
        if process.stderr is not None:
            process.stderr.close()


# Last resort for a process that exits without stopping its servers: never leave a child behind.
_live_servers: "weakref.WeakSet[PiperServer]" = weakref.WeakSet()


@atexit.register
def _stop_live_servers() -> None:
    for server in list(_live_servers):
        server._stop_blocking()


_shared_lock = threading.Lock()
_shared: PiperServer | None = None


def shared_piper_server() -> PiperServer:
    """The app process's one Piper server (started on first synthesis, stopped by `stop_shared_piper_server`)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = PiperServer()
        return _shared


async def stop_shared_piper_server() -> None:
    """Stop the shared server, if one was made (for the app's shutdown)."""
    with _shared_lock:
        server = _shared
    if server is not None:
        await server.stop()
