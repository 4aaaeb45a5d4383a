import os
import secrets
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import ValidationError

from vocalis import config
from vocalis.config import InsecureSecretKey, Settings
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
    settings = Settings(data_dir=tmp_path, secret_key=CONFIGURED)
    assert settings.signing_key == CONFIGURED
    assert not (tmp_path / "secret_key").exists()


CONFIGURED = "configured-key-" + secrets.token_urlsafe(24)


def test_the_generated_key_and_its_folder_are_private(tmp_path: Path) -> None:
    previous = os.umask(0o022)  # the usual umask: the modes must not depend on it
    try:
        _ = Settings(data_dir=tmp_path / "data", secret_key=None).signing_key
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "data" / "secret_key").stat().st_mode) == 0o600


def test_the_key_file_appears_complete_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path / "data"

    def crash(_: int) -> None:
        raise OSError("power cut")

    # A crash while the key is written leaves no key file (and no stray temporary one) ...
    with monkeypatch.context() as patched:
        patched.setattr(os, "fsync", crash)
        with pytest.raises(OSError, match="power cut"):
            _ = Settings(data_dir=data_dir, secret_key=None).signing_key
    assert list(data_dir.iterdir()) == []
    # ... so the next start generates a whole one.
    assert len(Settings(data_dir=data_dir, secret_key=None).signing_key) >= 32


def test_a_process_that_loses_the_race_keeps_the_winners_key(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path, secret_key=None).signing_key
    # The loser had found no file, then wrote its own key: the winner's stays, the loser reads it.
    config._write_new_key(tmp_path / "secret_key")
    assert Settings(data_dir=tmp_path, secret_key=None).signing_key == first
    assert [path.name for path in tmp_path.iterdir()] == ["secret_key"]


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: Settings(data_dir=tmp_path, secret_key=None).signing_key, range(16)))
    assert len(keys) == 1


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("", "shorter than 32"),
        ("   ", "shorter than 32"),
        ("secret", "shorter than 32"),
        ("changeme", "shorter than 32"),
        ("x" * 64, "too few characters"),
        ("abcabcabcabcabcabcabcabcabcabcabcabc", "too few characters"),
        ("changeme-changeme-please-0123456789", "placeholder"),
        ("your-secret-key-here-1234567890-abcdef", "placeholder"),
        ("django-insecure-0123456789abcdefghijklmnop", "placeholder"),
        ("CHANGE_ME_" + "0123456789abcdefghijklmnopq", "placeholder"),
    ],
)
def test_a_weak_configured_secret_key_is_refused(tmp_path: Path, secret: str, problem: str) -> None:
    settings = Settings(data_dir=tmp_path, secret_key=secret)
    with pytest.raises(InsecureSecretKey, match=problem) as raised:
        _ = settings.signing_key
    assert "VOCALIS_SECRET_KEY" in str(raised.value)


@pytest.mark.parametrize("content", ["", "\n", "short-key"])
def test_an_empty_or_short_key_file_is_refused(tmp_path: Path, content: str) -> None:
    # What the old two-step write left after a crash between creating the file and writing the key.
    (tmp_path / "secret_key").write_text(content)
    with pytest.raises(InsecureSecretKey, match="shorter than 32") as raised:
        _ = Settings(data_dir=tmp_path, secret_key=None).signing_key
    assert str(tmp_path / "secret_key") in str(raised.value)


def test_the_test_suites_secret_is_accepted(tmp_path: Path) -> None:
    secret = "test-signing-key-" + "x" * 32  # tests/conftest.py
    assert Settings(data_dir=tmp_path, secret_key=secret).signing_key == secret


def test_trusted_proxies_are_addresses_or_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOCALIS_TRUSTED_PROXIES", " 10.0.0.1, 172.16.0.0/12 ,fd00::/8,192.168.1.7/24")
    assert Settings().trusted_proxies == ["10.0.0.1/32", "172.16.0.0/12", "fd00::/8", "192.168.1.0/24"]
    assert Settings(trusted_proxies=[]).trusted_proxies == []
    monkeypatch.setenv("VOCALIS_TRUSTED_PROXIES", "10.0.0.1,proxy.example.com")
    with pytest.raises(ValidationError, match=r"'proxy\.example\.com' is not an IP address or CIDR network"):
        Settings()


def test_sentry_starts_only_with_a_dsn() -> None:
    import sentry_sdk

    assert init_sentry(None, "test", "0") is False
    assert init_sentry("http://public@127.0.0.1:9/1", "test", "0") is True
    try:
        assert sentry_sdk.get_client().is_active()
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init()  # back to a disabled client
