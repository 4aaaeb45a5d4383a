"""Attacks on access and refresh tokens: every forged, altered, confused, expired or revoked token answers 401."""

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from httpx import AsyncClient, Response
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Account, login, register
from vocalis.auth.tokens import key_id, signing_key
from vocalis.config import Settings
from vocalis.kit import crypto
from vocalis.models import AuthSession, RefreshToken, User

ME = "/api/v1/auth/me"
REFRESH = "/api/v1/auth/refresh"

# What an RS256 deployment would publish; an attacker who has it tries it as an HMAC secret.
PUBLIC_KEY_PEM = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n"
    "4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u\n"
    "+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyeh\n"
    "kd3qqGElvW/VDL5AaWTg0nLVkjRo9z+40RQzuVaE8AkAFmxZzow3x+VJYKdjykkJ\n"
    "0iT9wCS0DRTXu269V264Vf/3jvredZiKRkgwlL9xNAwxXFg0x/XFw005UWVRIkdg\n"
    "cKWTjpBP2dPwVZ4WWC+9aGVd+Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbc\n"
    "mwIDAQAB\n"
    "-----END PUBLIC KEY-----\n"
)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def header_of(token: str) -> dict[str, Any]:
    return jwt.get_unverified_header(token)


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: str | bytes, digestmod: str = "sha256") -> str:
    """Sign by hand, so any key (even one PyJWT refuses, like a PEM) and any header can be used."""
    key = secret.encode() if isinstance(secret, str) else secret
    signing_input = f"{b64url_json(header)}.{b64url_json(claims)}"
    signature = hmac.new(key, signing_input.encode(), digestmod).digest()
    return f"{signing_input}.{b64url(signature)}"


def sign(settings: Settings, claims: dict[str, Any], **header: Any) -> str:
    """A token signed with the app's real key and `kid`, with the given claims (and header overrides)."""
    headers: dict[str, Any] = {"alg": "HS256", "typ": "JWT", "kid": key_id(settings)}
    headers.update(header)
    return hs256({k: v for k, v in headers.items() if v is not None}, claims, signing_key(settings))


async def me(client: AsyncClient, token: str) -> Response:
    return await client.get(ME, headers={"Authorization": f"Bearer {token}"})


async def assert_rejected(client: AsyncClient, token: str, message: str | None = None) -> None:
    response = await me(client, token)
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    if message is not None:
        assert error["message"] == message


@pytest.fixture
async def owner(client: AsyncClient) -> Account:
    return await register(client)


def now_ts() -> int:
    return int(datetime.now(UTC).timestamp())


# --- the baseline: a hand-made token with the real key works, so each rejection below is due to its one change -----


async def test_hand_signed_token_with_real_key_is_accepted(
    client: AsyncClient, settings: Settings, owner: Account
) -> None:
    claims = claims_of(owner.access_token)
    response = await me(client, sign(settings, claims))
    assert response.status_code == 200, response.text
    assert response.json()["id"] == str(owner.user_id)


async def test_issued_token_has_the_documented_claims(settings: Settings, owner: Account) -> None:
    header = header_of(owner.access_token)
    assert header["alg"] == "HS256"
    assert header["kid"] == key_id(settings)
    claims = claims_of(owner.access_token)
    assert {"iss", "aud", "exp", "iat", "sub", "sid", "typ"} <= claims.keys()
    assert claims["iss"] == settings.jwt_issuer
    assert claims["aud"] == settings.jwt_audience
    assert claims["sub"] == str(owner.user_id)
    assert claims["typ"] == "access"
    assert claims["exp"] - claims["iat"] == settings.access_token_ttl_seconds
    uuid.UUID(claims["sid"])
    # The signing key is not a guessable fingerprint of itself.
    assert settings.signing_key not in owner.access_token


# --- algorithm attacks --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
async def test_alg_none_is_rejected(client: AsyncClient, settings: Settings, owner: Account, alg: str) -> None:
    claims = claims_of(owner.access_token)
    header = {"alg": alg, "typ": "JWT", "kid": key_id(settings)}
    unsigned = f"{b64url_json(header)}.{b64url_json(claims)}."
    await assert_rejected(client, unsigned, "Invalid access token")
    # Even with the real signature kept, the header's algorithm alone disqualifies the token.
    signature = owner.access_token.rsplit(".", 1)[1]
    await assert_rejected(client, f"{b64url_json(header)}.{b64url_json(claims)}.{signature}")


