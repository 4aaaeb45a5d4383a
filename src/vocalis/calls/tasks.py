"""The calls job: a periodic sweep that closes calls abandoned by a dead replica, idle chats and unjoined web calls."""

import procrastinate
from procrastinate import JobContext

from vocalis.calls import service
from vocalis.kit.db import ALL_TENANTS
from vocalis.kit.jobs import WorkerContext


async def end_abandoned_calls(context: JobContext, timestamp: int) -> None:
    async with WorkerContext.of(context).database.transaction(ALL_TENANTS) as session:
        await service.end_abandoned(session)


def register(app: procrastinate.App) -> None:
    """Declare the calls jobs on a job app."""
    sweep = app.task(name="end_abandoned_calls", queue="calls", pass_context=True)(end_abandoned_calls)
    app.periodic(cron="* * * * *")(sweep)
