"""What a call thinks with: the offline extractive responder or an LLM, behind one small interface.

A thinker gets the conversation so far and the knowledge retrieved for the caller's latest words, and streams its
reply as text pieces; it may end the call. Voice calls and text chats use the same thinkers.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

from vocalis.voice.settings import VoiceSettings


@dataclass(frozen=True)
class Message:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class Prompt:
    """Everything a thinker answers from: the agent's instructions, the conversation, retrieved passages."""

    system_prompt: str
    messages: list[Message]
    passages: list[str] = field(default_factory=list)
    end_call_phrases: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class EndCall:
    """The thinker decided the conversation is over (after whatever it said)."""

    reason: str = "agent_ended"


@dataclass
class TokenUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ThinkerError(Exception):
    """The thinker's provider failed or timed out; the message is safe to store on the call record."""


class Thinker(Protocol):
    usage: TokenUsage

    def reply(self, prompt: Prompt) -> AsyncIterator[str | EndCall]:
        """Stream the reply: text pieces that join as they are (spaces included), possibly an EndCall last.

        Raises ThinkerError."""
        ...


def build_prompt(settings: VoiceSettings, messages: list[Message], passages: list[str]) -> Prompt:
    """The thinker's input for a turn: the same for voice calls and text chats."""
    return Prompt(
        system_prompt=settings.system_prompt,
        messages=messages,
        passages=passages,
        end_call_phrases=settings.end_call_phrases,
    )


async def think(thinker: Thinker, prompt: Prompt) -> tuple[str, EndCall | None]:
    """The whole reply of a thinker at once (text chats)."""
    pieces: list[str] = []
    ended: EndCall | None = None
    async for piece in thinker.reply(prompt):
        if isinstance(piece, EndCall):
            ended = piece
        else:
            pieces.append(piece)
    return "".join(pieces).strip(), ended
