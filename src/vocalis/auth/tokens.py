"""Access tokens (short-lived JWTs), refresh tokens and API keys (opaque random strings stored as hashes)."""

import hashlib
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from vocalis.config import Settings
from vocalis.kit import crypto
from vocalis.kit.errors import Unauthorized

ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "access"
API_KEY_PREFIX = "vk_"
REFRESH_TOKEN_PREFIX = "vr_"


# Labels of the keys derived from the server's secret key for access tokens (kit/crypto.py derives them).
_SIGNING_KEY_LABEL = b"vocalis:access-token-signing:v1"
_KEY_ID_LABEL = b"vocalis:access-token-key-id:v1"


def signing_key(settings: Settings) -> bytes:
    """The HS256 key of access tokens: derived from the secret key, apart from the key that seals credentials."""
    return crypto.derive_key(settings.signing_key, _SIGNING_KEY_LABEL)


def key_id(settings: Settings) -> str:
    """The `kid` sent with access tokens, so keys can be rotated: derived like a key, so it tells nothing about the
    secret key or the signing key."""
    return crypto.derive_key(settings.signing_key, _KEY_ID_LABEL)[:8].hex()


def create_access_token(settings: Settings, *, user_id: uuid.UUID, tenant_id: uuid.UUID, session_id: uuid.UUID) -> str:
    now = datetime.now(UTC)
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(user_id),
        "tid": str(tenant_id),
        "sid": str(session_id),
        "typ": ACCESS_TOKEN_TYPE,
        "iat": now,
        "exp": now + timedelta(seconds=settings.access_token_ttl_seconds),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, signing_key(settings), algorithm=ALGORITHM, headers={"kid": key_id(settings)})


class VerifiedTokens:
    """Access tokens whose signature and claims were verified, by (signing key id, token): a repeat skips the HMAC
    and the parsing, and still checks expiry. Bounded; the oldest entries go first. One per app."""

    def __init__(self, max_entries: int = 20_000) -> None:
        self.max_entries = max_entries
        self._claims: dict[tuple[str, str], dict[str, Any]] = {}

    def decode(self, settings: Settings, token: str) -> dict[str, Any]:
        """`decode_access_token`, remembered."""
        cache_key = (key_id(settings), token)
        claims = self._claims.get(cache_key)
        if claims is not None:
            if claims["exp"] <= time.time():
                self._claims.pop(cache_key, None)
                raise Unauthorized("Access token expired")
            return claims
        claims = decode_access_token(settings, token)
        if len(self._claims) >= self.max_entries:
            self._claims.pop(next(iter(self._claims)))
        self._claims[cache_key] = claims
        return claims


def decode_access_token(settings: Settings, token: str) -> dict[str, Any]:
    """Verify signature (HS256 only), issuer, audience, expiry and token type; 401 on any failure."""
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM or header.get("kid") != key_id(settings):
            raise Unauthorized("Invalid access token")
        claims: dict[str, Any] = jwt.decode(
            token,
            signing_key(settings),
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "sid", "typ"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("Access token expired") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("Invalid access token") from exc
    if claims.get("typ") != ACCESS_TOKEN_TYPE:
        raise Unauthorized("Invalid access token")
    try:
        claims["sub"] = uuid.UUID(claims["sub"])
        claims["sid"] = uuid.UUID(claims["sid"])
    except (ValueError, TypeError, AttributeError) as exc:
        raise Unauthorized("Invalid access token") from exc
    return claims


def digest(secret: str) -> str:
    """SHA-256 of a high-entropy secret; enough for random tokens, which need no slow hash."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_refresh_token() -> str:
    return REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)
