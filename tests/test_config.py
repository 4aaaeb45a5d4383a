import stat
from pathlib import Path

import pytest

from vocalis.config import Settings
from vocalis.kit.sentry import init_sentry


def test_settings_come_from_prefixed_environment_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VOCALIS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VOCALIS_DATABASE_URL", "postgresql://db.example/vocalis")
    monkeypatch.setenv("VOCALIS_ACCESS_TOKEN_TTL_SECONDS", "60")
    monkeypatch.setenv("VOCALIS_LOG_JSON", "true")
    settings = Settings()
    assert settings.data_dir == tmp_path
    assert settings.database_url == "postgresql://db.example/vocalis"
    assert settings.access_token_ttl_seconds == 60
    assert settings.log_json is True


def test_secret_key_is_generated_once_into_the_data_dir(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path / "data", secret_key=None).signing_key
    second = Settings(data_dir=tmp_path / "data", secret_key=None).signing_key
    assert first == second
    assert len(first) >= 32
    key_file = tmp_path / "data" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_a_configured_secret_key_wins(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key="configured-key")
    assert settings.signing_key == "configured-key"
    assert not (tmp_path / "secret_key").exists()


def test_sentry_starts_only_with_a_dsn() -> None:
    import sentry_sdk

    assert init_sentry(None, "test", "0") is False
    assert init_sentry("http://public@127.0.0.1:9/1", "test", "0") is True
    try:
        assert sentry_sdk.get_client().is_active()
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init()  # back to a disabled client
