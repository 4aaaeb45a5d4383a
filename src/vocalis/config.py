"""Settings, read from `VOCALIS_*` environment variables and an optional `.env` file."""

import contextlib
import ipaddress
import os
import secrets
import tempfile
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, HttpUrl, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VOCALIS_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("./data")
    # Unset: the embedded PostgreSQL under `data_dir/postgres` is used.
    database_url: str | None = None
    secret_key: str | None = None
    redis_url: str | None = None

    log_level: str = "INFO"
    log_json: bool = False
    sentry_dsn: str | None = None

    jwt_issuer: str = "vocalis"
    jwt_audience: str = "vocalis-api"
    # How long an authenticated login is remembered in memory (invalidated at once by any change; 0 turns it off).
    auth_cache_seconds: float = Field(default=10.0, ge=0)
    access_token_ttl_seconds: int = Field(default=15 * 60, gt=0)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, gt=0)

    # Rate limits in the `limits` library's notation ("N per period").
    login_limit_per_address: str = "30/minute"
    login_failures_per_account: str = "5/15minutes"
    register_limit_per_address: str = "10/hour"
    register_limit_per_account: str = "5/hour"
    # Reverse proxies (addresses or CIDR networks, comma-separated) whose X-Forwarded-For and X-Forwarded-Proto are
    # believed. Empty: the peer's own address is the client's (rate limits, audit), whatever headers it sends.
    trusted_proxies: Annotated[list[str], NoDecode] = []

    max_request_bytes: int = Field(default=1024 * 1024, gt=0)
    default_plan: str = "free"

    # Calls. The address clients reach the server at (https://voice.example.com): web-call URLs are built from it,
    # not from the request's Host header, which the client chooses. Unset, the request's host is used.
    public_base_url: HttpUrl | None = None
    # How often a live call refreshes its record and checks its tenant may still call (suspended or deleted: the call
    # ends); well under the 60 s after which a silent call is taken for lost.
    call_heartbeat_seconds: float = Field(default=15.0, gt=0, le=30)

    # Knowledge ingestion.
    max_upload_file_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    max_upload_files: int = Field(default=20, gt=0)
    ingestion_timeout_seconds: int = Field(default=15 * 60, gt=0)
    ingestion_max_attempts: int = Field(default=3, gt=0)
    default_embedding_provider: str = "local"
    # OpenAI-compatible embeddings (OpenAI, Ollama, vLLM...): used by knowledge bases that choose provider "openai".
    openai_api_key: str | None = None
    openai_base_url: str = "https://api.openai.com/v1"
    # How long `POST /credentials/{id}/test` waits for the provider.
    provider_test_timeout_seconds: float = Field(default=10.0, gt=0)
    # Outbound requests made for tenants (kit/outbound.py). Hosts they may reach although private or loopback, as
    # `host` or `host:port`, comma-separated (a local Ollama: `localhost:11434`); empty, so off, by default.
    outbound_allowed_hosts: Annotated[list[str], NoDecode] = []
    # The longest one request may take, its streamed answer included.
    outbound_timeout_seconds: float = Field(default=120.0, gt=0)
    # Requests one tenant may have running at once per process (above the largest plan's 50 concurrent calls).
    outbound_requests_per_tenant: int = Field(default=64, gt=0)
    # Load the default offline speech models (Whisper base, the hibari voice) at start-up rather than at the first call.
    preload_voice_models: bool = True
    # The job worker runs inside `vocalis serve` unless turned off (`serve --no-worker`; `vocalis worker` runs one).
    run_worker: bool = True
    worker_concurrency: int = Field(default=2, gt=0)

    @field_validator("outbound_allowed_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: object) -> object:
        if isinstance(value, str):
            value = [entry.strip() for entry in value.split(",") if entry.strip()]
        if isinstance(value, list):
            for entry in value:
                parts = urlsplit(f"//{entry}")
                _ = parts.port  # raises ValueError for a bad port
                if not parts.hostname or parts.path or parts.username is not None:
                    raise ValueError(f"{entry!r} is not a host or host:port")
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        if isinstance(value, str):
            value = [entry.strip() for entry in value.split(",") if entry.strip()]
        if not isinstance(value, list):
            return value
        networks = []
        for entry in value:
            try:
                # Normalised ("10.0.0.1" -> "10.0.0.1/32", host bits cleared) into what uvicorn's middleware matches.
                networks.append(str(ipaddress.ip_network(entry, strict=False)))
            except (ValueError, TypeError):
                raise ValueError(f"{entry!r} is not an IP address or CIDR network") from None
        return networks

    @property
    def files_dir(self) -> Path:
        """Where uploaded files are kept (one folder shared by the API and the workers of this data dir)."""
        return self.data_dir / "files"

    @cached_property
    def signing_key(self) -> str:
        """The server's secret key: the configured one, else one generated once into the data dir.

        Keys for each use (token signing, sealing credentials) are derived from it. Raises InsecureSecretKey for an
        empty, short or well-known one."""
        if self.secret_key is not None:
            return _checked_secret(self.secret_key, "VOCALIS_SECRET_KEY")
        key_file = self.data_dir / "secret_key"
        # Private: the data dir holds the database, uploaded files and this key.
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not key_file.exists():
            _write_new_key(key_file)
        return _checked_secret(key_file.read_text().strip(), str(key_file))


class InsecureSecretKey(ValueError):
    """The secret key is empty, short or well known: the server refuses to start with it."""


SECRET_KEY_MIN_LENGTH = 32
# Values copied from examples and placeholders (compared without case or punctuation) are public, whatever their length.
_PLACEHOLDER_WORDS = ("changeme", "changethis", "placeholder", "example", "yoursecret", "secretkeyhere", "insecure")
_MIN_DISTINCT_CHARACTERS = 8  # "xxxx...", "abab..." and the like


def _checked_secret(value: str, source: str) -> str:
    squashed = "".join(character for character in value.lower() if character.isalnum())
    if len(value) < SECRET_KEY_MIN_LENGTH:
        problem = f"is shorter than {SECRET_KEY_MIN_LENGTH} characters"
    elif len(set(value)) < _MIN_DISTINCT_CHARACTERS:
        problem = "repeats too few characters"
    elif any(word in squashed for word in _PLACEHOLDER_WORDS):
        problem = "is a placeholder value"
    else:
        return value
    remedy = "" if source == "VOCALIS_SECRET_KEY" else ", or delete the file to have a new one generated"
    raise InsecureSecretKey(
        f"The secret key ({source}) {problem}: anyone could guess it. Set VOCALIS_SECRET_KEY to a random value "
        f"(`python -c 'import secrets; print(secrets.token_urlsafe(48))'`){remedy}. Stored provider keys must then be "
        "set again"
    )


def _write_new_key(key_file: Path) -> None:
    """Write a random key so that it appears complete or not at all; when two processes start together, the first to
    link its file wins and both read that one."""
    descriptor, temporary = tempfile.mkstemp(dir=key_file.parent, prefix=".secret_key.")  # mode 0600
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48))
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, key_file)
    finally:
        os.unlink(temporary)
    directory = os.open(key_file.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the new name survives a crash too
    finally:
        os.close(directory)
