"""The Piper child process: synthesis, speed, restart after a crash, clean stop, a clear error when it cannot start."""

import ast
import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest

import vocalis
from vocalis.voice.providers.piper import PiperError, PiperServer


def _gone(pid: int) -> bool:
    """Exited and reaped: a zombie still answers signal 0."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_synthesizes_speech_at_the_requested_speed(piper_server: PiperServer) -> None:
    pcm, rate = await piper_server.synthesize("What time do you open on Saturday?")
    fast, fast_rate = await piper_server.synthesize("What time do you open on Saturday?", speed=1.5)

    assert rate == fast_rate == 22050
    seconds = len(pcm) / 2 / rate
    assert 1.0 < seconds < 4.0
    assert np.abs(np.frombuffer(pcm, dtype=np.int16)).mean() > 300  # speech, not silence
    # Not 1/1.5: the sentence's trailing silence does not scale, and Piper's durations vary a little (0.72-0.80 seen).
    assert 0.55 < (len(fast) / 2 / rate) / seconds < 0.86
    assert await piper_server.synthesize(" ... ") == (b"", 22050)  # nothing to pronounce


async def test_restarts_once_the_child_has_died(piper_server: PiperServer) -> None:
    old_pid = piper_server.pid
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)

    pcm, _ = await piper_server.synthesize("Hello there.")

    assert pcm
    assert piper_server.pid not in (None, old_pid)
    assert _gone(old_pid)


async def test_stop_leaves_no_process() -> None:
    server = PiperServer()
    await server.start()
    pid = server.pid
    assert pid is not None

    await server.stop()

    assert _gone(pid)
    assert server.pid is None
    await server.stop()  # idempotent


@pytest.fixture
def broken_voice(tmp_path: Path) -> Path:
    voice = tmp_path / "broken.onnx"
    voice.write_bytes(b"not an onnx model")
    (tmp_path / "broken.onnx.json").write_text(json.dumps({"audio": {"sample_rate": 22050}}))
    return voice


async def test_a_child_that_cannot_start_is_reported_with_its_output(broken_voice: Path) -> None:
    server = PiperServer(broken_voice)

    with pytest.raises(PiperError, match=r"(?s)exited with status \d+ while starting:.*Traceback"):
        await server.start()
    assert server.pid is None


def test_no_vocalis_module_imports_piper() -> None:
    """Piper is GPL: Vocalis (Apache-2.0) runs it only as a child process, never imports it (decision 0004)."""
    source = Path(vocalis.__file__).parent
    importers = []
    for path in sorted(source.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            if any(name == "piper" or name.startswith("piper.") for name in names):
                importers.append(f"{path.relative_to(source)}:{node.lineno}")
    assert importers == []
