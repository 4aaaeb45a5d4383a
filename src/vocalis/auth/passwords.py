"""Password hashing: argon2id for new hashes; bcrypt hashes still verify and are upgraded on login.

Hashing is CPU-heavy, so it runs in a worker thread, never on the event loop.
"""

from anyio import to_thread
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

# OWASP's argon2id profile (19 MiB, 2 passes, 1 lane): strong, and about 20 ms per hash here.
_hasher = PasswordHash((Argon2Hasher(memory_cost=19 * 1024, time_cost=2, parallelism=1), BcryptHasher()))

# Verified against when the email is unknown, so a login costs the same whether or not the account exists.
_DUMMY_HASH = _hasher.hash("vocalis-dummy-password")


async def hash_password(password: str) -> str:
    return await to_thread.run_sync(_hasher.hash, password)


async def verify_password(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """Check a password; return (valid, new hash to store when the stored one is outdated)."""
    if password_hash is None:
        await to_thread.run_sync(_hasher.verify_and_update, password, _DUMMY_HASH)
        return False, None
    return await to_thread.run_sync(_hasher.verify_and_update, password, password_hash)
