"""File blobs behind one small interface, so object storage can replace the local folder.

Keys are made by the platform (never from user file names), so a hostile name cannot escape the storage root.
"""

import os
import re
from pathlib import Path
from typing import Protocol

from anyio import Path as AsyncPath
from anyio import to_thread

_SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/]{0,299}$")


class Storage(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...
    async def get(self, key: str) -> bytes: ...
    async def delete(self, key: str) -> None: ...
    async def exists(self, key: str) -> bool: ...


class LocalStorage:
    """Blobs as files under a root folder, written atomically (temp file, then rename).

    Tenants' files are the platform user's alone: files 0600, the folders made for them 0700, whatever the umask."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def path(self, key: str) -> Path:
        if not _SAFE_KEY.match(key) or ".." in key.split("/"):
            raise ValueError(f"Unsafe storage key: {key!r}")
        return self.root / key

    async def put(self, key: str, data: bytes) -> None:
        await to_thread.run_sync(self._put, self.path(key), data)

    @staticmethod
    def _put(path: Path, data: bytes) -> None:
        _make_private_dirs(path.parent)
        temporary = path.with_name(path.name + ".partial")
        with open(temporary, "wb", opener=_private_opener) as file:
            os.fchmod(file.fileno(), 0o600)  # a left-over partial file keeps its mode when opened again
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)

    async def get(self, key: str) -> bytes:
        return await AsyncPath(self.path(key)).read_bytes()

    async def delete(self, key: str) -> None:
        await AsyncPath(self.path(key)).unlink(missing_ok=True)

    async def exists(self, key: str) -> bool:
        return await AsyncPath(self.path(key)).exists()


def _private_opener(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


def _make_private_dirs(directory: Path) -> None:
    """`mkdir -p` with mode 0700 for every folder it creates (Path.mkdir gives the parents the default mode)."""
    if directory.is_dir():
        return
    _make_private_dirs(directory.parent)
    directory.mkdir(mode=0o700, exist_ok=True)  # exist_ok: another writer may make it meanwhile
