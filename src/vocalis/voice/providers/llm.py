"""Thinking with any OpenAI-compatible chat-completions endpoint (OpenAI, Ollama, vLLM, Groq, llama.cpp).

Raw httpx streaming rather than the SDK: one small request shape, tight timeouts on the live path, and closing the
response is all it takes to stop generating when the caller interrupts. Requests go through kit/outbound.py (the
tenant chooses the URL). The provider's words never reach an error message (they end up in call records and API
answers): they go to the server log, shortened.
"""

import json
import re
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from loguru import logger

from vocalis.kit.outbound import AddressRefused, Outbound, OutboundBusy
from vocalis.voice.thinking import EndCall, Prompt, ThinkerError, TokenUsage

END_CALL = "end_call"
END_CALL_DESCRIPTION = (
    "Hang up the phone call. Use it when the conversation is finished or the caller says goodbye, "
    "after saying a short goodbye yourself."
)
KNOWLEDGE_INTRO = "Answer from the knowledge below when it covers the caller's question; do not invent facts."

# Provider error messages may quote a masked key ("sk-ab***wxyz"); such tokens never reach the log.
_KEY_LIKE = re.compile(r"\b(?:sk|gsk|xai|pk)[-_][\w*.\-]+|\S*\*{3,}\S*", re.IGNORECASE)
LOGGED_ERROR_CHARS = 300


def _end_call_tool(phrases: list[str]) -> dict[str, Any]:
    description = END_CALL_DESCRIPTION
    if phrases:
        description += " Callers of this line often end with: " + ", ".join(f'"{phrase}"' for phrase in phrases) + "."
    return {
        "type": "function",
        "function": {
            "name": END_CALL,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {"reason": {"type": "string", "description": "Why the call ends, e.g. caller_goodbye."}},
            },
        },
    }


def chat_messages(prompt: Prompt) -> list[dict[str, str]]:
    """The system message (instructions, then the retrieved passages as a bulleted list) and the conversation."""
    system = prompt.system_prompt.strip()
    if prompt.passages:
        # One bullet per passage, its continuation lines indented, so passages never run into each other.
        knowledge = "\n".join("- " + "\n  ".join(passage.strip().splitlines()) for passage in prompt.passages)
        system = f"{system}\n\n{KNOWLEDGE_INTRO}\nKnowledge:\n{knowledge}".strip()
    messages = [{"role": "system", "content": system}] if system else []
    return messages + [{"role": message.role, "content": message.content} for message in prompt.messages]


class _EventReader:
    """Server-sent events fed line by line, as the SSE spec reads them: data lines join, a blank line dispatches."""

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: str) -> str | None:
        """The event's data when this line ends an event, else None."""
        if not line:
            data, self._data = self._data, []
            return "\n".join(data) if data else None
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value.removeprefix(" "))
        return None  # comments (":keep-alive") and the event, id and retry fields carry nothing we use


class _Answer:
    """What one streamed completion said: text, tool calls joined by index, how it finished, its usage."""

    def __init__(self) -> None:
        self.tool_calls: dict[int, dict[str, str]] = {}
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None

    def add(self, data: str) -> str:
        """Take in one event's data; returns the text it adds (often empty). Raises ThinkerError."""
        try:
            chunk = json.loads(data)
        except ValueError as exc:
            raise ThinkerError("LLM provider sent a malformed stream (an event that is not JSON)") from exc
        if not isinstance(chunk, dict):
            raise ThinkerError("LLM provider sent a malformed stream (an event that is not an object)")
        if chunk.get("error"):
            logger.warning("LLM provider failed mid-answer: {}", _loggable(_error_text(chunk)))
            raise ThinkerError("LLM provider failed mid-answer")
        try:
            if isinstance(chunk.get("usage"), dict):
                self.usage = chunk["usage"]  # the last report wins: some servers repeat a running total
            text = ""
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                text += delta.get("content") or ""
                for fragment in delta.get("tool_calls") or []:
                    # The first fragment names the function; later ones carry only index and an arguments piece.
                    call = self.tool_calls.setdefault(int(fragment.get("index", 0)), {"name": "", "arguments": ""})
                    function = fragment.get("function") or {}
                    call["name"] = function.get("name") or call["name"]
                    call["arguments"] += function.get("arguments") or ""
                self.finish_reason = choice.get("finish_reason") or self.finish_reason
        except (AttributeError, TypeError, ValueError) as exc:
            raise ThinkerError("LLM provider sent a malformed stream (unexpected chunk shape)") from exc
        return str(text)

    def end_call(self) -> EndCall | None:
        """The EndCall the model asked for with the end_call tool, if it did."""
        for index in sorted(self.tool_calls):
            call = self.tool_calls[index]
            if call["name"] != END_CALL:
                logger.warning("LLM called an unknown tool {name}; ignored", name=call["name"])
                continue
            try:
                arguments = json.loads(call["arguments"] or "{}")
            except ValueError:
                arguments = {}
            reason = arguments.get("reason") if isinstance(arguments, dict) else None
            return EndCall(reason if isinstance(reason, str) and reason.strip() else "agent_ended")
        return None


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0


