"""Call rules: admission within the plan's limits, the web-call join token, text chats, finishing a call's record."""

import asyncio
import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from vocalis.agents import service as agents
from vocalis.agents.schemas import AgentRead
from vocalis.auth.permissions import Permission
from vocalis.auth.principal import Principal
from vocalis.billing import service as billing
from vocalis.billing.service import Metric, Resource
from vocalis.calls import repository
from vocalis.calls.schemas import CallUsage, ChatReply, ChatRequest
from vocalis.config import Settings
from vocalis.credentials import service as credentials
from vocalis.kit.db import ALL_TENANTS, Database, act_for, after_rollback, utcnow
from vocalis.kit.errors import Conflict, NotFound, ProviderError, QuotaExceeded
from vocalis.kit.outbound import OutboundBusy
from vocalis.kit.pagination import PageParams
from vocalis.kit.storage import Storage
from vocalis.knowledge import service as knowledge
from vocalis.models.call import Call, CallDirection, CallKind, CallStatus, CallTurn
from vocalis.models.tenant import TenantStatus
from vocalis.voice.audio import wav
from vocalis.voice.engine import CallOutcome, TimeLimit
from vocalis.voice.responder import parts_of
from vocalis.voice.settings import VoiceSettings
from vocalis.voice.stack import LLMEndpoint, ProviderUnavailable, thinker_for
from vocalis.voice.thinking import Message, ThinkerError, TokenUsage, build_prompt, think

JOIN_TOKEN_TTL = timedelta(seconds=60)
PASSAGES_PER_TURN = 3
# Words given to speech recognition to expect (Whisper reads about 100 of its prompt tokens).
VOCABULARY_WORDS = 40
# A tenant that may no longer have calls: the end reason of its calls, and what a caller joining one is told.
TENANT_CLOSED = {"tenant_suspended": "This tenant is suspended", "tenant_deleted": "This tenant has been deleted"}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def admit(session: AsyncSession, tenant_id: uuid.UUID, *, holds_slot: bool = True) -> int | None:
    """Check a new call fits the plan (concurrent calls, call minutes); returns the seconds left this period.

    For a call that takes a concurrent-call slot, the tenant's row stays locked until the caller's transaction commits
    the new call, so replicas admitting calls at the same moment see each other's. A text chat holds no slot (see
    repository.count_live): it needs no free one, and takes no lock that its reply, however slow, would hold."""
    if holds_slot:
        await repository.lock_tenant(session, tenant_id)
        await billing.ensure_capacity(
            session, tenant_id, Resource.CONCURRENT_CALLS, partial(repository.count_live, session, tenant_id)
        )
    remaining = await billing.remaining_call_seconds(session, tenant_id)
    if remaining is not None and remaining <= 0:
        raise QuotaExceeded(
            "The plan's call minutes for this billing period are used up",
            details={"resource": Resource.CALL_MINUTES.value},
        )
    return remaining


async def start_web_call(
    session: AsyncSession, principal: Principal, agent_id: uuid.UUID
) -> tuple[Call, str, datetime]:
    """Create a queued web call and the single-use token that opens its WebSocket."""
    principal.require(Permission.CALLS_WRITE)
    agent = await agents.load_agent(session, principal.tenant_id, agent_id)
    await admit(session, principal.tenant_id)
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + JOIN_TOKEN_TTL
    call = Call(
        tenant_id=principal.tenant_id,
        agent_id=agent.id,
        kind=CallKind.WEB,
        direction=CallDirection.INBOUND,
        status=CallStatus.QUEUED,
        join_token_hash=token_hash(token),
        join_expires_at=expires_at,
        agent_snapshot=AgentRead.model_validate(agent).model_dump(mode="json"),
        usage={},
    )
    session.add(call)
    await session.flush()
    return call, token, expires_at


async def join_web_call(session: AsyncSession, call_id: uuid.UUID, token: str) -> Call | None:
    """The web call the token opens, now in progress; None for a wrong, used or expired token. When the tenant was
    suspended or deleted since the token was issued, the call is canceled instead, its end reason (a key of
    TENANT_CLOSED) saying why."""
    await act_for(session, ALL_TENANTS)  # the token names its call, and so its tenant
    call = await repository.claim(session, call_id, token_hash(token))
    if call is not None:
        await act_for(session, call.tenant_id)
        closed = await _tenant_closed(session, call.tenant_id)
        if closed is not None:
            await _close(session, call, CallStatus.CANCELED, closed, None, CallUsage())
    return call


async def _tenant_closed(session: AsyncSession, tenant_id: uuid.UUID) -> str | None:
    """Why the tenant may no longer have calls (an end reason), or None while it is active."""
    status = await repository.tenant_status(session, tenant_id)
    if status == TenantStatus.ACTIVE:
        return None
    return "tenant_suspended" if status == TenantStatus.SUSPENDED else "tenant_deleted"


