"""A stand-in for ElevenLabs' user endpoint (`GET /v1/user`, header `xi-api-key`), as ElevenLabs documents it.

Only what a key check needs; text-to-speech is not served here.
"""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def _error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"detail": {"status": kind, "message": message}}, status_code=status)


class ElevenLabsStandIn:
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.app = Starlette(routes=[Route("/v1/user", self.user, methods=["GET"])])

    async def user(self, request: Request) -> JSONResponse:
        key = request.headers.get("xi-api-key")
        if key is None:
            return _error(401, "needs_authorization", "Neither authorization header nor xi-api-key received.")
        if key != self.api_key:
            return _error(401, "invalid_api_key", "Invalid API key")
        return JSONResponse(
            {
                "user_id": "stand-in-user",
                "subscription": {
                    "tier": "free",
                    "character_count": 0,
                    "character_limit": 10_000,
                    "status": "free",
                },
                "is_new_user": False,
                "first_name": "Ada",
            }
        )
