"""Settings, read from `VOCALIS_*` environment variables and an optional `.env` file."""

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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

    max_request_bytes: int = Field(default=1024 * 1024, gt=0)
    default_plan: str = "free"

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
    # Load the offline speech models (Whisper, Piper) at start-up rather than at the first call.
    preload_voice_models: bool = True
    # The job worker runs inside `vocalis serve` unless turned off (`serve --no-worker`; `vocalis worker` runs one).
    run_worker: bool = True
    worker_concurrency: int = Field(default=2, gt=0)

    @property
    def files_dir(self) -> Path:
        """Where uploaded files are kept (one folder shared by the API and the workers of this data dir)."""
        return self.data_dir / "files"

    @cached_property
    def signing_key(self) -> str:
        """The JWT signing key: the configured one, else one generated once into the data dir."""
        if self.secret_key:
            return self.secret_key
        key_file = self.data_dir / "secret_key"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL: when two processes start together, exactly one writes the key and both read the same one.
            descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_urlsafe(48))
        return key_file.read_text().strip()