def agent_of(call: Call) -> AgentRead:
    """The agent as it was when the call started (the call keeps a snapshot of its settings)."""
    return AgentRead.model_validate(call.agent_snapshot)


async def passages(
    database: Database,
    settings: Settings,
    tenant_id: uuid.UUID,
    knowledge_base_ids: Sequence[uuid.UUID],
    query: str,
) -> list[str]:
    """The agent's knowledge that best answers what the caller just said, and each question in it: one search for "how
    much is a cleaning, and do you take Delta Dental?" finds the prices and may miss the insurers. (In short
    transactions of its own: none is open while a query is embedded.)"""
    if not knowledge_base_ids:
        return []
    questions = parts_of(query)
    queries = [query, *questions] if len(questions) > 1 else [query]
    found = await asyncio.gather(
        *(knowledge.retrieve(database, settings, tenant_id, knowledge_base_ids, q, PASSAGES_PER_TURN) for q in queries)
    )
    return list(dict.fromkeys(hit.content for hits in found for hit in hits))


async def llm_endpoint(
    session: AsyncSession, settings: Settings, tenant_id: uuid.UUID, voice: VoiceSettings
) -> LLMEndpoint | None:
    """Where the call's LLM is reached, with the tenant's credential (None for the offline responder, or when the
    tenant has no credential: the engine then says which is missing)."""
    if voice.llm.provider == "extractive":
        return None
    credential = await credentials.resolve(session, settings, tenant_id, voice.llm.provider)
    return LLMEndpoint(credential.api_key, credential.base_url, owner=str(tenant_id)) if credential else None


async def with_vocabulary(
    session: AsyncSession, tenant_id: uuid.UUID, agent: AgentRead, voice: VoiceSettings
) -> VoiceSettings:
    """The call's settings with the words its speech recognition should expect: the agent's keywords, its business
    name, then the names its knowledge bases mention most."""
    names = await knowledge.vocabulary(session, tenant_id, agent.knowledge_base_ids)
    own = [*voice.stt.keywords, *([voice.business_name] if voice.business_name else [])]
    return voice.model_copy(update={"vocabulary": list(dict.fromkeys([*own, *names]))[:VOCABULARY_WORDS]})


async def time_limit(session: AsyncSession, tenant_id: uuid.UUID, voice: VoiceSettings) -> TimeLimit:
    """How long a call may last: the agent's maximum, or less when the plan's call minutes run out sooner."""
    remaining = await billing.remaining_call_seconds(session, tenant_id)
    maximum = float(voice.limits.max_duration_seconds)
    if remaining is not None and remaining < maximum:
        return TimeLimit(float(remaining), "minutes_exhausted")
    return TimeLimit(maximum, "max_duration")


async def chat(
    database: Database, principal: Principal, settings: Settings, agent_id: uuid.UUID, data: ChatRequest
) -> ChatReply:
    """One message of a text chat with an agent: the same thinking as a voice call, without audio.

    No database connection is held while the LLM (or an embeddings API) answers: what the turn needs is read in one
    short transaction, and the exchange recorded in another, which answers 409 when the chat ended or another
    message was answered meanwhile. A new chat's record is created only then, so a failed first message leaves none."""
    principal.require(Permission.CALLS_WRITE)
    tenant_id = principal.tenant_id
    call: Call | None = None
    history: list[CallTurn] = []
    async with database.transaction(tenant_id) as session:
        agent_row = await agents.load_agent(session, tenant_id, agent_id)
        if data.session_id is None:
            await admit(session, tenant_id, holds_slot=False)
            agent = AgentRead.model_validate(agent_row)
        else:
            call = await _chat_session(session, tenant_id, agent_id, data.session_id)
            history = await repository.turns(session, tenant_id, call.id)
            agent = agent_of(call)
        voice = VoiceSettings.model_validate(agent)
        endpoint = await llm_endpoint(session, settings, tenant_id, voice)
    started_at = (call.started_at if call is not None else None) or utcnow()
    heard_at = _elapsed_ms(started_at)
    sources = await passages(database, settings, tenant_id, agent.knowledge_base_ids, data.message)
    try:
        thinker = thinker_for(settings, voice.llm, endpoint)
        reply = await think(thinker, build_prompt(voice, _chat_messages(voice, history, data.message), sources))
    except (ProviderUnavailable, ThinkerError) as error:
        if isinstance(error.__cause__, OutboundBusy):
            raise error.__cause__ from None  # 429: the tenant's own requests fill its cap; the provider did not fail
        # Nothing of this message is kept: the caller may send it again.
        raise ProviderError(str(error), details={"provider": voice.llm.provider, "model": voice.llm.model}) from error

    async with database.transaction(tenant_id) as session:
        if call is None:
            call = await _open_chat(session, tenant_id, agent, started_at)
        else:
            # Locked, so two messages to one session (or the idle sweep) take turns rather than interleave.
            call = await _chat_session(session, tenant_id, agent_id, call.id, lock=True)
            if await repository.count_turns(session, tenant_id, call.id) != len(history):
                raise Conflict(
                    "Another message to this chat session was answered meanwhile; send yours again",
                    details={"session_id": str(call.id)},
                )
        usage = _record_exchange(session, call, len(history), (data.message, heard_at), reply.text, thinker.usage)
        if reply.callback is not None:
            call.collected = {**call.collected, "callback": asdict(reply.callback)}
        if reply.ended is not None:
            await _close(session, call, CallStatus.COMPLETED, reply.ended.reason, None, usage)
    return ChatReply(
        session_id=call.id,
        reply=reply.text,
        ended=reply.ended is not None,
        end_reason=reply.ended.reason if reply.ended else None,
        sources=sources,
        usage=usage,
    )


