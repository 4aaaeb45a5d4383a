"""Secrets at rest and keys derived from the server's secret key.

Every use of the secret key gets its own key, derived with HKDF-SHA256 under a label of its own (`derive_key`), so
no two uses share key material: sealing secrets here, signing access tokens (auth/tokens.py).

A sealed secret is `version byte + 12-byte random nonce + ciphertext and tag`. Version 2 authenticates the version
byte and a context naming what the secret belongs to (a credential's tenant and id), so a ciphertext copied to another
row does not open there. Version 1 (before the context) still opens, with no context; `is_current` tells the caller to
seal it again. Changing the secret key makes stored secrets unreadable: they must be set again.
"""

import os
from functools import cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = 2
LEGACY_VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16
# The label of the key that seals secrets (unchanged since version 1, so legacy secrets open with the same key).
SECRETS_AT_REST = b"vocalis:secrets-at-rest:v1"


class DecryptionError(Exception):
    """A sealed secret could not be opened: a different key or context, or damaged or tampered data."""


@cache
def derive_key(key_material: str, label: bytes) -> bytes:
    """A 256-bit key for one use (`label`) of the server's secret key."""
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=label).derive(key_material.encode())


def encrypt(key_material: str, plaintext: str, context: bytes) -> bytes:
    """Seal `plaintext`, bound to `context` (what it belongs to); every call uses a fresh random nonce."""
    header = bytes([VERSION])
    nonce = os.urandom(NONCE_BYTES)
    key = derive_key(key_material, SECRETS_AT_REST)
    return header + nonce + AESGCM(key).encrypt(nonce, plaintext.encode(), header + context)


def decrypt(key_material: str, sealed: bytes, context: bytes) -> str:
    """Open a secret sealed by `encrypt` with the same `context` (or by version 1, which had none); raises
    DecryptionError for a wrong key or context, or altered data."""
    if len(sealed) < 1 + NONCE_BYTES + TAG_BYTES or sealed[0] not in (VERSION, LEGACY_VERSION):
        raise DecryptionError("Not a secret sealed by this version of Vocalis")
    header, nonce, ciphertext = sealed[:1], sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
    associated = header + context if sealed[0] == VERSION else header
    try:
        plaintext = AESGCM(derive_key(key_material, SECRETS_AT_REST)).decrypt(nonce, ciphertext, associated)
    except InvalidTag:
        raise DecryptionError("The secret cannot be decrypted: the key changed or the data was altered") from None
    return plaintext.decode()


def is_current(sealed: bytes) -> bool:
    """Whether `sealed` has the current form; an older one should be sealed again once opened."""
    return sealed[:1] == bytes([VERSION])
