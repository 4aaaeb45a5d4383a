import pytest

from vocalis.voice import catalog


@pytest.mark.parametrize("choice", sorted(catalog.REQUIRED_PACKAGES))
def test_every_offline_choice_is_installed_here(choice: tuple[str, str, str]) -> None:
    assert catalog.missing_packages(*choice) == []


def test_a_missing_package_is_named_as_pip_installs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        catalog.REQUIRED_PACKAGES,
        ("tts", "piper", "en_GB-imaginary"),
        (("piper", "piper-tts==1.8.0"), ("no_such_voice_package", "no-such-voice-package==1.0")),
    )
    assert catalog.missing_packages("tts", "piper", "en_GB-imaginary") == ["no-such-voice-package==1.0"]


def test_an_unknown_choice_needs_nothing() -> None:
    assert catalog.missing_packages("stt", "whisper", "large-v9") == []
