"""SQLAlchemy models, one module per aggregate. Importing this package registers every table on `Base.metadata`."""

from vocalis.kit.db import Base
from vocalis.models.audit import AuditEvent
from vocalis.models.billing import Plan, Subscription, UsageRecord
from vocalis.models.tenant import ApiKey, Tenant, TenantStatus
from vocalis.models.user import AuthSession, RefreshToken, Role, User

__all__ = [
    "ApiKey",
    "AuditEvent",
    "AuthSession",
    "Base",
    "Plan",
    "RefreshToken",
    "Role",
    "Subscription",
    "Tenant",
    "TenantStatus",
    "UsageRecord",
    "User",
]
