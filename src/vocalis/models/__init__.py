"""SQLAlchemy models, one module per aggregate. Importing this package registers every table on `Base.metadata`."""

from vocalis.kit.db import Base
from vocalis.models.agent import Agent
from vocalis.models.audit import AuditEvent
from vocalis.models.billing import Plan, Subscription, UsageRecord
from vocalis.models.call import Call, CallDirection, CallKind, CallStatus, CallTurn
from vocalis.models.credential import ProviderCredential
from vocalis.models.knowledge import Chunk, Document, DocumentStatus, KnowledgeBase
from vocalis.models.tenant import ApiKey, Tenant, TenantStatus
from vocalis.models.user import AuthSession, RefreshToken, Role, User

__all__ = [
    "Agent",
    "ApiKey",
    "AuditEvent",
    "AuthSession",
    "Base",
    "Call",
    "CallDirection",
    "CallKind",
    "CallStatus",
    "CallTurn",
    "Chunk",
    "Document",
    "DocumentStatus",
    "KnowledgeBase",
    "Plan",
    "ProviderCredential",
    "RefreshToken",
    "Role",
    "Subscription",
    "Tenant",
    "TenantStatus",
    "UsageRecord",
    "User",
]
