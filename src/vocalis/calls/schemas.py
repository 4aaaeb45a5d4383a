import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from vocalis.models.call import CallDirection, CallKind, CallStatus


class TurnLatency(BaseModel):
    """Milliseconds from the end of the caller's speech to the first agent audio, and its parts."""

    total_ms: int | None = None
    stt_ms: int | None = Field(default=None, description="End of speech to final transcript (includes the VAD wait)")
    turn_ms: int | None = Field(default=None, description="Transcript to end-of-turn decision")
    llm_ms: int | None = Field(default=None, description="Thinking to the first text of the reply")
    tts_ms: int | None = Field(default=None, description="First text to its first synthesised audio")


class CallTurnRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    ordinal: int
    role: str
    text: str
    started_ms: int
    ended_ms: int | None
    interrupted: bool
    latency: TurnLatency | None


class CallUsage(BaseModel):
    call_seconds: float = 0
    stt_seconds: float = 0
    llm_prompt_tokens: int = 0
    llm_completion_tokens: int = 0
    tts_characters: int = 0


class CallRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    tenant_id: uuid.UUID
    agent_id: uuid.UUID | None
    kind: CallKind
    direction: CallDirection
    status: CallStatus
    from_number: str | None
    to_number: str | None
    started_at: datetime | None
    ended_at: datetime | None
    duration_ms: int | None
    end_reason: str | None
    error: str | None
    usage: CallUsage
    collected: dict[str, Any] = Field(
        description="What the agent took down for the business: `callback` {name, phone, preferred_time} when the "
        "caller asked to be called back"
    )
    has_recording: bool
    created_at: datetime


class CallDetail(CallRead):
    turns: list[CallTurnRead]


class WebCallCreated(BaseModel):
    call_id: uuid.UUID
    websocket_url: str = Field(description="Open within the token's lifetime; the token is in the query string")
    token: str = Field(description="Single use, short-lived")
    expires_at: datetime


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: Text
    session_id: uuid.UUID | None = Field(default=None, description="The session to continue; omit to start one")


class ChatReply(BaseModel):
    session_id: uuid.UUID
    reply: str
    ended: bool = Field(description="Whether the agent ended the conversation (the session takes no more messages)")
    end_reason: str | None
    sources: list[str] = Field(description="Knowledge passages the reply was answered from")
    usage: CallUsage
