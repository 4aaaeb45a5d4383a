"""A background task never outlives the block that started it."""

import asyncio

import pytest

from vocalis.kit.background import running


async def test_the_task_runs_during_the_block_and_is_gone_after_it() -> None:
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    async with running(forever()) as task:
        await started.wait()
        assert not task.done()
    assert task.cancelled()


async def test_the_task_is_cancelled_when_the_block_fails() -> None:
    async def forever() -> None:
        await asyncio.Event().wait()

    with pytest.raises(RuntimeError):
        async with running(forever()) as task:
            raise RuntimeError("the block failed")
    assert task.cancelled()
