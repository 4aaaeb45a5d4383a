import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from loguru import logger

from tests.standins.openai import STANDIN_KEY, ChatScript, OpenAIStandIn, ScriptedToolCall
from vocalis.config import Settings
from vocalis.kit.outbound import Outbound
from vocalis.voice.providers.llm import OpenAIChat
from vocalis.voice.thinking import EndCall, Message, Piece, Prompt, Thinker, ThinkerError, TokenUsage

KEY = STANDIN_KEY
# The stand-in listens on 127.0.0.1, which outbound requests may not reach unless allowed.
ALLOWED = Outbound(Settings(secret_key="k" * 40, outbound_allowed_hosts=["127.0.0.1"]), "tenant")
MODEL = "gpt-4o-mini"

PROMPT = Prompt(
    system_prompt="You are the receptionist of Maple Salon. Keep answers short.",
    messages=[
        Message("user", "Hi, are you open on Sunday?"),
        Message("assistant", "We are closed on Sundays."),
        Message("user", "And on Saturday?"),
    ],
    passages=["## Opening hours\n- Saturday: 10am to 4pm\n- Sunday: closed", "Parking is free behind the salon."],
    end_call_phrases=["goodbye"],
)


def thinker(
    url: str, api_key: str = KEY, timeout_seconds: float = 10.0, client: httpx.AsyncClient | None = None
) -> OpenAIChat:
    return OpenAIChat(
        api_key=api_key,
        base_url=url,
        model=MODEL,
        temperature=0.3,
        timeout_seconds=timeout_seconds,
        outbound=None if client else ALLOWED,
        client=client,
    )


@contextmanager
def logged() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="WARNING")
    try:
        yield lines
    finally:
        logger.remove(sink)


async def collect(chat: Thinker, prompt: Prompt = PROMPT) -> list[Piece]:
    return [piece async for piece in chat.reply(prompt)]


async def wait_for_disconnects(standin: OpenAIStandIn, count: int) -> None:
    deadline = time.monotonic() + 5
    while standin.chat_disconnects < count:
        assert time.monotonic() < deadline, "the stand-in never saw the client leave"
        await asyncio.sleep(0.01)


async def test_text_streams_piece_by_piece(openai: tuple[OpenAIStandIn, str]) -> None:
    standin, url = openai
    standin.chat_scripts.append(ChatScript(content=["On Saturday", " we are open", " from 10am to 4pm."]))
    assert await collect(thinker(url)) == ["On Saturday", " we are open", " from 10am to 4pm."]
    body = standin.chat_requests[-1]
    assert body["model"] == MODEL
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 0.3
    assert body["max_tokens"] == 300
    (tool,) = body["tools"]
    assert tool["type"] == "function"
    assert tool["function"]["name"] == "end_call"
    assert tool["function"]["parameters"]["properties"]["reason"]["type"] == "string"
    assert "goodbye" in tool["function"]["description"]


async def test_system_prompt_and_passages_lead_the_conversation(openai: tuple[OpenAIStandIn, str]) -> None:
    standin, url = openai
    await collect(thinker(url))
    system, *conversation = standin.chat_requests[-1]["messages"]
    assert system["role"] == "system"
    instructions, knowledge = system["content"].split("\nKnowledge:\n")
    assert instructions.startswith("You are the receptionist of Maple Salon. Keep answers short.")
    # One bullet per passage, continuation lines indented: passages stay apart.
    assert knowledge == (
        "- ## Opening hours\n  - Saturday: 10am to 4pm\n  - Sunday: closed\n- Parking is free behind the salon."
    )
    assert conversation == [
        {"role": "user", "content": "Hi, are you open on Sunday?"},
        {"role": "assistant", "content": "We are closed on Sundays."},
        {"role": "user", "content": "And on Saturday?"},
    ]


async def test_without_instructions_or_passages_there_is_no_system_message(openai: tuple[OpenAIStandIn, str]) -> None:
    standin, url = openai
    await collect(thinker(url), Prompt(system_prompt="", messages=[Message("user", "Hello?")]))
    assert standin.chat_requests[-1]["messages"] == [{"role": "user", "content": "Hello?"}]


async def test_end_call_tool_ends_the_call_after_the_text(openai: tuple[OpenAIStandIn, str]) -> None:
    standin, url = openai
    call = ScriptedToolCall("end_call", ['{"rea', 'son": "caller', '_goodbye"', "}"])
    standin.chat_scripts.append(ChatScript(content=["Thanks for calling,", " goodbye!"], tool_calls=[call]))
    assert await collect(thinker(url)) == ["Thanks for calling,", " goodbye!", EndCall("caller_goodbye")]


