import uuid
from typing import Any

from sqlalchemy import Boolean, String, Text, Uuid
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from vocalis.kit.db import Base, IdMixin, TenantOwned, TimestampMixin


class Agent(IdMixin, TimestampMixin, TenantOwned, Base):
    """A voice agent's stored configuration; the nested settings are validated by `vocalis.agents.schemas`."""

    __tablename__ = "agents"

    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(20))
    system_prompt: Mapped[str] = mapped_column(Text)
    first_message: Mapped[str | None] = mapped_column(Text)
    business_name: Mapped[str | None] = mapped_column(String(200))
    transfer_to: Mapped[str | None] = mapped_column(String(200))
    knowledge_base_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()), default=list)
    stt: Mapped[dict[str, Any]] = mapped_column(JSONB)
    llm: Mapped[dict[str, Any]] = mapped_column(JSONB)
    tts: Mapped[dict[str, Any]] = mapped_column(JSONB)
    turn_taking: Mapped[dict[str, Any]] = mapped_column(JSONB)
    limits: Mapped[dict[str, Any]] = mapped_column(JSONB)
    end_call_phrases: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    recording_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
