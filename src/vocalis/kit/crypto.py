"""Secrets at rest: AES-256-GCM with a key derived (HKDF-SHA256) from the app's signing key.

A sealed secret is `version byte + 12-byte random nonce + ciphertext and tag`; the version byte is also bound as
associated data, so it cannot be swapped. Changing the signing key makes stored secrets unreadable: they must be set
again.
"""

import os
from functools import cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16
# A fixed label, so the key derived for secrets differs from any other use of the signing key.
_INFO = b"vocalis:secrets-at-rest:v1"


class DecryptionError(Exception):
    """A sealed secret could not be opened: a different key, or damaged or tampered data."""


@cache
def _key(key_material: str) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=_INFO).derive(key_material.encode())


def encrypt(key_material: str, plaintext: str) -> bytes:
    """Seal `plaintext` with a key derived from `key_material`; every call uses a fresh random nonce."""
    header = bytes([VERSION])
    nonce = os.urandom(NONCE_BYTES)
    return header + nonce + AESGCM(_key(key_material)).encrypt(nonce, plaintext.encode(), header)


def decrypt(key_material: str, sealed: bytes) -> str:
    """Open a secret sealed by `encrypt`; raises DecryptionError for a wrong key or altered data."""
    if len(sealed) < 1 + NONCE_BYTES + TAG_BYTES or sealed[0] != VERSION:
        raise DecryptionError("Not a secret sealed by this version of Vocalis")
    header, nonce, ciphertext = sealed[:1], sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
    try:
        plaintext = AESGCM(_key(key_material)).decrypt(nonce, ciphertext, header)
    except InvalidTag:
        raise DecryptionError("The secret cannot be decrypted: the key changed or the data was altered") from None
    return plaintext.decode()
