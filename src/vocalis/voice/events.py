"""What happens on a call, as told to the caller's client: each transport decides how (the browser gets JSON)."""

from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal


@dataclass(frozen=True)
class CallEvent:
    type: ClassVar[str]

    def as_message(self) -> dict[str, Any]:
        """The event as a JSON object: its `type` and its fields."""
        return {"type": self.type, **asdict(self)}


@dataclass(frozen=True)
class CallStarted(CallEvent):
    type: ClassVar[str] = "call.started"
    call_id: str
    sample_rate: int


@dataclass(frozen=True)
class Transcript(CallEvent):
    type: ClassVar[str] = "transcript"
    role: Literal["user", "agent"]
    text: str
    final: bool


@dataclass(frozen=True)
class AgentSpeaking(CallEvent):
    type: ClassVar[str] = "agent.speaking"


@dataclass(frozen=True)
class AgentStopped(CallEvent):
    type: ClassVar[str] = "agent.stopped"


@dataclass(frozen=True)
class CallError(CallEvent):
    type: ClassVar[str] = "error"
    message: str


@dataclass(frozen=True)
class CallEnded(CallEvent):
    type: ClassVar[str] = "call.ended"
    reason: str


def farewell(reason: str, error: str | None) -> list[CallEvent]:
    """The last events of a call: the error, if any, then its end."""
    return [*([CallError(error)] if error else []), CallEnded(reason)]
