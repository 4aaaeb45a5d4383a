"""Passwords: which are refused, and hashing (argon2id for new hashes; bcrypt hashes still verify and are upgraded
on login).

Hashing is CPU-heavy, so it runs in a worker thread, never on the event loop.
"""

import re
from collections.abc import Iterable

from anyio import to_thread
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher
from zxcvbn.matching import (
    RANKED_DICTIONARIES,
    build_ranked_dict,
    dictionary_match,
    l33t_match,
    reverse_dictionary_match,
)

from vocalis.kit.errors import InvalidInput

# NIST SP 800-63B: no composition rules, but no password found in breaches or made of the account's own details.
# zxcvbn ships the 30,000 most common passwords of breach corpora, and matchers that find words in a password however
# they are cased, reversed or written in l33t.
_COMMON = RANKED_DICTIONARIES["passwords"]
_USER_MATCHERS = (dictionary_match, reverse_dictionary_match, l33t_match)


def ensure_acceptable_password(password: str, about_user: Iterable[str], field: str = "password") -> None:
    """Refuse (422, naming `field`) a common password, or one that is mostly the user's own email or username."""
    if password.lower() in _COMMON:
        raise InvalidInput("This password is one of the most common ones; choose another", details={"field": field})
    # The whole email and username, and the words of their names ("ada.lovelace@example.com": ada, lovelace).
    words = {text.lower() for text in about_user}
    words |= {part for text in words for part in re.split(r"[^a-z0-9]+", text.split("@")[0]) if len(part) >= 3}
    ranked = {"user_inputs": build_ranked_dict(sorted(words))}
    matches = [match for matcher in _USER_MATCHERS for match in matcher(password, _ranked_dictionaries=ranked)]
    covered = {position for match in matches for position in range(match["i"], match["j"] + 1)}
    if 2 * len(covered) >= len(password):
        raise InvalidInput(
            "This password is too close to your email or username; choose another", details={"field": field}
        )


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
