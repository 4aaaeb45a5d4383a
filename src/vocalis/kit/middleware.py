"""ASGI middleware: a request id and access line for every request, and a cap on request body size.

Plain ASGI rather than BaseHTTPMiddleware: it costs less per request and does not buffer streams.
"""

import re
import time
import uuid

from loguru import logger
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vocalis.kit.errors import error_response
from vocalis.kit.logging import request_id

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status_code = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                MutableHeaders(scope=message).append("X-Request-ID", rid)
            elif message["type"] == "websocket.accept":
                status_code = 101
            elif message["type"] == "websocket.close" and status_code == 500:
                # Closed before accepting: the handshake was refused.
                status_code = 403
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            logger.info("{} {} {} {:.1f}ms", scope.get("method", "WS"), scope["path"], status_code, elapsed_ms)
            request_id.reset(token)


class BodySizeLimitMiddleware:
    """Refuse request bodies over `max_bytes` with 413, whether or not Content-Length is sent.

    `larger_bodies` maps path endings (such as uploads) to their own, larger limits.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, larger_bodies: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger_bodies = larger_bodies or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = next(
            (limit for suffix, limit in self.larger_bodies.items() if scope["path"].endswith(suffix)), self.max_bytes
        )
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and not declared.isdigit():
            await error_response(400, "bad_request", "Invalid Content-Length header")(scope, receive, send)
            return
        if declared is not None and int(declared) > max_bytes:
            response = error_response(
                413, "payload_too_large", f"Request body exceeds {max_bytes} bytes", {"max_bytes": max_bytes}
            )
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise HTTPException(413, f"Request body exceeds {max_bytes} bytes")
            return message

        await self.app(scope, limited_receive, send)
