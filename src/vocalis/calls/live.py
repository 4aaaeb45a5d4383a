"""A live (audio) call from the moment its connection opens to its finished record, whatever the transport.

The call's record is the source of truth across replicas: joining flips it to in_progress (once), a heartbeat keeps
its concurrency slot while it runs (and ends it once its tenant is suspended or deleted), and whatever ends it
(caller, agent, limit, tenant, provider failure, broken protocol) finishes it with the reason, transcript and usage.
The conversation itself is the engine's (`voice.engine.VoiceCall`).
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import WebSocket
from loguru import logger

from vocalis.calls import service
from vocalis.config import Settings
from vocalis.kit.background import running
from vocalis.kit.db import Database
from vocalis.kit.storage import Storage
from vocalis.models.call import Call, CallStatus
from vocalis.voice.audio import SAMPLE_RATE
from vocalis.voice.engine import CallOutcome, prepare_call
from vocalis.voice.events import CallStarted, farewell
from vocalis.voice.settings import VoiceSettings
from vocalis.voice.stack import ServicesFactory
from vocalis.voice.transports import CallTransport
from vocalis.voice.transports.browser import BrowserTransport
from vocalis.voice.usage import ProviderUsage

# WebSocket close code 1008, policy violation: a wrong, used or expired token (the handshake is refused), or a call
# whose tenant was suspended or deleted since its token was issued (accepted first, so the client reads the reason).
CLOSE_REFUSED = 1008


async def run_web_call(
    websocket: WebSocket,
    call_id: uuid.UUID,
    token: str,
    *,
    database: Database,
    settings: Settings,
    storage: Storage,
    services_factory: ServicesFactory,
) -> None:
    """Serve one web call on its WebSocket: the token opens it once, then it runs as any live call."""
    async with database.transaction() as session:
        call = await service.join_web_call(session, call_id, token)
    if call is None:
        await websocket.close(code=CLOSE_REFUSED, reason="Invalid, used or expired call token")
        return
    await websocket.accept()
    if call.status != CallStatus.IN_PROGRESS:
        reason = service.TENANT_CLOSED.get(call.end_reason or "", "This call has ended")
        await websocket.close(code=CLOSE_REFUSED, reason=reason)
        return
    transport = BrowserTransport(websocket)
    await transport.send([CallStarted(call_id=str(call.id), sample_rate=SAMPLE_RATE)])
    await serve_call(transport, call, database=database, settings=settings, storage=storage, factory=services_factory)


async def serve_call(
    transport: CallTransport,
    call: Call,
    *,
    database: Database,
    settings: Settings,
    storage: Storage,
    factory: ServicesFactory,
) -> None:
    """Run a joined call over its transport, keep its slot alive, and finish its record however it ends."""
    agent = service.agent_of(call)
    voice = VoiceSettings.model_validate(agent)
    try:
        async with database.transaction(call.tenant_id) as session:
            endpoint = await service.llm_endpoint(session, settings, call.tenant_id, voice)
            limit = await service.time_limit(session, call.tenant_id, voice)
            voice = await service.with_vocabulary(session, call.tenant_id, agent, voice)
        services = await factory(settings, voice, endpoint)
    except Exception as error:  # a provider that cannot start ends the call, with the reason on its record
        logger.warning("Call {} could not start: {}", call.id, error)
        await _finish(database, storage, call, _failed_to_start(str(error)))
        await transport.close(farewell("provider_error", str(error)))
        return

    async def retrieve(query: str) -> list[str]:
        try:
            return await service.passages(database, settings, call.tenant_id, agent.knowledge_base_ids, query)
        except Exception:  # the agent can still answer (politely) without its knowledge
            logger.exception("Knowledge retrieval failed during call {}", call.id)
            return []

    voice_call = await prepare_call(transport, services, voice, retrieve, limit)
    async with _heartbeat(database, settings, call, voice_call.stop):
        outcome = await voice_call.run()
    await _finish(database, storage, call, outcome)
    if not outcome.farewell_sent:
        await transport.close(farewell(outcome.end_reason, outcome.error))


def _failed_to_start(error: str) -> CallOutcome:
    return CallOutcome("provider_error", error, turns=[], usage=ProviderUsage(), recording=None, farewell_sent=False)


async def _finish(database: Database, storage: Storage, call: Call, outcome: CallOutcome) -> None:
    try:
        async with database.transaction(call.tenant_id) as session:
            await service.finish(session, storage, call.id, outcome)
    except Exception:  # the sweeper closes the record later (as lost) if this fails
        logger.exception("Could not finish the record of call {}", call.id)


@asynccontextmanager
async def _heartbeat(
    database: Database, settings: Settings, call: Call, stop: Callable[[str], Awaitable[None]]
) -> AsyncIterator[None]:
    """Refresh the call's heartbeat while the block runs, so its concurrency slot stays taken; `stop` the call (with
    the end reason) once its tenant is suspended or deleted."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(settings.call_heartbeat_seconds)
            try:
                async with database.transaction(call.tenant_id) as session:
                    closed = await service.heartbeat(session, call.tenant_id, call.id)
            except Exception:
                logger.exception("Heartbeat of call {} failed", call.id)
                continue
            if closed is not None:
                logger.info("Ending call {}: {}", call.id, closed)
                await stop(closed)

    async with running(beat()):
        yield
