"""The rate limiter on both of its storages: memory (embedded) and Redis (shared by replicas)."""

import socket
import uuid
from collections.abc import AsyncIterator

import pytest

from vocalis.kit.errors import RateLimited
from vocalis.kit.ratelimit import RateLimiter

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_running() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    if request.param == "redis" and not _redis_running():
        pytest.skip("the machine's Redis is not running")
    yield RateLimiter(REDIS_URL if request.param == "redis" else None)


async def test_hits_past_the_limit_are_refused_with_a_retry_after(limiter: RateLimiter) -> None:
    key = uuid.uuid4().hex
    for _ in range(3):
        await limiter.hit("3/minute", "test", key)
    with pytest.raises(RateLimited) as refused:
        await limiter.hit("3/minute", "test", key)
    retry_after = int(refused.value.headers["Retry-After"])
    assert 1 <= retry_after <= 60


async def test_keys_are_counted_separately(limiter: RateLimiter) -> None:
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    await limiter.hit("1/minute", "test", first)
    await limiter.hit("1/minute", "test", second)
    with pytest.raises(RateLimited):
        await limiter.check("1/minute", "test", first)


async def test_check_does_not_count_and_clear_resets(limiter: RateLimiter) -> None:
    key = uuid.uuid4().hex
    for _ in range(5):
        await limiter.check("1/minute", "test", key)
    await limiter.hit("1/minute", "test", key)
    with pytest.raises(RateLimited):
        await limiter.check("1/minute", "test", key)
    await limiter.clear("1/minute", "test", key)
    await limiter.check("1/minute", "test", key)


async def test_replicas_sharing_redis_share_counters() -> None:
    if not _redis_running():
        pytest.skip("the machine's Redis is not running")
    key = uuid.uuid4().hex
    replica_a, replica_b = RateLimiter(REDIS_URL), RateLimiter(REDIS_URL)
    await replica_a.hit("2/minute", "test", key)
    await replica_b.hit("2/minute", "test", key)
    with pytest.raises(RateLimited):
        await replica_a.hit("2/minute", "test", key)
