import json
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets
from httpx import AsyncClient
from loguru import logger
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from tests.standins.server import serve
from vocalis.kit.logging import configure_logging


@pytest.fixture
def log_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "logs"
    configure_logging("INFO", json=True, log_dir=directory)
    yield directory
    logger.remove()
    logger.add(lambda message: None)  # keep later tests quiet without writing into a removed folder


def _records(log_dir: Path) -> list[dict[str, object]]:
    logger.complete()
    lines = (log_dir / "vocalis.log").read_text().splitlines()
    return [json.loads(line)["record"] for line in lines]


async def test_every_request_line_carries_the_request_id(log_dir: Path, client: AsyncClient) -> None:
    response = await client.get("/health/live", headers={"X-Request-ID": "trace-123"})
    assert response.headers["X-Request-ID"] == "trace-123"
    access = [r for r in _records(log_dir) if r["name"] == "vocalis.kit.middleware"]
    assert access, "no access line was logged"
    extra = access[-1]["extra"]
    assert isinstance(extra, dict)
    assert extra["request_id"] == "trace-123"


def test_standard_library_logs_are_routed_through_loguru(log_dir: Path) -> None:
    logging.getLogger("uvicorn.error").warning("from the standard library")
    records = _records(log_dir)
    assert any(r["message"] == "from the standard library" for r in records)
    assert all("request_id" in r["extra"] for r in records)  # type: ignore[operator]


def test_hostile_request_ids_are_replaced(log_dir: Path) -> None:
    from vocalis.kit.middleware import _VALID_REQUEST_ID

    assert _VALID_REQUEST_ID.match("abc-123_x.y")
    assert not _VALID_REQUEST_ID.match("a\nb")
    assert not _VALID_REQUEST_ID.match("x" * 65)


def test_secrets_in_query_strings_never_reach_the_log(log_dir: Path) -> None:
    logging.getLogger("uvicorn.error").info(
        '127.0.0.1:5 - "WebSocket /api/v1/calls/abc/websocket?token=Sup3r-Secret_tok" [accepted]'
    )
    logger.info("GET /x?a=1&api_key=vk_live_123&b=2")
    messages = [str(record["message"]) for record in _records(log_dir)]
    assert not any("Sup3r-Secret_tok" in message or "vk_live_123" in message for message in messages), messages
    assert any("?token=[redacted]" in message for message in messages)
    assert any("&api_key=[redacted]&b=2" in message for message in messages)


async def test_the_servers_own_line_for_a_web_call_url_hides_its_token(log_dir: Path) -> None:
    async def refuse(websocket: WebSocket) -> None:
        await websocket.close(code=1008)

    token = secrets.token_urlsafe(32)
    app = Starlette(routes=[WebSocketRoute("/api/v1/calls/{call_id}/websocket", refuse)])
    with serve(app) as base_url:  # uvicorn, logging the handshake as it does in `vocalis serve`
        url = f"{base_url.replace('http', 'ws', 1)}/api/v1/calls/abc/websocket?token={token}"
        with pytest.raises(websockets.InvalidStatus):
            async with websockets.connect(url):
                pass
    messages = [str(record["message"]) for record in _records(log_dir)]
    assert any('"WebSocket /api/v1/calls/abc/websocket?token=[redacted]" 403' in message for message in messages)
    assert token not in (log_dir / "vocalis.log").read_text()


def test_tracebacks_do_not_show_the_values_of_variables(log_dir: Path) -> None:
    def join(token: str) -> None:
        raise RuntimeError("The database is not available")

    token = secrets.token_urlsafe(32)
    try:
        join(token)
    except RuntimeError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    text = (log_dir / "vocalis.log").read_text()
    assert "The database is not available" in text  # the traceback is there, without the token's value
    assert token not in text
