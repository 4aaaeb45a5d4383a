import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, WebSocket, status

from vocalis.auth.dependencies import CurrentPrincipal, SessionlessPrincipal
from vocalis.calls import live, service
from vocalis.calls.schemas import CallDetail, CallRead, CallTurnRead, ChatReply, ChatRequest, WebCallCreated
from vocalis.dependencies import AppDatabase, AppSettings, BlobStorage, Session
from vocalis.kit.errors import ErrorResponse
from vocalis.kit.pagination import Page, Pagination
from vocalis.models.call import Call, CallDirection, CallKind, CallStatus

router = APIRouter(tags=["calls"])

_QUOTA: dict[int | str, dict[str, Any]] = {
    402: {"model": ErrorResponse, "description": "The plan's concurrent calls or call minutes are used up"}
}


def _read(call: Call) -> CallRead:
    return CallRead.model_validate(call)


@router.post(
    "/agents/{agent_id}/web-calls",
    summary="Start a browser call with an agent",
    description="Returns a short-lived, single-use token and the WebSocket URL to open with it (see the README for "
    "the audio and event protocol).",
    response_model=WebCallCreated,
    status_code=status.HTTP_201_CREATED,
    responses=_QUOTA,
)
async def create_web_call(
    agent_id: uuid.UUID, request: Request, session: Session, principal: CurrentPrincipal, settings: AppSettings
) -> WebCallCreated:
    call, token, expires_at = await service.start_web_call(session, principal, agent_id)
    # The configured public address when there is one: the request's Host header is whatever the client sent.
    public = settings.public_base_url or request.base_url
    base = str(public).replace("http", "ws", 1).rstrip("/")
    return WebCallCreated(
        call_id=call.id,
        websocket_url=f"{base}/api/v1/calls/{call.id}/websocket?token={token}",
        token=token,
        expires_at=expires_at,
    )


@router.post(
    "/agents/{agent_id}/chat",
    summary="Send a text message to an agent",
    description="The same agent without audio. Omit `session_id` to start a conversation (a call of kind `text`); "
    "pass the returned one to continue it.",
    response_model=ChatReply,
    responses={
        **_QUOTA,
        409: {"model": ErrorResponse, "description": "The chat session has ended, or answered another message"},
        429: {"model": ErrorResponse, "description": "Too many requests to providers are running"},
        502: {"model": ErrorResponse, "description": "The agent's LLM provider failed or cannot be used"},
    },
)
async def chat(
    agent_id: uuid.UUID,
    data: ChatRequest,
    database: AppDatabase,
    principal: SessionlessPrincipal,
    settings: AppSettings,
) -> ChatReply:
    # No request session: the service holds no connection while the LLM answers.
    return await service.chat(database, principal, settings, agent_id, data)


@router.get("/calls", summary="List calls", response_model=Page[CallRead])
async def list_calls(
    session: Session,
    principal: CurrentPrincipal,
    page: Pagination,
    agent_id: Annotated[uuid.UUID | None, Query()] = None,
    call_status: Annotated[CallStatus | None, Query(alias="status")] = None,
    direction: Annotated[CallDirection | None, Query()] = None,
    kind: Annotated[CallKind | None, Query()] = None,
    since: Annotated[datetime | None, Query(description="Calls created at or after this time")] = None,
    until: Annotated[datetime | None, Query(description="Calls created before this time")] = None,
) -> Page[CallRead]:
    calls, total = await service.list_calls(
        session,
        principal,
        page,
        agent_id=agent_id,
        status=call_status,
        direction=direction,
        kind=kind,
        since=since,
        until=until,
    )
    return Page.of([_read(call) for call in calls], total, page)


@router.get("/calls/{call_id}", summary="Get a call with its transcript", response_model=CallDetail)
async def get_call(call_id: uuid.UUID, session: Session, principal: CurrentPrincipal) -> CallDetail:
    call, turns = await service.get_call(session, principal, call_id)
    return CallDetail(**_read(call).model_dump(), turns=[CallTurnRead.model_validate(turn) for turn in turns])


@router.get(
    "/calls/{call_id}/recording",
    summary="Download a call's recording (WAV)",
    response_class=Response,
    responses={200: {"content": {"audio/wav": {}}, "description": "16 kHz mono 16-bit WAV"}},
)
async def get_recording(
    call_id: uuid.UUID, session: Session, principal: CurrentPrincipal, storage: BlobStorage
) -> Response:
    data = await service.get_recording(session, principal, storage, call_id)
    return Response(
        data,
        media_type="audio/wav",
        headers={"Content-Disposition": f'attachment; filename="call-{call_id}.wav"'},
    )


@router.websocket("/calls/{call_id}/websocket")
async def call_websocket(websocket: WebSocket, call_id: uuid.UUID, token: str = "") -> None:
    """A web call's audio and events; the token from POST /agents/{id}/web-calls authorises it, once."""
    state = websocket.app.state
    await live.run_web_call(
        websocket,
        call_id,
        token,
        database=state.database,
        settings=state.settings,
        storage=state.storage,
        services_factory=state.call_services,
    )