async def test_rs256_token_is_rejected(client: AsyncClient, settings: Settings, owner: Account) -> None:
    # An RS256 token whose signature is an RSA-sized blob: the server must not switch to public-key verification.
    claims = claims_of(owner.access_token)
    header = {"alg": "RS256", "typ": "JWT", "kid": key_id(settings)}
    forged = f"{b64url_json(header)}.{b64url_json(claims)}.{b64url(secrets.token_bytes(256))}"
    await assert_rejected(client, forged, "Invalid access token")


async def test_rs256_header_with_hmac_signature_is_rejected(
    client: AsyncClient, settings: Settings, owner: Account
) -> None:
    # The header claims RS256 but the signature is a valid HS256 one made with the real secret.
    claims = claims_of(owner.access_token)
    forged = sign(settings, claims, alg="RS256")
    await assert_rejected(client, forged, "Invalid access token")


async def test_hs256_signed_with_a_public_key_is_rejected(
    client: AsyncClient, settings: Settings, owner: Account
) -> None:
    # The classic RS/HS confusion: HMAC keyed with the (public) verification key.
    claims = claims_of(owner.access_token)
    header = {"alg": "HS256", "typ": "JWT", "kid": key_id(settings)}
    await assert_rejected(client, hs256(header, claims, PUBLIC_KEY_PEM), "Invalid access token")
    await assert_rejected(client, hs256(header, claims, PUBLIC_KEY_PEM.strip()), "Invalid access token")


@pytest.mark.parametrize(("alg", "digestmod"), [("HS384", "sha384"), ("HS512", "sha512")])
async def test_other_hmac_algorithms_are_rejected(
    client: AsyncClient, settings: Settings, owner: Account, alg: str, digestmod: str
) -> None:
    # Correctly signed with the real secret, but only HS256 is accepted.
    header = {"alg": alg, "typ": "JWT", "kid": key_id(settings)}
    token = hs256(header, claims_of(owner.access_token), signing_key(settings), digestmod)
    await assert_rejected(client, token, "Invalid access token")


# --- signature and payload tampering ------------------------------------------------------------------------------


async def test_tampered_signature_is_rejected(client: AsyncClient, owner: Account) -> None:
    head, payload, signature = owner.access_token.split(".")
    raw = bytearray(b64url_decode(signature))
    raw[0] ^= 0x01
    await assert_rejected(client, f"{head}.{payload}.{b64url(bytes(raw))}", "Invalid access token")
    await assert_rejected(client, f"{head}.{payload}.", "Invalid access token")
    await assert_rejected(client, f"{head}.{payload}", "Invalid access token")


async def test_tampered_payload_is_rejected(client: AsyncClient, owner: Account) -> None:
    victim = await register(client)
    head, _, signature = owner.access_token.split(".")
    claims = claims_of(owner.access_token)
    claims["sub"] = str(victim.user_id)
    await assert_rejected(client, f"{head}.{b64url_json(claims)}.{signature}", "Invalid access token")

    longer = claims_of(owner.access_token)
    longer["exp"] += 365 * 24 * 3600
    await assert_rejected(client, f"{head}.{b64url_json(longer)}.{signature}", "Invalid access token")


async def test_token_signed_with_another_secret_is_rejected(
    client: AsyncClient, settings: Settings, owner: Account
) -> None:
    claims = claims_of(owner.access_token)
    # Right kid, wrong key: the signature check itself must fail.
    forged = hs256({"alg": "HS256", "typ": "JWT", "kid": key_id(settings)}, claims, "another-deployments-secret")
    await assert_rejected(client, forged, "Invalid access token")


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "a.b", "....", "eyJhbGciOiJIUzI1NiJ9.e30.", "ä.ö.ü"])
async def test_malformed_tokens_are_rejected(client: AsyncClient, token: str) -> None:
    response = await client.get(ME, headers={b"Authorization": f"Bearer {token}".encode()})
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthorized"


# --- claims -------------------------------------------------------------------------------------------------------


def _set(name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(claims: dict[str, Any]) -> None:
        claims[name] = value

    return mutate


def _drop(name: str) -> Callable[[dict[str, Any]], None]:
    def mutate(claims: dict[str, Any]) -> None:
        del claims[name]

    return mutate


CLAIM_ATTACKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "wrong audience": _set("aud", "someone-else"),
    "audience list without ours": _set("aud", ["other-api", "admin-api"]),
    "missing audience": _drop("aud"),
    "wrong issuer": _set("iss", "https://evil.example"),
    "missing issuer": _drop("iss"),
    "missing sid": _drop("sid"),
    "sid not a uuid": _set("sid", "not-a-uuid"),
    "sid of no session": _set("sid", str(uuid.uuid4())),
    "sid null": _set("sid", None),
    "missing sub": _drop("sub"),
    "sub not a uuid": _set("sub", "admin"),
    "sub of no user": _set("sub", str(uuid.uuid4())),
    "typ refresh": _set("typ", "refresh"),
    "typ empty": _set("typ", ""),
    "missing typ": _drop("typ"),
    "missing exp": _drop("exp"),
    "missing iat": _drop("iat"),
    "exp not a number": _set("exp", "tomorrow"),
}


