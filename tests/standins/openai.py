"""A stand-in for OpenAI's embeddings API (`POST /v1/embeddings`), faithful to its documented wire format.

Vectors are deterministic bag-of-words hashes, so texts sharing words are close, as with a real model.
"""

import asyncio
import hashlib
import json
import math
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
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


# Chat completions (`POST /v1/chat/completions`): answers are scripted by the test, the wire format is OpenAI's.


@dataclass
class ScriptedToolCall:
    """A tool call, streamed as OpenAI does: id, type and name with arguments "" first, then the argument pieces."""

    name: str
    arguments: list[str] = field(default_factory=list)
    id: str = field(default_factory=lambda: f"call_{uuid.uuid4().hex[:24]}")


@dataclass
class ChatScript:
    """What the stand-in answers to one chat completion request."""

    content: list[str] = field(default_factory=lambda: ["Hello", "! How can I", " help you today?"])
    tool_calls: list[ScriptedToolCall] = field(default_factory=list)
    status: int = 200  # anything else: an OpenAI error body with this status instead of a completion
    error_message: str = "The server had an error while processing your request."
    error_after: int | None = None  # stream this many content pieces, then `data: {"error": ...}` and stop
    first_token_delay: float = 0.0  # seconds between the response headers and the first chunk
    piece_delay: float = 0.0  # seconds between later chunks
    finish_reason: str | None = None  # default: "tool_calls" when there are tool calls, else "stop"
    prompt_tokens: int | None = None  # default: the words of the request's messages
    completion_tokens: int | None = None  # default: one per content piece and argument piece


_ROLES = ("system", "developer", "user", "assistant", "tool", "function")


def _chat_request_problem(body: Any) -> tuple[str, str | None] | None:
    """(message, param) of the first thing OpenAI would reject in a chat completion request body, else None."""
    if not isinstance(body, dict):
        return "We could not parse the JSON body of your request.", None
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter", "model"
    messages = body.get("messages")
    if messages is None:
        return "Missing required parameter: 'messages'.", "messages"
    if not isinstance(messages, list) or not messages:
        return "Invalid 'messages': empty array. Expected an array with minimum length 1.", "messages"
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            role = message.get("role") if isinstance(message, dict) else None
            return f"Invalid value: '{role}'. Supported values are: {', '.join(_ROLES)}.", f"messages[{index}].role"
        content = message.get("content")
        if content is None and not (message["role"] == "assistant" and message.get("tool_calls")):
            return f"Missing required parameter: 'messages[{index}].content'.", f"messages[{index}].content"
        if content is not None and not isinstance(content, str | list):
            return f"Invalid type for 'messages[{index}].content'.", f"messages[{index}].content"
        if message["role"] == "tool" and not isinstance(message.get("tool_call_id"), str):
            return "Missing parameter 'tool_call_id': messages with role 'tool' must have a 'tool_call_id'.", (
                f"messages[{index}].tool_call_id"
            )
    if not isinstance(body.get("stream", False), bool):
        return "Invalid type for 'stream': expected a boolean.", "stream"
    if "stream_options" in body and not body.get("stream"):
        return "The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options"
    temperature = body.get("temperature", 1)
    if not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
        return f"Invalid 'temperature': expected a number between 0 and 2, but got {temperature!r}.", "temperature"
    max_tokens = body.get("max_tokens", 1)
    if not isinstance(max_tokens, int) or max_tokens < 1:
        return f"Invalid 'max_tokens': expected an integer >= 1, but got {max_tokens!r}.", "max_tokens"
    tools = body.get("tools", [])
    if not isinstance(tools, list):
        return "Invalid type for 'tools': expected an array.", "tools"
    for index, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(function, dict):
            return f"Missing required parameter: 'tools[{index}].function'.", f"tools[{index}].function"
        name = function.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name):
            return f"Invalid 'tools[{index}].function.name': string does not match pattern.", (
                f"tools[{index}].function.name"
            )
        if not isinstance(function.get("parameters", {}), dict):
            return f"Invalid type for 'tools[{index}].function.parameters'.", f"tools[{index}].function.parameters"
    return None


def _tool_call(call: ScriptedToolCall, arguments: str) -> dict[str, Any]:
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": arguments}}


def _error_kind(status: int) -> str:
    return "server_error" if status >= 500 else "requests" if status == 429 else "invalid_request_error"


# The key the shared chat stand-in (tests/conftest.py `openai`) accepts.
STANDIN_KEY = "sk-test-standin-0123456789abcdef"


