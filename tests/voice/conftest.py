from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.voice.speech import session_piper_server, stop_session_piper_server
from vocalis.config import Settings
from vocalis.voice.providers.piper import PiperServer


@pytest.fixture(scope="session")
async def piper_server() -> AsyncIterator[PiperServer]:
    """One Piper server for the session (the one `caller_audio` speaks with), stopped at the end."""
    server = session_piper_server()
    await server.start()
    yield server
    await stop_session_piper_server()


@pytest.fixture(scope="session")
def speech_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose data dir outlives a test: the Whisper base model (145 MB) is assembled there once."""
    data_dir: Path = tmp_path_factory.mktemp("speech-data")
    return Settings(environment="test", data_dir=data_dir, secret_key="test-signing-key-" + "x" * 32)


@pytest.fixture
def model_settings(tmp_path: Path) -> Settings:
    return Settings(environment="test", data_dir=tmp_path / "data", secret_key="test-signing-key-" + "x" * 32)
