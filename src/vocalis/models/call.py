import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from vocalis.kit.db import Base, IdMixin, TenantOwned, TimestampMixin


class CallKind(StrEnum):
    WEB = "web"
    TEXT = "text"
    PHONE = "phone"


class CallDirection(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class CallStatus(StrEnum):
    QUEUED = "queued"
    RINGING = "ringing"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CANCELED = "canceled"


# Statuses that hold one of the tenant's concurrent-call slots.
LIVE_STATUSES = (CallStatus.QUEUED, CallStatus.RINGING, CallStatus.IN_PROGRESS)


class Call(IdMixin, TimestampMixin, TenantOwned, Base):
    __tablename__ = "calls"

    agent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(10))
    direction: Mapped[str] = mapped_column(String(10), default=CallDirection.INBOUND)
    status: Mapped[str] = mapped_column(String(20), default=CallStatus.QUEUED)
    from_number: Mapped[str | None] = mapped_column(String(40))
    to_number: Mapped[str | None] = mapped_column(String(40))
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    end_reason: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    # SHA-256 of the single-use token that opens a web call's WebSocket, and when it stops working.
    join_token_hash: Mapped[str | None] = mapped_column(String(64))
    join_expires_at: Mapped[datetime | None]
    # A live call refreshes this; a live call whose heartbeat stops (its replica died) no longer holds a slot.
    heartbeat_at: Mapped[datetime | None]
    # call_seconds, stt_seconds, llm_prompt_tokens, llm_completion_tokens, tts_characters.
    usage: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # What the agent took down for the business during the call (a callback request).
    collected: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    recording_key: Mapped[str | None] = mapped_column(String(300))
    # Configuration the call ran with (agent settings at the start), so later edits don't rewrite history.
    agent_snapshot: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)

    @property
    def has_recording(self) -> bool:
        return self.recording_key is not None

    __table_args__ = (
        Index("ix_calls_tenant_created", "tenant_id", "created_at"),
        Index("ix_calls_tenant_status", "tenant_id", "status"),
    )


class CallTurn(IdMixin, TenantOwned, Base):
    """One utterance of a call's transcript."""

    __tablename__ = "call_turns"

    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    ordinal: Mapped[int]
    role: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text)
    # Milliseconds from the start of the call.
    started_ms: Mapped[int] = mapped_column(BigInteger)
    ended_ms: Mapped[int | None] = mapped_column(BigInteger)
    interrupted: Mapped[bool] = mapped_column(default=False)
    # For agent turns: total_ms (end of caller speech to first agent audio), stt_ms, llm_ms, tts_ms.
    latency: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    __table_args__ = (Index("uq_call_turns_call_ordinal", "call_id", "ordinal", unique=True),)