def _error_text(payload: Any) -> str:
    """The provider's own words from an error body: OpenAI `{"error": {"message"}}`, vLLM `{"message"}`, or text."""
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
        for key in ("message", "detail"):
            if payload.get(key):
                return str(payload[key])
    return str(payload)


def _loggable(text: str, api_key: str | None = None) -> str:
    if api_key:
        text = text.replace(api_key, "[redacted]")
    return " ".join(_KEY_LIKE.sub("[redacted]", text).split())[:LOGGED_ERROR_CHARS]


class OpenAIChat:
    """A thinker backed by `POST {base_url}/chat/completions`, streamed, with a built-in `end_call` tool.

    Requests go through `outbound` (a guarded client per reply); tests may pass a `client` instead. Close the reply
    (`aclosing`, or cancel the task consuming it) to stop generation: the HTTP response is closed at once.
    """

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str,
        model: str,
        temperature: float = 0.7,
        max_tokens: int = 300,
        timeout_seconds: float = 10.0,
        outbound: Outbound | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if (outbound is None) == (client is None):
            raise ValueError("OpenAIChat needs either outbound or client")
        self.usage = TokenUsage()
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout_seconds = timeout_seconds
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._api_key = api_key
        self._outbound = outbound
        self._client = client
        # Connecting, and each wait for the next bytes (the first token included), may take this long.
        self._timeout = httpx.Timeout(timeout_seconds)

    def request_body(self, prompt: Prompt) -> dict[str, Any]:
        """The chat completion request for a prompt: streamed, with usage, offering the end_call tool."""
        return {
            "model": self.model,
            "messages": chat_messages(prompt),
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
            "tools": [_end_call_tool(prompt.end_call_phrases)],
        }

    async def reply(self, prompt: Prompt) -> AsyncGenerator[str | EndCall, None]:
        """Stream the model's text as it arrives, then EndCall if it called end_call. Raises ThinkerError."""
        headers = {"Accept": "text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        answer = _Answer()
        done = False
        try:
            async with (
                self._http() as client,
                client.stream(
                    "POST", self._url, json=self.request_body(prompt), headers=headers, timeout=self._timeout
                ) as response,
            ):
                if response.status_code != 200:
                    raise ThinkerError(await self._status_error(response))
                events = _EventReader()
                async for line in response.aiter_lines():
                    data = events.feed(line)
                    if data is None:
                        continue
                    if data == "[DONE]":
                        done = True
                        break
                    text = answer.add(data)
                    if text:
                        yield text
        except AddressRefused as exc:
            raise ThinkerError(str(exc)) from exc
        except OutboundBusy as exc:
            raise ThinkerError(exc.message) from exc
        except httpx.TimeoutException as exc:
            raise ThinkerError(f"LLM provider timed out (nothing within {self.timeout_seconds:g} s)") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise ThinkerError(f"LLM provider unreachable or the stream broke ({exc.__class__.__name__})") from exc
        if not done and answer.finish_reason is None:
            raise ThinkerError("LLM provider ended the stream before the answer was complete")
        if answer.usage:
            self.usage.prompt_tokens += _count(answer.usage.get("prompt_tokens"))
            self.usage.completion_tokens += _count(answer.usage.get("completion_tokens"))
        end_call = answer.end_call()
        if end_call is not None:
            yield end_call

    @asynccontextmanager
    async def _http(self) -> AsyncIterator[httpx.AsyncClient]:
        if self._client is not None:
            yield self._client
        else:
            assert self._outbound is not None
            async with self._outbound.client(self._timeout) as client:
                yield client

    async def _status_error(self, response: httpx.Response) -> str:
        """A fixed message for a non-200 answer (the status); the provider's words go to the log."""
        body = (await response.aread()).decode(errors="replace")
        try:
            detail = _error_text(json.loads(body))
        except ValueError:
            detail = body
        logger.warning(
            "LLM provider answered {status} at {url}: {detail}",
            status=response.status_code,
            url=self._url,
            detail=_loggable(detail, self._api_key),
        )
        hint = "; check the key" if response.status_code in (401, 403) else ""
        if response.status_code == 404:
            hint = "; check the base URL and the model"
        return f"LLM provider answered {response.status_code} at {self._url}{hint}"