class OpenAIStandIn:
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.fail_with: int | None = None
        self.chat_scripts: list[ChatScript] = []  # answers to the next chat requests, first in first out
        self.chat_requests: list[dict[str, Any]] = []  # chat request bodies, as received
        self.chat_disconnects = 0  # streamed completions the client closed before the end
        self.app = Starlette(
            routes=[
                Route("/v1/embeddings", self.embeddings, methods=["POST"]),
                Route("/v1/chat/completions", self.chat_completions, methods=["POST"]),
                Route("/v1/models", self.models, methods=["GET"]),
            ]
        )

    async def models(self, request: Request) -> JSONResponse:
        """`GET /v1/models`: the models the key may use (any valid key may list them)."""
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        names = [*DIMENSIONS, "gpt-4o-mini"]
        data = [{"id": name, "object": "model", "created": 1_700_000_000, "owned_by": "system"} for name in names]
        return JSONResponse({"object": "list", "data": data})

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

    async def chat_completions(self, request: Request) -> Response:
        """`POST /v1/chat/completions`: answers with the next of `chat_scripts` (a default `ChatScript` when empty)."""
        authorization = request.headers.get("authorization", "")
        if authorization != f"Bearer {self.api_key}":
            # As OpenAI does, the message names the (masked) key it got.
            sent = authorization.removeprefix("Bearer ")
            masked = f"{sent[:3]}{'*' * max(len(sent) - 7, 0)}{sent[-4:]}" if sent else ""
            return _error(401, f"Incorrect API key provided: {masked}.", "invalid_request_error", "invalid_api_key")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "We could not parse the JSON body of your request.", "invalid_request_error")
        self.chat_requests.append(body)
        problem = _chat_request_problem(body)
        if problem is not None:
            text, param = problem
            error = {"message": text, "type": "invalid_request_error", "param": param, "code": None}
            return JSONResponse({"error": error}, status_code=400)
        script = self.chat_scripts.pop(0) if self.chat_scripts else ChatScript()
        if script.status != 200:
            return _error(script.status, script.error_message, _error_kind(script.status))
        completion = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "created": int(time.time()),
            "model": body["model"],
            "system_fingerprint": "fp_standin",
        }
        words = sum(len(str(message.get("content") or "").split()) for message in body["messages"])
        completion_tokens = len(script.content) + sum(len(call.arguments) for call in script.tool_calls)
        prompt_tokens = words if script.prompt_tokens is None else script.prompt_tokens
        completion_tokens = completion_tokens if script.completion_tokens is None else script.completion_tokens
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        finish_reason = script.finish_reason or ("tool_calls" if script.tool_calls else "stop")
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = self._chat_events(script, completion, finish_reason, usage if include_usage else None)
            return StreamingResponse(self._stream(script, events), media_type="text/event-stream")
        await asyncio.sleep(script.first_token_delay)
        if script.error_after is not None:
            return _error(500, script.error_message, "server_error")
        message: dict[str, Any] = {"role": "assistant", "content": "".join(script.content) or None, "refusal": None}
        if script.tool_calls:
            message["tool_calls"] = [_tool_call(call, "".join(call.arguments)) for call in script.tool_calls]
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        return JSONResponse({**completion, "object": "chat.completion", "choices": [choice], "usage": usage})

    @staticmethod
    def _chat_events(
        script: ChatScript, completion: dict[str, Any], finish_reason: str, usage: dict[str, int] | None
    ) -> list[str]:
        """The SSE events of a streamed completion; the role chunk and the first content piece travel together."""

        def event(payload: dict[str, Any]) -> str:
            return f"data: {json.dumps(payload)}\n\n"

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            extra = {"usage": None} if usage is not None else {}
            return event({**completion, "object": "chat.completion.chunk", "choices": [choice], **extra})

        error = event({"error": {"message": script.error_message, "type": "server_error", "param": None, "code": None}})
        events = [chunk({"role": "assistant", "content": "", "refusal": None})]
        for index, piece in enumerate(script.content):
            if index == script.error_after:
                return [*events, error]
            events.append(chunk({"content": piece}))
        if script.error_after is not None:
            return [*events, error]
        for index, call in enumerate(script.tool_calls):
            events.append(chunk({"tool_calls": [{"index": index, **_tool_call(call, "")}]}))
            events.extend(
                chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}) for piece in call.arguments
            )
        events.append(chunk({}, finish_reason))
        if usage is not None:
            events.append(event({**completion, "object": "chat.completion.chunk", "choices": [], "usage": usage}))
        events.append("data: [DONE]\n\n")
        if len(events) > 1:
            events[0:2] = [events[0] + events[1]]
        return events

    async def _stream(self, script: ChatScript, events: list[str]) -> AsyncIterator[str]:
        """Send the events with the scripted pauses; count a client that leaves before the end."""
        finished = False
        try:
            for index, text in enumerate(events):
                await asyncio.sleep(script.first_token_delay if index == 0 else script.piece_delay)
                yield text
            finished = True
        finally:
            if not finished:
                self.chat_disconnects += 1
