import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from vocalis.kit.text import DisplayText
from vocalis.voice.settings import (
    DEFAULT_SYSTEM_PROMPT,
    CallLimits,
    LanguageModel,
    SpeechToText,
    TextToSpeech,
    TurnTaking,
)

Name = Annotated[str, DisplayText, StringConstraints(min_length=1, max_length=200)]
Phrase = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
BusinessName = Annotated[str, DisplayText, StringConstraints(min_length=1, max_length=200)]
Contact = Annotated[str, DisplayText, StringConstraints(min_length=1, max_length=200)]

SYSTEM_PROMPT_USE = (
    "Instructions for an LLM (`llm.provider` openai). The offline extractive responder does not read them: it answers "
    "from the knowledge bases, the business name, the first message and the handoff contact"
)
TRANSFER_TO_USE = (
    "Who callers asking for a person are given (a phone number or e-mail); when left out, the contact the knowledge "
    "bases give, else the agent offers to take a callback request"
)


def _distinct(ids: list[uuid.UUID]) -> list[uuid.UUID]:
    return list(dict.fromkeys(ids))


# A base named twice is searched once: duplicates are dropped, order kept.
KnowledgeBaseIds = Annotated[list[uuid.UUID], AfterValidator(_distinct)]


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AgentCreate(_Settings):
    name: Name
    language: Literal["en"] = "en"
    system_prompt: str = Field(
        default=DEFAULT_SYSTEM_PROMPT, min_length=1, max_length=20_000, description=SYSTEM_PROMPT_USE
    )
    first_message: str | None = Field(default="Hello! How can I help you today?", max_length=1000)
    business_name: BusinessName | None = Field(
        default=None, description="The business the agent answers for; the tenant's name when left out"
    )
    transfer_to: Contact | None = Field(default=None, description=TRANSFER_TO_USE)
    knowledge_base_ids: KnowledgeBaseIds = Field(default_factory=list, max_length=20)
    stt: SpeechToText = SpeechToText()
    llm: LanguageModel = LanguageModel()
    tts: TextToSpeech = TextToSpeech()
    turn_taking: TurnTaking = TurnTaking()
    limits: CallLimits = CallLimits()
    end_call_phrases: list[Phrase] = Field(
        default_factory=lambda: ["goodbye", "bye", "that's all"],
        max_length=20,
        description="Caller phrases that end the call after the agent says goodbye",
    )
    recording_enabled: bool = False


class AgentUpdate(_Settings):
    """Fields left out are unchanged; a nested group given replaces that group whole."""

    name: Name | None = None
    language: Literal["en"] | None = None
    system_prompt: str | None = Field(default=None, min_length=1, max_length=20_000, description=SYSTEM_PROMPT_USE)
    first_message: str | None = Field(default=None, max_length=1000)
    business_name: BusinessName | None = None
    transfer_to: Contact | None = Field(default=None, description=TRANSFER_TO_USE)
    knowledge_base_ids: KnowledgeBaseIds | None = Field(default=None, max_length=20)
    stt: SpeechToText | None = None
    llm: LanguageModel | None = None
    tts: TextToSpeech | None = None
    turn_taking: TurnTaking | None = None
    limits: CallLimits | None = None
    end_call_phrases: list[Phrase] | None = Field(default=None, max_length=20)
    recording_enabled: bool | None = None


class AgentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    language: str
    system_prompt: str
    first_message: str | None
    business_name: str | None
    transfer_to: str | None
    knowledge_base_ids: list[uuid.UUID]
    stt: SpeechToText
    llm: LanguageModel
    tts: TextToSpeech
    turn_taking: TurnTaking
    limits: CallLimits
    end_call_phrases: list[str]
    recording_enabled: bool
    created_at: datetime
    updated_at: datetime