@pytest.mark.parametrize("arguments", [[], ["{}"], ['{"reason": ""}'], ["{not json"]])
async def test_end_call_without_a_reason_is_agent_ended(
    openai: tuple[OpenAIStandIn, str], arguments: list[str]
) -> None:
    standin, url = openai
    standin.chat_scripts.append(ChatScript(content=[], tool_calls=[ScriptedToolCall("end_call", arguments)]))
    assert await collect(thinker(url)) == [EndCall("agent_ended")]


async def test_unknown_tools_are_ignored(openai: tuple[OpenAIStandIn, str]) -> None:
    standin, url = openai
    lookup = ScriptedToolCall("lookup_order", ['{"order": ', '"123"}'])
    standin.chat_scripts.append(ChatScript(content=["One moment."], tool_calls=[lookup]))
    assert await collect(thinker(url)) == ["One moment."]


async def test_usage_accumulates_over_replies(openai: tuple[OpenAIStandIn, str]) -> None:
    standin, url = openai
    chat: Thinker = thinker(url)
    standin.chat_scripts.extend([ChatScript(prompt_tokens=120, completion_tokens=9) for _ in range(2)])
    await collect(chat)
    assert chat.usage == TokenUsage(prompt_tokens=120, completion_tokens=9)
    await collect(chat)
    assert chat.usage == TokenUsage(prompt_tokens=240, completion_tokens=18)


async def test_a_wrong_key_is_a_thinker_error_that_does_not_leak_the_key(openai: tuple[OpenAIStandIn, str]) -> None:
    _, url = openai
    wrong = "sk-proj-wrongkey-9f8e7d6c5b4a"
    with logged() as lines, pytest.raises(ThinkerError, match=r"answered 401 at .*; check the key$") as error:
        await collect(thinker(url, api_key=wrong))
    message = str(error.value)
    assert wrong not in message
    assert "sk-" not in message and "5b4a" not in message
    assert "Incorrect API key provided" in "".join(lines) and wrong not in "".join(lines)


@pytest.mark.parametrize(
    ("status", "text"), [(429, "Rate limit reached for gpt-4o-mini"), (500, "The server had an error")]
)
async def test_http_errors_keep_the_providers_words_in_the_log(
    openai: tuple[OpenAIStandIn, str], status: int, text: str
) -> None:
    """The message reaches call records and API answers: a fixed sentence, never what the server said."""
    standin, url = openai
    standin.chat_scripts.append(ChatScript(status=status, error_message=text))
    with logged() as lines, pytest.raises(ThinkerError) as error:
        await collect(thinker(url))
    assert str(error.value) == f"LLM provider answered {status} at {url}/chat/completions"
    assert text in "".join(lines)


async def test_an_error_mid_stream_is_a_thinker_error_after_the_text_so_far(openai: tuple[OpenAIStandIn, str]) -> None:
    standin, url = openai
    standin.chat_scripts.append(
        ChatScript(content=["Let me check", " that for you"], error_after=1, error_message="Model overloaded")
    )
    pieces: list[str | EndCall] = []
    with logged() as lines, pytest.raises(ThinkerError) as error:
        async for piece in thinker(url).reply(PROMPT):
            pieces.append(piece)
    assert pieces == ["Let me check"]
    assert str(error.value) == "LLM provider failed mid-answer"
    assert "Model overloaded" in "".join(lines)


async def test_no_first_token_in_time_is_a_timeout(openai: tuple[OpenAIStandIn, str]) -> None:
    standin, url = openai
    before = standin.chat_disconnects
    standin.chat_scripts.append(ChatScript(first_token_delay=5))
    started = time.monotonic()
    with pytest.raises(ThinkerError, match="timed out"):
        await collect(thinker(url, timeout_seconds=0.3))
    assert time.monotonic() - started < 2
    await wait_for_disconnects(standin, before + 1)


async def test_an_unreachable_provider_is_a_thinker_error() -> None:
    with pytest.raises(ThinkerError, match="unreachable"):
        await collect(thinker("http://127.0.0.1:9/v1"))


async def test_cancelling_the_reply_closes_the_stream(openai: tuple[OpenAIStandIn, str]) -> None:
    standin, url = openai
    before = standin.chat_disconnects
    standin.chat_scripts.append(ChatScript(content=["Sure,", " and the rest never comes."], piece_delay=30))
    first_piece = asyncio.Event()

    async def listen() -> None:
        async for _ in thinker(url).reply(PROMPT):
            first_piece.set()

    task = asyncio.create_task(listen())
    await asyncio.wait_for(first_piece.wait(), timeout=5)
    task.cancel()  # the caller spoke over the agent
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_for_disconnects(standin, before + 1)


