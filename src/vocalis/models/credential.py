from datetime import datetime

from sqlalchemy import Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from vocalis.kit.db import Base, IdMixin, TenantOwned, TimestampMixin


class ProviderCredential(IdMixin, TimestampMixin, TenantOwned, Base):
    """A tenant's API key (encrypted at rest, see kit/crypto.py) and base URL for one cloud provider."""

    __tablename__ = "provider_credentials"

    provider: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    encrypted_api_key: Mapped[bytes] = mapped_column(LargeBinary)
    # The last four characters, so people can tell their keys apart without the key being shown.
    api_key_hint: Mapped[str] = mapped_column(String(8))
    base_url: Mapped[str | None] = mapped_column(String(500))
    last_tested_at: Mapped[datetime | None]
    last_test_ok: Mapped[bool | None]
    last_test_error: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (Index("uq_provider_credentials_tenant_provider", "tenant_id", "provider", unique=True),)
