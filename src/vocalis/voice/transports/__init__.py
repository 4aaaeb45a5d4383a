"""How a call reaches its caller. Each transport (a browser WebSocket today, a phone line's media stream next) is one
module here implementing `CallTransport`: it carries audio at its own edge rate and format, turns the engine's
events into its own messages, and reports the caller hanging up or breaking its protocol."""

from collections.abc import Awaitable, Callable
from typing import Protocol

from pipecat.transports.base_transport import BaseTransport

from vocalis.voice.events import CallEvent

# Called by a transport when the call must end from its side: (end reason, error or None).
HangUp = Callable[[str, str | None], Awaitable[None]]


class CallTransport(Protocol):
    def pipecat(self, on_hang_up: HangUp) -> BaseTransport:
        """The Pipecat transport for the call's pipeline (made once), reporting hang-ups to `on_hang_up`."""
        ...

    async def send(self, events: list[CallEvent]) -> None:
        """Tell the client now, outside the pipeline (which may be gone); nothing happens if the caller left."""
        ...

    async def close(self, events: list[CallEvent]) -> None:
        """Tell the client its last events, then close the connection."""
        ...
