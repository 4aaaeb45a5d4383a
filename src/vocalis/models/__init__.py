"""SQLAlchemy models, one module per aggregate. Importing this package registers every table on `Base.metadata`."""

from vocalis.kit.db import Base
from vocalis.models.audit import AuditEvent
from vocalis.models.billing import Plan, Subscription, UsageRecord
from vocalis.models.knowledge import Chunk, Document, DocumentStatus, KnowledgeBase
from vocalis.models.tenant import ApiKey, Tenant, TenantStatus
from vocalis.models.user import AuthSession, RefreshToken, Role, User

__all__ = [
    "ApiKey",
    "AuditEvent",
    "AuthSession",
    "Base",
    "Chunk",
    "Document",
    "DocumentStatus",
    "KnowledgeBase",
    "Plan",
    "RefreshToken",
    "Role",
    "Subscription",
    "Tenant",
    "TenantStatus",
    "UsageRecord",
    "User",
]
