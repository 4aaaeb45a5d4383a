"""A stand-in whose answers wait until the test lets them go: to see what the platform holds, and whom it still
answers, while a provider is slow."""

import asyncio
import threading

from starlette.types import ASGIApp, Receive, Scope, Send


class Held:
    """Wraps a stand-in's ASGI app: while `release` is not set, every HTTP request is counted as it arrives, then waits
    for it (set it to answer them; clear it to hold the next ones)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.release = threading.Event()
        self._arrived = threading.Semaphore(0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.release.is_set():
            self._arrived.release()
            # The stand-in runs in a thread of its own (standins/server.py): waiting there blocks no test.
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 60)
        await self.app(scope, receive, send)

    async def arrived(self, count: int) -> None:
        """Until `count` more requests are waiting here."""
        for _ in range(count):
            assert await asyncio.to_thread(self._arrived.acquire, True, 30), "a request never reached the provider"
