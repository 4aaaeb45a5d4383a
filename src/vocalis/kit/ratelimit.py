"""Rate limiting with the `limits` library: in memory when embedded, in Redis when several replicas share counters."""

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from vocalis.kit.errors import RateLimited


class RateLimiter:
    def __init__(self, redis_url: str | None = None) -> None:
        self.storage: Storage
        if redis_url:
            self.storage = RedisStorage(redis_url.replace("redis://", "async+redis://", 1), implementation="redispy")
        else:
            self.storage = MemoryStorage()
        self._strategy = MovingWindowRateLimiter(self.storage)

    async def hit(self, limit: str, *key: str) -> None:
        """Count one attempt against `limit` for `key`; raise RateLimited when it is used up."""
        item = parse(limit)
        if not await self._strategy.hit(item, *key):
            raise RateLimited(await self._retry_after(item, *key))

    async def check(self, limit: str, *key: str) -> None:
        """Raise RateLimited if `limit` is already used up for `key`, without counting an attempt."""
        item = parse(limit)
        if not await self._strategy.test(item, *key):
            raise RateLimited(await self._retry_after(item, *key))

    async def clear(self, limit: str, *key: str) -> None:
        await self._strategy.clear(parse(limit), *key)

    async def reset(self) -> None:
        await self.storage.reset()

    async def _retry_after(self, item: RateLimitItem, *key: str) -> int:
        stats = await self._strategy.get_window_stats(item, *key)
        return max(1, math.ceil(stats.reset_time - time.time()))
