"""Secrets at rest: AES-256-GCM sealing with a key derived from the signing key."""

import pytest

from vocalis.kit import crypto
from vocalis.kit.crypto import DecryptionError

KEY = "test-signing-key-" + "x" * 32


def test_a_sealed_secret_opens_again() -> None:
    for secret in ("sk-proj-abc123", "", "ключ 🔑 with unicode", "x" * 5000):
        sealed = crypto.encrypt(KEY, secret)
        assert crypto.decrypt(KEY, sealed) == secret


def test_the_sealed_form_hides_the_secret() -> None:
    sealed = crypto.encrypt(KEY, "sk-very-secret-value")
    assert sealed[0] == crypto.VERSION
    assert len(sealed) == 1 + crypto.NONCE_BYTES + len("sk-very-secret-value") + crypto.TAG_BYTES
    assert b"secret" not in sealed


def test_the_nonce_differs_each_time() -> None:
    first, second = crypto.encrypt(KEY, "same"), crypto.encrypt(KEY, "same")
    assert first != second
    assert first[1 : 1 + crypto.NONCE_BYTES] != second[1 : 1 + crypto.NONCE_BYTES]


def test_another_key_cannot_open_it() -> None:
    sealed = crypto.encrypt(KEY, "sk-secret")
    with pytest.raises(DecryptionError, match="key changed"):
        crypto.decrypt(KEY + "-rotated", sealed)


@pytest.mark.parametrize("position", [0, 1, 12, 13, -1])
def test_tampered_data_is_refused(position: int) -> None:
    sealed = bytearray(crypto.encrypt(KEY, "sk-secret"))
    sealed[position] ^= 0x01
    with pytest.raises(DecryptionError):
        crypto.decrypt(KEY, bytes(sealed))


@pytest.mark.parametrize("sealed", [b"", b"\x01", b"\x01" + b"\x00" * 20, b"plain text api key"])
def test_truncated_or_foreign_data_is_refused(sealed: bytes) -> None:
    with pytest.raises(DecryptionError):
        crypto.decrypt(KEY, sealed)
