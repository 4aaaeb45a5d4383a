"""A short-lived, in-process cache of authenticated principals, so most requests need no database round trip.

Correctness comes from invalidation, not from the time limit: every change that affects who may do what (logout,
revoked or rotated sessions, password and role changes, deactivation, deletion, tenant suspension, API key
regeneration) calls `invalidate` in its own transaction. That evicts the entries in this process at once and again
after commit, and sends a PostgreSQL NOTIFY that every replica's `listen` loop turns into the same eviction. The
cache is used only while that listener is connected, so a replica that cannot hear invalidations never serves
stale entries; the time limit only bounds how long an entry lives after an eviction was lost in transit.

Each app owns its cache (`app.state.auth_cache`); an invalidation evicts from every cache of the process.
"""

import asyncio
import time
import weakref
from dataclasses import dataclass
from typing import Any

import psycopg
from loguru import logger
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from vocalis.auth.principal import Principal
from vocalis.auth.tokens import VerifiedTokens

CHANNEL = "vocalis_auth"
_PENDING = "vocalis_auth_evictions"


@dataclass(frozen=True, slots=True)
class CachedLogin:
    principal: Principal
    # The user's public fields (for GET /auth/me), or None for an API key.
    user: dict[str, Any] | None
    expires_at: float


class PrincipalCache:
    """An app's authenticated principals, and (`tokens`) its verified access tokens."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self.max_entries = max_entries
        self.enabled = False
        # Bumped by every eviction: a lookup that started before one must not cache what it read.
        self.generation = 0
        self._entries: dict[str, CachedLogin] = {}
        # Verified signatures never go stale (expiry is checked on every use), so they need no invalidation.
        self.tokens = VerifiedTokens()
        _LIVE.add(self)

    def get(self, key: str) -> CachedLogin | None:
        if not self.enabled:
            return None
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at <= time.monotonic():
            self._entries.pop(key, None)
            return None
        return entry

    def put(self, key: str, principal: Principal, user: dict[str, Any] | None, seconds: float, generation: int) -> None:
        """Cache a principal read from the database while the cache was at `generation`."""
        if not self.enabled or seconds <= 0 or generation != self.generation:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.pop(next(iter(self._entries)))  # the oldest entry
        self._entries[key] = CachedLogin(principal, user, time.monotonic() + seconds)

    def evict(self, scope: str) -> None:
        """Drop entries in a scope: "session:<id>", "user:<id>", "tenant:<id>" or "key:<hash>"."""
        self.generation += 1
        kind, _, value = scope.partition(":")
        if kind in ("session", "key"):
            self._entries.pop(scope, None)
            return
        field = {"user": "user_id", "tenant": "tenant_id"}.get(kind)
        if field is None:
            return
        for key in [k for k, e in self._entries.items() if str(getattr(e.principal, field)) == value]:
            self._entries.pop(key, None)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


# Every live cache of the process (one per app), so that an invalidation reaches them all at once.
_LIVE: "weakref.WeakSet[PrincipalCache]" = weakref.WeakSet()


def _evict_everywhere(scope: str) -> None:
    for cache in list(_LIVE):
        cache.evict(scope)


async def invalidate(session: AsyncSession, *scopes: str) -> None:
    """Evict scopes in this process now and after commit, and in every replica through NOTIFY (sent on commit)."""
    for scope in scopes:
        _evict_everywhere(scope)
        await session.execute(select(func.pg_notify(CHANNEL, scope)))
    session.info.setdefault(_PENDING, set()).update(scopes)


@event.listens_for(Session, "after_commit")
def _evict_after_commit(session: Session) -> None:
    # A request that read the old state between `invalidate` and the commit may have cached it again.
    for scope in session.info.pop(_PENDING, ()):
        _evict_everywhere(scope)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


async def listen(conninfo: str, cache: PrincipalCache, retry_seconds: float = 1.0) -> None:
    """Apply invalidations from every replica until cancelled; the cache is off while disconnected."""
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as connection:
                await connection.execute(f"LISTEN {CHANNEL}")
                cache.clear()  # anything cached before we could hear invalidations is suspect
                cache.enabled = True
                async for notification in connection.notifies():
                    cache.evict(notification.payload)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.warning("Principal cache listener disconnected ({}); cache off until it reconnects", exc)
        finally:
            cache.enabled = False
            cache.clear()
        await asyncio.sleep(retry_seconds)
