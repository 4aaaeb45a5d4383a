"""A stand-in for Deepgram's project listing (`GET /v1/projects`, header `Authorization: Token <key>`), as Deepgram
documents it. Only what a key check needs; speech-to-text is not served here.
"""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class DeepgramStandIn:
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.app = Starlette(routes=[Route("/v1/projects", self.projects, methods=["GET"])])

    async def projects(self, request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Token {self.api_key}":
            return JSONResponse(
                {"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials.", "request_id": "stand-in"},
                status_code=401,
            )
        return JSONResponse({"projects": [{"project_id": "7a1b2c3d-0000-4000-8000-000000000001", "name": "Default"}]})