@pytest.mark.parametrize("attack", CLAIM_ATTACKS)
async def test_altered_claims_are_rejected_even_when_properly_signed(
    client: AsyncClient, settings: Settings, owner: Account, attack: str
) -> None:
    claims = claims_of(owner.access_token)
    CLAIM_ATTACKS[attack](claims)
    await assert_rejected(client, sign(settings, claims))


async def test_expired_token_is_rejected(client: AsyncClient, settings: Settings, owner: Account) -> None:
    claims = claims_of(owner.access_token)
    claims["iat"] = now_ts() - 3600
    claims["exp"] = now_ts() - 60
    await assert_rejected(client, sign(settings, claims), "Access token expired")


async def test_expired_token_made_by_pyjwt_is_rejected(client: AsyncClient, settings: Settings, owner: Account) -> None:
    claims = claims_of(owner.access_token)
    claims["iat"] = datetime.now(UTC) - timedelta(minutes=30)
    claims["exp"] = datetime.now(UTC) - timedelta(seconds=1)
    token = jwt.encode(claims, signing_key(settings), algorithm="HS256", headers={"kid": key_id(settings)})
    await assert_rejected(client, token, "Access token expired")


async def test_not_yet_valid_token_is_rejected(client: AsyncClient, settings: Settings, owner: Account) -> None:
    claims = claims_of(owner.access_token)
    claims["nbf"] = now_ts() + 3600
    await assert_rejected(client, sign(settings, claims))


async def test_audience_list_containing_ours_is_accepted(
    client: AsyncClient, settings: Settings, owner: Account
) -> None:
    # RFC 7519 allows an audience array; ours being in it is enough. (Shows the audience check is not a string match.)
    claims = claims_of(owner.access_token)
    claims["aud"] = [settings.jwt_audience, "other-api"]
    assert (await me(client, sign(settings, claims))).status_code == 200


async def test_sid_of_another_users_session_is_rejected(
    client: AsyncClient, settings: Settings, owner: Account
) -> None:
    # A validly signed token naming user A with user B's session must not authenticate anyone.
    other = await register(client)
    claims = claims_of(owner.access_token)
    claims["sid"] = claims_of(other.access_token)["sid"]
    await assert_rejected(client, sign(settings, claims), "Invalid access token")


# --- kid ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kid", ["0000000000000000", "", "../../etc/passwd", 1])
async def test_wrong_kid_is_rejected(client: AsyncClient, settings: Settings, owner: Account, kid: Any) -> None:
    await assert_rejected(client, sign(settings, claims_of(owner.access_token), kid=kid), "Invalid access token")


async def test_missing_kid_is_rejected(client: AsyncClient, settings: Settings, owner: Account) -> None:
    await assert_rejected(client, sign(settings, claims_of(owner.access_token), kid=None), "Invalid access token")


async def test_token_from_a_rotated_out_key_is_rejected(
    client: AsyncClient, settings: Settings, owner: Account
) -> None:
    old = Settings(environment="test", data_dir=settings.data_dir, secret_key="the-previous-key-" + "y" * 32)
    assert key_id(old) != key_id(settings)
    token = sign(old, claims_of(owner.access_token))
    await assert_rejected(client, token, "Invalid access token")


async def test_kid_tells_nothing_about_the_secret(settings: Settings, owner: Account) -> None:
    kid = header_of(owner.access_token)["kid"]
    assert kid == key_id(settings)
    secret = settings.signing_key.encode()
    plain_hashes = [hashlib.new(name, secret).hexdigest() for name in ("md5", "sha1", "sha256", "sha512")]
    plain_hashes += [hashlib.sha256(signing_key(settings)).hexdigest(), signing_key(settings).hex()]
    assert settings.signing_key not in kid and kid not in settings.signing_key
    assert not [digest for digest in plain_hashes if digest.startswith(kid[:8])]


async def test_a_token_signed_with_the_raw_secret_is_rejected(
    client: AsyncClient, settings: Settings, owner: Account
) -> None:
    # Tokens are signed with a key derived for them alone, never with the secret key itself.
    token = hs256(
        {"alg": "HS256", "typ": "JWT", "kid": key_id(settings)}, claims_of(owner.access_token), settings.signing_key
    )
    await assert_rejected(client, token, "Invalid access token")