def _record_exchange(
    session: AsyncSession, call: Call, turns_so_far: int, heard: tuple[str, int], reply: str, tokens: TokenUsage
) -> CallUsage:
    """Add a chat's message (and when it was heard) and the agent's reply to its transcript, and its tokens to its
    usage; returns the chat's usage so far."""
    message, heard_at = heard
    assert call.started_at is not None
    replied_at = _elapsed_ms(call.started_at)
    user_turn = CallTurn(role="user", text=message, started_ms=heard_at, ended_ms=heard_at, interrupted=False)
    agent_turn = CallTurn(
        role="agent",
        text=reply,
        started_ms=replied_at,
        ended_ms=replied_at,
        interrupted=False,
        latency={"total_ms": replied_at - heard_at, "llm_ms": replied_at - heard_at},
    )
    repository.add_turns(session, call, turns_so_far, [user_turn, agent_turn])
    usage = CallUsage.model_validate(call.usage or {})
    usage.llm_prompt_tokens += tokens.prompt_tokens
    usage.llm_completion_tokens += tokens.completion_tokens
    call.usage = usage.model_dump()
    call.heartbeat_at = utcnow()
    return usage


async def _open_chat(session: AsyncSession, tenant_id: uuid.UUID, agent: AgentRead, started_at: datetime) -> Call:
    call = Call(
        tenant_id=tenant_id,
        agent_id=agent.id,
        kind=CallKind.TEXT,
        direction=CallDirection.INBOUND,
        status=CallStatus.IN_PROGRESS,
        started_at=started_at,
        heartbeat_at=started_at,
        agent_snapshot=agent.model_dump(mode="json"),
        usage={},
    )
    session.add(call)
    await session.flush()
    return call


async def _chat_session(
    session: AsyncSession, tenant_id: uuid.UUID, agent_id: uuid.UUID, session_id: uuid.UUID, *, lock: bool = False
) -> Call:
    """The agent's chat session, still in progress (404 for anything else, 409 once it has ended)."""
    call = await repository.get(session, tenant_id, session_id, lock=lock)
    if call is None or call.kind != CallKind.TEXT or call.agent_id != agent_id:
        raise NotFound("Chat session not found")
    if call.status != CallStatus.IN_PROGRESS:
        raise Conflict("This chat session has ended; start a new one", details={"end_reason": call.end_reason})
    return call


def _chat_messages(voice: VoiceSettings, history: list[CallTurn], message: str) -> list[Message]:
    # The agent's opening line leads every turn's conversation, not only the first's, so the LLM sees one history.
    opening = [Message(role="assistant", content=voice.first_message)] if voice.first_message else []
    said = [Message(role="user" if turn.role == "user" else "assistant", content=turn.text) for turn in history]
    return [*opening, *said, Message(role="user", content=message)]


def _elapsed_ms(started_at: datetime) -> int:
    return round((utcnow() - started_at).total_seconds() * 1000)