async def test_closing_the_reply_closes_the_stream(openai: tuple[OpenAIStandIn, str]) -> None:
    standin, url = openai
    before = standin.chat_disconnects
    standin.chat_scripts.append(ChatScript(content=["Sure,", " and the rest never comes."], piece_delay=30))
    async with httpx.AsyncClient() as client:
        reply = thinker(url, client=client).reply(PROMPT)
        assert await anext(reply) == "Sure,"
        await reply.aclose()
        await wait_for_disconnects(standin, before + 1)
        assert not client.is_closed  # a shared client stays usable
        standin.chat_scripts.append(ChatScript(content=["Still here."]))
        assert await collect(thinker(url, client=client)) == ["Still here."]


def scripted_transport(body: str, seen: list[httpx.Request] | None = None) -> httpx.AsyncClient:
    """A client whose server answers every request with this SSE body (for streams no faithful server sends)."""

    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


def sse(*payloads: object) -> str:
    return "".join(f"data: {json.dumps(payload)}\n\n" for payload in payloads)


def delta(content: str, finish: str | None = None) -> dict[str, object]:
    return {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}],
    }


async def test_sse_comments_and_multiline_events_are_read_per_spec() -> None:
    seen: list[httpx.Request] = []
    body = ": keep-alive\n\n" + "event: message\ndata: " + json.dumps(delta("Hel")) + "\n\n"
    body += "data: " + json.dumps(delta("lo", "stop")).replace(', "choices"', ',\ndata: "choices"') + "\n\n"
    body += "data: [DONE]\n\n"
    async with scripted_transport(body, seen) as client:
        chat = OpenAIChat(api_key=None, base_url="http://ollama.local:11434/v1", model="llama3.2", client=client)
        assert await collect(chat) == ["Hel", "lo"]
    (request,) = seen
    assert str(request.url) == "http://ollama.local:11434/v1/chat/completions"
    assert "authorization" not in request.headers  # local servers need no key
    assert chat.usage == TokenUsage()  # a server that reports no usage counts nothing


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("data: {not json\n\n", "malformed stream"),
        ("data: [1, 2]\n\n", "malformed stream"),
        ('data: {"choices": "nope"}\n\n', "malformed stream"),
        (sse(delta("Half an ans")), "ended the stream before the answer was complete"),
        ('data: {"error": "upstream model crashed"}\n\n', "failed mid-answer$"),
    ],
)
async def test_broken_streams_are_thinker_errors(body: str, message: str) -> None:
    async with scripted_transport(body) as client:
        chat = OpenAIChat(api_key=KEY, base_url="http://llm.local/v1", model=MODEL, client=client)
        with pytest.raises(ThinkerError, match=message):
            await collect(chat)


async def test_the_standin_also_answers_without_streaming(openai: tuple[OpenAIStandIn, str]) -> None:
    standin, url = openai
    call = ScriptedToolCall("end_call", ['{"reason":', ' "done"}'], id="call_abc")
    standin.chat_scripts.append(ChatScript(content=["Bye", " now."], tool_calls=[call], prompt_tokens=5))
    async with httpx.AsyncClient() as client:
        body = {"model": MODEL, "messages": [{"role": "user", "content": "bye"}]}
        response = await client.post(f"{url}/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"})
        invalid = await client.post(
            f"{url}/chat/completions",
            json={**body, "stream_options": {"include_usage": True}},
            headers={"Authorization": f"Bearer {KEY}"},
        )
    assert response.status_code == 200
    completion = response.json()
    assert completion["object"] == "chat.completion"
    (choice,) = completion["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Bye now."
    assert choice["message"]["tool_calls"] == [
        {"id": "call_abc", "type": "function", "function": {"name": "end_call", "arguments": '{"reason": "done"}'}}
    ]
    assert completion["usage"] == {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}
    assert invalid.status_code == 400
    assert invalid.json()["error"]["param"] == "stream_options"


async def test_the_llm_is_called_through_the_outbound_guard(openai: tuple[OpenAIStandIn, str]) -> None:
    _, url = openai
    chat = OpenAIChat(
        api_key=KEY, base_url=url, model=MODEL, outbound=Outbound(Settings(secret_key="k" * 40), "tenant")
    )
    with pytest.raises(ThinkerError, match="resolves to an address this server does not call"):
        await collect(chat)
