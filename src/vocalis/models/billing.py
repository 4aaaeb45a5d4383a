import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from vocalis.kit.db import Base, IdMixin, TenantOwned, TimestampMixin


class Plan(IdMixin, TimestampMixin, Base):
    """A billing plan and its limits; a NULL limit means unlimited."""

    __tablename__ = "plans"

    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    price_cents: Mapped[int] = mapped_column(default=0)
    max_users: Mapped[int | None]
    max_agents: Mapped[int | None]
    max_knowledge_bases: Mapped[int | None]
    max_documents: Mapped[int | None]
    max_storage_bytes: Mapped[int | None] = mapped_column(BigInteger)
    max_call_minutes_per_period: Mapped[int | None]
    max_concurrent_calls: Mapped[int | None]
    # Per document rather than per tenant: bounds the worker time one upload can take.
    max_document_characters: Mapped[int | None]


class Subscription(IdMixin, TimestampMixin, TenantOwned, Base):
    __tablename__ = "subscriptions"

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id"))
    status: Mapped[str] = mapped_column(String(20), default="active")
    current_period_start: Mapped[datetime]
    current_period_end: Mapped[datetime]

    __table_args__ = (Index("uq_subscriptions_tenant", "tenant_id", unique=True),)


class UsageRecord(IdMixin, TenantOwned, Base):
    """Metered usage (call seconds, STT seconds, tokens...), summed per billing period."""

    __tablename__ = "usage_records"

    metric: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime]
    reference: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (Index("ix_usage_records_tenant_metric_time", "tenant_id", "metric", "recorded_at"),)
