"""Every tenant-owned table is tied to its tenant the same way, so scoping and deletion work alike for all."""

from typing import Any

from sqlalchemy import ForeignKey

from vocalis.kit.db import Base, TenantOwned
from vocalis.models import *  # noqa: F403 - registers every table on Base.metadata


def test_every_tenant_owned_table_has_an_indexed_cascading_tenant_id() -> None:
    owned: list[Any] = [mapper.class_ for mapper in Base.registry.mappers if issubclass(mapper.class_, TenantOwned)]
    assert len(owned) >= 10, owned  # users, sessions, keys, documents, chunks, agents, calls, turns, usage, ...
    for model in owned:
        column = model.__table__.c.tenant_id
        [key] = column.foreign_keys
        assert isinstance(key, ForeignKey)
        assert (key.target_fullname, key.ondelete) == ("tenants.id", "CASCADE"), model
        assert column.index, model
        assert not column.nullable, model
