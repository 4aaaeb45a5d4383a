import uuid
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from vocalis.kit.text import DisplayText

Provider = Literal["openai", "elevenlabs", "deepgram"]

# Where each provider's API lives when no base URL is given. OpenAI's includes the version, as OpenAI-compatible
# servers expect (`http://localhost:11434/v1` for Ollama); the others' paths add `/v1/...` themselves.
DEFAULT_BASE_URLS: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "elevenlabs": "https://api.elevenlabs.io",
    "deepgram": "https://api.deepgram.com",
}
DEFAULT_NAMES: dict[str, str] = {"openai": "OpenAI", "elevenlabs": "ElevenLabs", "deepgram": "Deepgram"}


def _base_url(value: str) -> str:
    if "?" in value or "#" in value:  # even an empty query or fragment (urlsplit drops those)
        raise ValueError("must not have a query string or fragment")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not contain a user name or password; the API key goes in api_key")
    _ = parts.port  # raises ValueError for a port out of range
    try:
        httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise ValueError(f"is not a valid URL: {exc}") from None
    return value.rstrip("/")


BaseUrl = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=r"^https?://[^\s]+$"),
    AfterValidator(_base_url),
]
# Printable ASCII without spaces: it travels in an HTTP header.
ApiKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=r"^[!-~]+$")]
Name = Annotated[str, DisplayText, StringConstraints(min_length=1, max_length=200)]


class CredentialCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: Provider = Field(description="One credential per provider and tenant")
    name: Name | None = Field(default=None, description="A label; the provider's name when left out")
    api_key: ApiKey = Field(description="Stored encrypted; never shown again")
    base_url: BaseUrl | None = Field(
        default=None,
        description="The provider's API root; for `openai` any OpenAI-compatible server, such as Ollama at "
        "`http://localhost:11434/v1`. Defaults: openai `https://api.openai.com/v1`, elevenlabs "
        "`https://api.elevenlabs.io`, deepgram `https://api.deepgram.com`",
    )


class CredentialUpdate(BaseModel):
    """Fields left out are unchanged; a new `api_key` replaces the old one, `base_url: null` restores the default."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    api_key: ApiKey | None = None
    base_url: BaseUrl | None = None


class CredentialRead(BaseModel):
    """A credential as shown: the key itself never leaves the server, only its last characters."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    tenant_id: uuid.UUID
    provider: str
    name: str
    api_key_hint: str = Field(description="The key's last four characters, to tell keys apart")
    base_url: str | None
    last_tested_at: datetime | None
    last_test_ok: bool | None
    last_test_error: str | None
    created_at: datetime
    updated_at: datetime


class CredentialTestResult(BaseModel):
    ok: bool = Field(description="The provider accepted the key")
    error: str | None = Field(description="Why the test failed: the provider's answer, or why it could not be reached")
    tested_at: datetime