async def finish(session: AsyncSession, storage: Storage, call_id: uuid.UUID, outcome: CallOutcome) -> Call:
    """Finalise a live call's record from the engine's outcome: status, end, duration, transcript, usage and
    recording."""
    call = await session.get(Call, call_id, with_for_update=True)
    if call is None:
        raise NotFound("Call not found")
    if call.ended_at is not None:
        # The sweep took the call for lost (its heartbeat stalled) and closed it: the engine's account replaces that
        # provisional one, whose usage must not be metered twice.
        await billing.unmeter(session, call.tenant_id, str(call.id))
    existing = len(await repository.turns(session, call.tenant_id, call.id))
    repository.add_turns(
        session,
        call,
        existing,
        [
            CallTurn(
                role=turn.role,
                text=turn.text,
                started_ms=turn.started_ms,
                ended_ms=turn.ended_ms,
                interrupted=turn.interrupted,
                latency=turn.latency,
            )
            for turn in outcome.turns
        ],
    )
    if outcome.recording:
        key = f"recordings/{call.tenant_id}/{call.id}.wav"
        after_rollback(session, partial(storage.delete, key))
        await storage.put(key, wav(outcome.recording))
        call.recording_key = key
    call.collected = outcome.collected
    status = CallStatus.FAILED if outcome.error is not None else CallStatus.COMPLETED
    usage = CallUsage(**asdict(outcome.usage))
    await _close(session, call, status, outcome.end_reason, outcome.error, usage)
    return call


async def _close(
    session: AsyncSession,
    call: Call,
    status: CallStatus,
    end_reason: str,
    error: str | None,
    usage: CallUsage,
    ended_at: datetime | None = None,
) -> None:
    now = utcnow()
    # `ended_at` when the call is known to have ended earlier than now (its last sign of life).
    end = ended_at if ended_at is not None and call.started_at is not None and ended_at >= call.started_at else now
    call.status, call.end_reason, call.error, call.ended_at = status, end_reason, error, end
    call.join_token_hash = None
    if call.started_at is not None:
        call.duration_ms = round((end - call.started_at).total_seconds() * 1000)
    if call.kind != CallKind.TEXT:
        usage.call_seconds = round((call.duration_ms or 0) / 1000, 3)
    call.usage = usage.model_dump()
    metered = {
        Metric.CALLS: 1,
        Metric.CALL_SECONDS: round(usage.call_seconds),
        Metric.STT_SECONDS: round(usage.stt_seconds),
        Metric.LLM_TOKENS: usage.llm_prompt_tokens + usage.llm_completion_tokens,
        Metric.TTS_CHARACTERS: usage.tts_characters,
    }
    billing.meter(session, call.tenant_id, metered, reference=str(call.id))
    await session.flush()


async def quota_counts(session: AsyncSession, tenant_id: uuid.UUID) -> dict[Resource, int]:
    """What the tenant has of the resources its plan limits and this domain owns."""
    return {Resource.CONCURRENT_CALLS: await repository.count_live(session, tenant_id)}


async def heartbeat(session: AsyncSession, tenant_id: uuid.UUID, call_id: uuid.UUID) -> str | None:
    """Keep a live call's slot; returns the end reason when its tenant may no longer have calls (suspended or
    deleted since the call started), so that the call ends."""
    await repository.heartbeat(session, call_id)
    return await _tenant_closed(session, tenant_id)


async def end_abandoned(session: AsyncSession) -> int:
    """Close calls whose replica died mid-call, idle text chats and web calls never joined; returns how many.

    A lost call ends (and is billed) at its last heartbeat, an idle chat at its last message, not when the sweep
    finds them."""
    calls = await repository.abandoned(session)
    for call in calls:
        usage = CallUsage.model_validate(call.usage or {})
        if call.status == CallStatus.QUEUED:
            await _close(session, call, CallStatus.CANCELED, "not_joined", None, CallUsage())
        elif call.kind == CallKind.TEXT:
            await _close(session, call, CallStatus.COMPLETED, "idle", None, usage, ended_at=call.heartbeat_at)
        else:
            error = "The server running the call stopped"
            await _close(session, call, CallStatus.FAILED, "lost", error, usage, ended_at=call.heartbeat_at)
    return len(calls)


async def list_calls(
    session: AsyncSession, principal: Principal, page: PageParams, **filters: Any
) -> tuple[list[Call], int]:
    principal.require(Permission.CALLS_READ)
    return await repository.list_calls(session, principal.tenant_id, page, **filters)


async def get_call(session: AsyncSession, principal: Principal, call_id: uuid.UUID) -> tuple[Call, list[CallTurn]]:
    """A call of the principal's tenant with its transcript."""
    principal.require(Permission.CALLS_READ)
    call = await repository.get(session, principal.tenant_id, call_id)
    if call is None:
        raise NotFound("Call not found")
    return call, await repository.turns(session, principal.tenant_id, call.id)


async def get_recording(session: AsyncSession, principal: Principal, storage: Storage, call_id: uuid.UUID) -> bytes:
    """The call's recording as a WAV file."""
    principal.require(Permission.CALLS_READ)
    call = await repository.get(session, principal.tenant_id, call_id)
    if call is None:
        raise NotFound("Call not found")
    if call.recording_key is None:
        raise NotFound(
            "This call has no recording", details={"recording_enabled": call.agent_snapshot.get("recording_enabled")}
        )
    return await storage.get(call.recording_key)
