"""Local file storage: safe keys, atomic writes, and files only the platform's user can read."""

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from vocalis.kit.storage import LocalStorage


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The common umask (022), under which plain writes are world-readable: the modes must not depend on it."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


async def test_a_file_is_stored_and_read_back(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "files")
    await storage.put("documents/t1/d1/faq.txt", b"We open at nine.")
    assert await storage.exists("documents/t1/d1/faq.txt")
    assert await storage.get("documents/t1/d1/faq.txt") == b"We open at nine."
    await storage.delete("documents/t1/d1/faq.txt")
    assert not await storage.exists("documents/t1/d1/faq.txt")


async def test_files_and_the_folders_made_for_them_are_private(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "data" / "files")
    await storage.put("recordings/tenant/call.wav", b"RIFF")
    await storage.put("documents/tenant/doc/faq.txt", b"text")
    for folder in ("data", "data/files", "data/files/recordings", "data/files/recordings/tenant"):
        assert mode(tmp_path / folder) == 0o700, folder
    assert mode(tmp_path / "data/files/recordings/tenant/call.wav") == 0o600
    assert mode(tmp_path / "data/files/documents/tenant/doc/faq.txt") == 0o600


async def test_a_left_over_partial_file_does_not_pass_on_its_mode(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    # A write interrupted before this change left a world-readable partial file.
    (tmp_path / "faq.txt.partial").write_bytes(b"half")
    (tmp_path / "faq.txt.partial").chmod(0o644)
    await storage.put("faq.txt", b"whole")
    assert mode(tmp_path / "faq.txt") == 0o600
    assert await storage.get("faq.txt") == b"whole"
    assert not (tmp_path / "faq.txt.partial").exists()


@pytest.mark.parametrize("key", ["../secret_key", "a/../../b", "/etc/passwd", "", ".hidden", "a b"])
async def test_unsafe_keys_are_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="Unsafe storage key"):
        await LocalStorage(tmp_path).put(key, b"x")
