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
    # Who the agent answers for (the tenant's name), its opening line, and whom a caller asking for a person is given.
    business_name: str | None = None
    first_message: str | None = None
    transfer_to: str | None = None


@dataclass(frozen=True)
class EndCall:
    """The thinker decided the conversation is over (after whatever it said)."""

    reason: str = "agent_ended"


@dataclass(frozen=True)
class CallbackRequest:
    """The caller asked to be called back and the agent took it down (kept on the call record, `collected`)."""

    name: str
    phone: str
    preferred_time: str | None = None


@dataclass(frozen=True)
class Unanswered:
    """What follows does not answer the caller: the thinker found nothing in their words ("I'm sorry, I don't have
    information about that"). A voice call may hold it for a caller who paused mid-sentence (see `engine`)."""


# What a thinker streams.
Piece = str | EndCall | CallbackRequest | Unanswered


@dataclass
class TokenUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ThinkerError(Exception):
    """The thinker's provider failed or timed out; the message is safe to store on the call record."""


class Thinker(Protocol):
    usage: TokenUsage

    def reply(self, prompt: Prompt) -> AsyncIterator[Piece]:
        """Stream the reply: text pieces that join as they are (spaces included), possibly a CallbackRequest after
        the words that confirm it, possibly an EndCall last; `Unanswered` before words that do not answer.

        Raises ThinkerError."""
        ...


def build_prompt(settings: VoiceSettings, messages: list[Message], passages: list[str]) -> Prompt:
    """The thinker's input for a turn: the same for voice calls and text chats."""
    return Prompt(
        system_prompt=settings.system_prompt,
        messages=messages,
        passages=passages,
        end_call_phrases=settings.end_call_phrases,
        business_name=settings.business_name,
        first_message=settings.first_message,
        transfer_to=settings.transfer_to,
    )


@dataclass(frozen=True)
class Reply:
    """A thinker's whole reply (text chats): its words, whether it ended the conversation, what it took down."""

    text: str
    ended: EndCall | None = None
    callback: CallbackRequest | None = None


async def think(thinker: Thinker, prompt: Prompt) -> Reply:
    """The whole reply of a thinker at once (text chats)."""
    pieces: list[str] = []
    ended: EndCall | None = None
    callback: CallbackRequest | None = None
    async for piece in thinker.reply(prompt):
        if isinstance(piece, EndCall):
            ended = piece
        elif isinstance(piece, CallbackRequest):
            callback = piece
        elif isinstance(piece, str):
            pieces.append(piece)
    return Reply("".join(pieces).strip(), ended, callback)
