"""A web call from the moment its WebSocket opens to its finished record.

The call's record is the source of truth across replicas: joining flips it to in_progress (once), a heartbeat keeps
its concurrency slot while it runs, and whatever ends it (caller, agent, limit, provider failure, broken protocol)
finishes it with the reason, transcript and usage.
"""

import asyncio
import contextlib
import uuid
from typing import Any

from fastapi import WebSocket
from loguru import logger
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
from starlette.websockets import WebSocketState

from vocalis.agents.schemas import AgentRead
from vocalis.billing import service as billing
from vocalis.calls import repository, service
from vocalis.calls.schemas import CallUsage
from vocalis.config import Settings
from vocalis.kit.db import Database
from vocalis.kit.storage import Storage
from vocalis.voice.pipeline import SAMPLE_RATE, CallServices, VoiceCall, turn_detection
from vocalis.voice.services import ServicesFactory
from vocalis.voice.transports.browser import BrowserSerializer, event

# WebSocket close codes: 1008 policy violation (bad token), 1011 server error.
CLOSE_BAD_TOKEN = 1008


def usage_of(services: CallServices) -> CallUsage:
    """What a call's providers consumed."""
    return CallUsage(
        stt_seconds=round(float(getattr(services.stt, "audio_seconds", 0.0)), 3),
        llm_prompt_tokens=services.thinker.usage.prompt_tokens,
        llm_completion_tokens=services.thinker.usage.completion_tokens,
        tts_characters=int(getattr(services.tts, "characters", 0)),
    )


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
    """Serve one web call on its WebSocket, and finish its record however it ends."""
    async with database.transaction() as session:
        call = await service.join_web_call(session, call_id, token)
    if call is None:
        await websocket.close(code=CLOSE_BAD_TOKEN, reason="Invalid, used or expired call token")
        return
    await websocket.accept()
    agent = AgentRead.model_validate(call.agent_snapshot)
    tenant_id = call.tenant_id
    await websocket.send_json({"type": "call.started", "call_id": str(call_id), "sample_rate": SAMPLE_RATE})

    try:
        async with database.transaction() as session:
            services = await services_factory(session, settings, tenant_id, agent)
            remaining = await billing.remaining_call_seconds(session, tenant_id)
    except Exception as error:  # a provider that cannot start ends the call, with the reason on its record
        logger.warning("Call {} could not start: {}", call_id, error)
        await _finish(database, storage, call_id, "provider_error", str(error), [], CallUsage(), None)
        await _say_goodbye(websocket, "provider_error", str(error))
        return

    max_seconds, limit_reason = float(agent.limits.max_duration_seconds), "max_duration"
    if remaining is not None and remaining < max_seconds:
        max_seconds, limit_reason = float(remaining), "minutes_exhausted"

    tasks: set[asyncio.Task[None]] = set()

    def soon(coroutine: Any) -> None:
        # Serializer callbacks run inside the transport's receive task, which ending the call cancels.
        task = asyncio.ensure_future(coroutine)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def protocol_error(message: str) -> None:
        soon(voice_call.hang_up("protocol_error", message))

    async def hangup() -> None:
        soon(voice_call.hang_up("caller_hangup"))

    async def send(kind: str, fields: dict[str, Any]) -> None:
        await voice_call.worker.queue_frame(event(kind, **fields))

    async def farewell(message: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):  # the caller may be gone already
            await websocket.send_json(message)

    transport = FastAPIWebsocketTransport(
        websocket,
        FastAPIWebsocketParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            audio_in_sample_rate=SAMPLE_RATE,
            audio_out_sample_rate=SAMPLE_RATE,
            audio_out_auto_silence=False,
            audio_out_end_silence_secs=0,
            serializer=BrowserSerializer(protocol_error, hangup),
        ),
    )

    async def retrieve(query: str) -> list[str]:
        try:
            async with database.transaction() as session:
                return await service.passages(session, settings, tenant_id, agent, query)
        except Exception:  # the agent can still answer (politely) without its knowledge
            logger.exception("Knowledge retrieval failed during call {}", call_id)
            return []

    detection = await asyncio.to_thread(turn_detection, agent)
    voice_call = VoiceCall(
        agent,
        transport,
        services,
        retrieve,
        detection,
        max_duration_seconds=max_seconds,
        max_duration_reason=limit_reason,
        send=send,
        farewell=farewell,
    )

    async def disconnected(_transport: Any, _websocket: Any) -> None:
        soon(voice_call.hang_up("caller_hangup"))

    transport.add_event_handler("on_client_disconnected", disconnected)

    beating = asyncio.create_task(_heartbeat(database, call_id))
    try:
        outcome = await voice_call.run()
    except BaseException:
        logger.exception("web call {} crashed", call_id)
        raise
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating
        for task in list(tasks):
            task.cancel()
    usage = usage_of(services)
    await _finish(
        database, storage, call_id, outcome.end_reason, outcome.error, outcome.turns, usage, outcome.recording
    )
    if not voice_call.farewell_sent:
        await _say_goodbye(websocket, outcome.end_reason, outcome.error)


async def _finish(
    database: Database,
    storage: Storage,
    call_id: uuid.UUID,
    end_reason: str,
    error: str | None,
    turns: list[Any],
    usage: CallUsage,
    recording: bytes | None,
) -> None:
    try:
        async with database.transaction() as session:
            await service.finish(
                session,
                storage,
                call_id,
                end_reason=end_reason,
                error=error,
                turns=turns,
                usage=usage,
                recording=recording,
            )
    except Exception:  # the sweeper closes the record later (as lost) if this fails
        logger.exception("Could not finish the record of call {}", call_id)


async def _say_goodbye(websocket: WebSocket, reason: str, error: str | None) -> None:
    if websocket.client_state is not WebSocketState.CONNECTED:
        return
    with contextlib.suppress(Exception):  # the caller may be gone already
        if error is not None:
            await websocket.send_json({"type": "error", "message": error})
        await websocket.send_json({"type": "call.ended", "reason": reason})
        await websocket.close()


async def _heartbeat(database: Database, call_id: uuid.UUID) -> None:
    while True:
        await asyncio.sleep(repository.HEARTBEAT_INTERVAL.total_seconds())
        try:
            async with database.transaction() as session:
                await service.heartbeat(session, call_id)
        except Exception:
            logger.exception("Heartbeat of call {} failed", call_id)
