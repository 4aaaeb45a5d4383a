"""A stand-in for OpenAI's embeddings API (`POST /v1/embeddings`), faithful to its documented wire format.

Vectors are deterministic bag-of-words hashes, so texts sharing words are close, as with a real model.
"""

import hashlib
import math
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}


def _error(status: int, message: str, kind: str, code: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": code}}, status_code=status)


def embed(text: str, dimension: int) -> list[float]:
    vector = [0.0] * dimension
    for word in text.lower().split():
        word = "".join(ch for ch in word if ch.isalnum())
        if word:
            vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % dimension] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


class OpenAIStandIn:
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.fail_with: int | None = None
        self.app = Starlette(routes=[Route("/v1/embeddings", self.embeddings, methods=["POST"])])

    async def embeddings(self, request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        if self.fail_with is not None:
            return _error(self.fail_with, "The server had an error while processing your request.", "server_error")
        body = await request.json()
        self.requests.append(body)
        model, inputs = body.get("model"), body.get("input")
        if model not in DIMENSIONS:
            return _error(404, f"The model `{model}` does not exist", "invalid_request_error", "model_not_found")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs or len(inputs) > 2048:
            return _error(
                400, "'input' must be a non-empty string or array of up to 2048 items", "invalid_request_error"
            )
        data = [
            {"object": "embedding", "index": index, "embedding": embed(text, DIMENSIONS[model])}
            for index, text in enumerate(inputs)
        ]
        tokens = sum(len(text.split()) for text in inputs)
        return JSONResponse(
            {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
        )
