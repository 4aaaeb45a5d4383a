"""Secrets at rest: AES-256-GCM sealing bound to a context, with keys derived from the server's secret key."""

import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vocalis.kit import crypto
from vocalis.kit.crypto import DecryptionError

KEY = "test-signing-key-" + "x" * 32
CONTEXT = b"provider_credential:tenant-a:credential-1"


def test_a_sealed_secret_opens_again() -> None:
    for secret in ("sk-proj-abc123", "", "ключ 🔑 with unicode", "x" * 5000):
        sealed = crypto.encrypt(KEY, secret, CONTEXT)
        assert crypto.decrypt(KEY, sealed, CONTEXT) == secret


def test_the_sealed_form_hides_the_secret() -> None:
    sealed = crypto.encrypt(KEY, "sk-very-secret-value", CONTEXT)
    assert sealed[0] == crypto.VERSION
    assert crypto.is_current(sealed)
    assert len(sealed) == 1 + crypto.NONCE_BYTES + len("sk-very-secret-value") + crypto.TAG_BYTES
    assert b"secret" not in sealed


def test_the_nonce_differs_each_time() -> None:
    first, second = crypto.encrypt(KEY, "same", CONTEXT), crypto.encrypt(KEY, "same", CONTEXT)
    assert first != second
    assert first[1 : 1 + crypto.NONCE_BYTES] != second[1 : 1 + crypto.NONCE_BYTES]


def test_another_key_cannot_open_it() -> None:
    sealed = crypto.encrypt(KEY, "sk-secret", CONTEXT)
    with pytest.raises(DecryptionError, match="key changed"):
        crypto.decrypt(KEY + "-rotated", sealed, CONTEXT)


@pytest.mark.parametrize(
    "context",
    [b"provider_credential:tenant-b:credential-1", b"provider_credential:tenant-a:credential-2", b""],
)
def test_it_opens_only_in_its_own_context(context: bytes) -> None:
    sealed = crypto.encrypt(KEY, "sk-secret", CONTEXT)
    with pytest.raises(DecryptionError):
        crypto.decrypt(KEY, sealed, context)


def test_the_context_cannot_be_dropped_by_claiming_the_legacy_version() -> None:
    sealed = bytearray(crypto.encrypt(KEY, "sk-secret", CONTEXT))
    sealed[0] = crypto.LEGACY_VERSION
    with pytest.raises(DecryptionError):
        crypto.decrypt(KEY, bytes(sealed), b"anything")


def test_a_secret_sealed_by_version_1_still_opens_and_asks_to_be_sealed_again() -> None:
    # Version 1 bound only its version byte, under the same derived key.
    header, nonce = bytes([crypto.LEGACY_VERSION]), os.urandom(crypto.NONCE_BYTES)
    key = crypto.derive_key(KEY, crypto.SECRETS_AT_REST)
    legacy = header + nonce + AESGCM(key).encrypt(nonce, b"sk-legacy", header)
    assert crypto.decrypt(KEY, legacy, CONTEXT) == "sk-legacy"
    assert not crypto.is_current(legacy)
    with pytest.raises(DecryptionError, match="key changed"):
        crypto.decrypt(KEY + "-rotated", legacy, CONTEXT)


def test_each_use_gets_its_own_key() -> None:
    sealing = crypto.derive_key(KEY, crypto.SECRETS_AT_REST)
    other = crypto.derive_key(KEY, b"vocalis:another-use:v1")
    assert len(sealing) == len(other) == 32
    assert sealing != other
    assert KEY.encode() not in sealing
    assert crypto.derive_key(KEY + "-rotated", crypto.SECRETS_AT_REST) != sealing


@pytest.mark.parametrize("position", [0, 1, 12, 13, -1])
def test_tampered_data_is_refused(position: int) -> None:
    sealed = bytearray(crypto.encrypt(KEY, "sk-secret", CONTEXT))
    sealed[position] ^= 0x01
    with pytest.raises(DecryptionError):
        crypto.decrypt(KEY, bytes(sealed), CONTEXT)


@pytest.mark.parametrize(
    "sealed", [b"", b"\x01", b"\x02", b"\x02" + b"\x00" * 20, b"\x03" + b"\x00" * 40, b"plain text api key"]
)
def test_truncated_or_foreign_data_is_refused(sealed: bytes) -> None:
    with pytest.raises(DecryptionError):
        crypto.decrypt(KEY, sealed, CONTEXT)