def test_token_and_credential_keys_differ(settings: Settings) -> None:
    token_key = signing_key(settings)
    sealing_key = crypto.derive_key(settings.signing_key, crypto.SECRETS_AT_REST)
    assert len(token_key) == len(sealing_key) == 32
    assert len({token_key, sealing_key, settings.signing_key.encode()}) == 3


# --- token confusion ----------------------------------------------------------------------------------------------


async def test_refresh_token_used_as_access_token_is_rejected(client: AsyncClient, owner: Account) -> None:
    await assert_rejected(client, owner.refresh_token, "Invalid access token")


async def test_access_token_used_as_refresh_token_is_rejected(client: AsyncClient, owner: Account) -> None:
    response = await client.post(REFRESH, json={"refresh_token": owner.access_token})
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthorized"
    # And the session it belongs to is unharmed.
    assert (await client.post(REFRESH, json={"refresh_token": owner.refresh_token})).status_code == 200


async def test_refresh_token_reuse_after_rotation(client: AsyncClient, owner: Account) -> None:
    rotated = await client.post(REFRESH, json={"refresh_token": owner.refresh_token})
    assert rotated.status_code == 200
    newest = rotated.json()

    reused = await client.post(REFRESH, json={"refresh_token": owner.refresh_token})
    assert reused.status_code == 401
    assert reused.json()["error"]["message"] == "Refresh token was already used; the session has been revoked"

    await assert_rejected(client, newest["access_token"], "Session has ended")
    await assert_rejected(client, owner.access_token, "Session has ended")
    ended = await client.post(REFRESH, json={"refresh_token": newest["refresh_token"]})
    assert ended.status_code == 401


# --- sessions -----------------------------------------------------------------------------------------------------


async def test_valid_token_of_a_revoked_session_is_rejected(
    client: AsyncClient, session: AsyncSession, owner: Account
) -> None:
    assert (await me(client, owner.access_token)).status_code == 200
    sid = uuid.UUID(claims_of(owner.access_token)["sid"])
    await session.execute(
        update(AuthSession).where(AuthSession.id == sid).values(revoked_at=datetime.now(UTC), revoked_reason="test")
    )
    await session.commit()
    await assert_rejected(client, owner.access_token, "Session has ended")
    assert (await client.post(REFRESH, json={"refresh_token": owner.refresh_token})).status_code == 401


async def test_valid_token_of_an_expired_session_is_rejected(
    client: AsyncClient, session: AsyncSession, owner: Account
) -> None:
    sid = uuid.UUID(claims_of(owner.access_token)["sid"])
    past = datetime.now(UTC) - timedelta(seconds=1)
    await session.execute(update(AuthSession).where(AuthSession.id == sid).values(expires_at=past))
    await session.commit()
    await assert_rejected(client, owner.access_token, "Session has ended")
    refreshed = await client.post(REFRESH, json={"refresh_token": owner.refresh_token})
    assert refreshed.status_code == 401
    assert refreshed.json()["error"]["message"] == "Session has ended"


async def test_logged_out_token_is_rejected_while_other_sessions_live(client: AsyncClient, owner: Account) -> None:
    second = await login(
        client,
        Account(
            user_id=owner.user_id,
            tenant_id=owner.tenant_id,
            email=owner.email,
            password=owner.password,
            role=owner.role,
        ),
    )
    assert (await client.post("/api/v1/auth/logout", headers=owner.headers)).status_code == 204
    await assert_rejected(client, owner.access_token, "Session has ended")
    assert (await me(client, second.access_token)).status_code == 200


async def test_token_of_a_deleted_user_is_rejected(client: AsyncClient, session: AsyncSession, owner: Account) -> None:
    await session.execute(update(User).where(User.id == owner.user_id).values(deleted_at=datetime.now(UTC)))
    await session.commit()
    await assert_rejected(client, owner.access_token)


async def test_token_of_a_disabled_user_is_rejected(client: AsyncClient, session: AsyncSession, owner: Account) -> None:
    await session.execute(update(User).where(User.id == owner.user_id).values(is_active=False))
    await session.commit()
    await assert_rejected(client, owner.access_token, "This account is disabled")


async def test_refresh_tokens_are_stored_hashed(session: AsyncSession, owner: Account) -> None:
    hashes = (await session.scalars(select(RefreshToken.token_hash))).all()
    assert owner.refresh_token not in hashes
    assert hashlib.sha256(owner.refresh_token.encode()).hexdigest() in hashes
