"""The /api/v1/auth endpoints through HTTP: register, login (JSON and OAuth2 form), refresh, logout,
change-password and /me, with every documented error; plus password hashing (bcrypt upgrade, equal work)."""

import uuid
from typing import Any

import bcrypt
import pytest
from httpx import AsyncClient, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.assertions import assert_error
from tests.conftest import unique
from tests.factories import PASSWORD, Account, add_user, login, register
from vocalis.auth import passwords
from vocalis.config import Settings
from vocalis.models import AuthSession, Role, Tenant, User

AUTH = "/api/v1/auth"


def field_errors(error: dict[str, Any]) -> list[list[str]]:
    return [e["loc"] for e in error["details"]["errors"]]


def signup_payload(**overrides: Any) -> dict[str, Any]:
    name = unique()
    payload: dict[str, Any] = {
        "email": f"{name}@example.com",
        "username": name,
        "password": PASSWORD,
        "first_name": "Grace",
        "last_name": "Hopper",
    }
    payload.update(overrides)
    return payload


async def me(client: AsyncClient, token: str) -> Response:
    return await client.get(f"{AUTH}/me", headers={"Authorization": f"Bearer {token}"})


async def second_login(client: AsyncClient, account: Account) -> Account:
    """Another session of the same user."""
    other = Account(
        user_id=account.user_id,
        tenant_id=account.tenant_id,
        email=account.email,
        password=account.password,
        role=account.role,
    )
    return await login(client, other)


async def stored_hash(session: AsyncSession, user_id: uuid.UUID) -> str:
    value = await session.scalar(select(User.password_hash).where(User.id == user_id))
    assert value is not None
    return value


# --- register -----------------------------------------------------------------------------------------------------


async def test_register_creates_owner_and_tenant(client: AsyncClient) -> None:
    payload = signup_payload()
    response = await client.post(f"{AUTH}/register", json=payload)

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"user", "tenant"}
    user, tenant = body["user"], body["tenant"]
    assert user["email"] == payload["email"]
    assert user["username"] == payload["username"]
    assert user["first_name"] == "Grace"
    assert user["last_name"] == "Hopper"
    assert user["role"] == "owner"
    assert user["is_super_admin"] is False
    assert user["is_active"] is True
    assert user["tenant_id"] == tenant["id"]
    assert tenant["status"] == "active"
    assert tenant["name"] == "Grace's workspace"
    assert tenant["contact_email"] == payload["email"]
    # Never a secret or hash in a response.
    assert "password" not in response.text
    assert "password_hash" not in user
    assert "$argon2" not in response.text


async def test_register_with_tenant_name(client: AsyncClient) -> None:
    response = await client.post(f"{AUTH}/register", json=signup_payload(tenant_name="Acme Voice"))
    assert response.status_code == 201, response.text
    assert response.json()["tenant"]["name"] == "Acme Voice"
    assert response.json()["tenant"]["slug"].startswith("acme-voice")


async def test_register_without_names_names_the_tenant_after_the_username(client: AsyncClient) -> None:
    payload = signup_payload()
    del payload["first_name"], payload["last_name"]
    response = await client.post(f"{AUTH}/register", json=payload)
    assert response.status_code == 201, response.text
    assert response.json()["tenant"]["name"] == f"{payload['username']}'s workspace"
    assert response.json()["user"]["first_name"] is None


async def test_register_then_me_shows_the_new_user(client: AsyncClient) -> None:
    owner = await register(client)
    response = await client.get(f"{AUTH}/me", headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["email"] == owner.email
    assert response.json()["id"] == str(owner.user_id)


async def test_register_duplicate_email_conflicts_case_insensitively(client: AsyncClient) -> None:
    first = signup_payload()
    assert (await client.post(f"{AUTH}/register", json=first)).status_code == 201

    again = signup_payload(email=first["email"].upper())
    assert_error(await client.post(f"{AUTH}/register", json=again), 409, "conflict")

    exact = signup_payload(email=first["email"])
    assert_error(await client.post(f"{AUTH}/register", json=exact), 409, "conflict")


async def test_register_duplicate_email_leaves_no_second_tenant(client: AsyncClient, session: AsyncSession) -> None:
    first = signup_payload(tenant_name=unique("dup-tenant"))
    assert (await client.post(f"{AUTH}/register", json=first)).status_code == 201
    second = signup_payload(email=first["email"], tenant_name=unique("dup-tenant"))
    assert_error(await client.post(f"{AUTH}/register", json=second), 409, "conflict")

    names = (await session.scalars(select(Tenant.name).where(Tenant.name == second["tenant_name"]))).all()
    assert names == []


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": ""}, "email"),
        ({"password": "short7!"}, "password"),
        ({"password": "x" * 129}, "password"),
        ({"username": "has space"}, "username"),
        ({"username": "ab"}, "username"),
        ({"username": "semi;colon"}, "username"),
        ({"tenant_name": ""}, "tenant_name"),
        ({"is_super_admin": True}, "is_super_admin"),
        ({"role": "owner"}, "role"),
    ],
)
async def test_register_rejects_invalid_input(client: AsyncClient, override: dict[str, Any], field: str) -> None:
    response = await client.post(f"{AUTH}/register", json=signup_payload(**override))
    error = assert_error(response, 422, "validation_error")
    assert ["body", field] in field_errors(error)
    for detail in error["details"]["errors"]:
        assert set(detail) == {"loc", "msg", "type"}


@pytest.mark.parametrize(
    ("password", "says"),
    [("password", "common"), ("Password1", "common"), ("qwertyuiop", "common"), ("Grace-Hopper-1", "email")],
)
async def test_register_refuses_common_passwords_and_the_users_own_details(
    client: AsyncClient, session: AsyncSession, password: str, says: str
) -> None:
    payload = signup_payload(email=f"grace.hopper.{unique()}@example.com", password=password)
    error = assert_error(await client.post(f"{AUTH}/register", json=payload), 422, "invalid_input")
    assert error["details"] == {"field": "password"}
    assert says in error["message"]
    assert await session.scalar(select(User.id).where(User.email == payload["email"])) is None


@pytest.mark.parametrize("missing", ["email", "username", "password"])
async def test_register_requires_fields(client: AsyncClient, missing: str) -> None:
    payload = signup_payload()
    del payload[missing]
    error = assert_error(await client.post(f"{AUTH}/register", json=payload), 422, "validation_error")
    assert ["body", missing] in field_errors(error)


async def test_register_malformed_json(client: AsyncClient) -> None:
    response = await client.post(
        f"{AUTH}/register", content=b'{"email": ', headers={"Content-Type": "application/json"}
    )
    error = assert_error(response, 422, "validation_error")
    assert error["message"] == "Malformed JSON body"


async def test_seed_curl_payloads_work_verbatim(client: AsyncClient) -> None:
    # The exact bodies of the seed document's curl examples.
    register_response = await client.post(
        "/api/v1/auth/register",
        json={
            "email": "admin@example.com",
            "username": "admin",
            "password": "SecurePass123",
            "first_name": "Admin",
            "last_name": "User",
        },
    )
    assert register_response.status_code == 201, register_response.text
    assert register_response.json()["user"]["email"] == "admin@example.com"

    login_response = await client.post(
        "/api/v1/auth/login", json={"email": "admin@example.com", "password": "SecurePass123"}
    )
    assert login_response.status_code == 200, login_response.text
    token = login_response.json()["access_token"]
    me_response = await me(client, token)
    assert me_response.status_code == 200
    assert me_response.json()["username"] == "admin"


# --- login --------------------------------------------------------------------------------------------------------


async def test_login_returns_tokens(client: AsyncClient, settings: Settings) -> None:
    owner = await register(client)
    response = await client.post(f"{AUTH}/login", json={"email": owner.email, "password": owner.password})

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.access_token_ttl_seconds
    assert body["refresh_token"].startswith("vr_")
    assert body["access_token"].count(".") == 2
    assert (await me(client, body["access_token"])).status_code == 200


async def test_login_email_is_case_insensitive(client: AsyncClient) -> None:
    owner = await register(client)
    response = await client.post(f"{AUTH}/login", json={"email": owner.email.upper(), "password": owner.password})
    assert response.status_code == 200, response.text


async def test_login_sets_last_login_at(client: AsyncClient) -> None:
    owner = await register(client)
    response = await client.get(f"{AUTH}/me", headers=owner.headers)
    assert response.json()["last_login_at"] is not None


async def test_each_login_is_a_separate_session(client: AsyncClient) -> None:
    owner = await register(client)
    other = await second_login(client, owner)
    assert other.access_token != owner.access_token
    assert other.refresh_token != owner.refresh_token


async def test_login_wrong_password_and_unknown_email_look_the_same(client: AsyncClient) -> None:
    owner = await register(client)
    wrong = await client.post(f"{AUTH}/login", json={"email": owner.email, "password": "Not-The-Password-1"})
    unknown = await client.post(f"{AUTH}/login", json={"email": f"{unique()}@example.com", "password": PASSWORD})

    wrong_error = assert_error(wrong, 401, "unauthorized")
    unknown_error = assert_error(unknown, 401, "unauthorized")
    assert wrong_error == unknown_error
    assert wrong_error["message"] == "Invalid email or password"
    assert wrong.headers.get("WWW-Authenticate") == unknown.headers.get("WWW-Authenticate")


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "someone@example.com"},
        {"password": PASSWORD},
        {"email": "not-an-email", "password": PASSWORD},
        {"email": "someone@example.com", "password": ""},
        {"email": "someone@example.com", "password": PASSWORD, "remember_me": True},
    ],
)
async def test_login_rejects_invalid_input(client: AsyncClient, payload: dict[str, Any]) -> None:
    assert_error(await client.post(f"{AUTH}/login", json=payload), 422, "validation_error")


async def test_login_disabled_user_is_forbidden(client: AsyncClient) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER)
    response = await client.put(f"/api/v1/users/{member.user_id}", json={"is_active": False}, headers=owner.headers)
    assert response.status_code == 200, response.text

    denied = await client.post(f"{AUTH}/login", json={"email": member.email, "password": member.password})
    error = assert_error(denied, 403, "forbidden")
    assert error["message"] == "This account is disabled"
    # Deactivation also ended the member's existing session.
    assert_error(await me(client, member.access_token), 401, "unauthorized")


async def test_disabled_user_with_wrong_password_gets_401_not_403(client: AsyncClient) -> None:
    # Without the right password nobody learns that the account exists but is disabled.
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER)
    await client.put(f"/api/v1/users/{member.user_id}", json={"is_active": False}, headers=owner.headers)
    denied = await client.post(f"{AUTH}/login", json={"email": member.email, "password": "Wrong-Password-1"})
    assert_error(denied, 401, "unauthorized")


async def test_oauth2_form_login(client: AsyncClient) -> None:
    owner = await register(client)
    response = await client.post(f"{AUTH}/token", data={"username": owner.email, "password": owner.password})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["refresh_token"].startswith("vr_")
    assert (await me(client, body["access_token"])).json()["email"] == owner.email


async def test_oauth2_form_login_wrong_password(client: AsyncClient) -> None:
    owner = await register(client)
    response = await client.post(f"{AUTH}/token", data={"username": owner.email, "password": "Wrong-Password-1"})
    error = assert_error(response, 401, "unauthorized")
    assert error["message"] == "Invalid email or password"


async def test_oauth2_form_login_missing_fields(client: AsyncClient) -> None:
    response = await client.post(f"{AUTH}/token", data={"username": "someone@example.com"})
    assert_error(response, 422, "validation_error")


# --- refresh ------------------------------------------------------------------------------------------------------


async def test_refresh_rotates_tokens(client: AsyncClient) -> None:
    owner = await register(client)
    response = await client.post(f"{AUTH}/refresh", json={"refresh_token": owner.refresh_token})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["refresh_token"].startswith("vr_")
    assert body["refresh_token"] != owner.refresh_token
    assert body["access_token"] != owner.access_token
    assert (await me(client, body["access_token"])).status_code == 200

    # The new refresh token works once more; chains keep rotating.
    again = await client.post(f"{AUTH}/refresh", json={"refresh_token": body["refresh_token"]})
    assert again.status_code == 200, again.text
    assert again.json()["refresh_token"] not in (body["refresh_token"], owner.refresh_token)


async def test_refresh_with_an_old_token_fails(client: AsyncClient) -> None:
    owner = await register(client)
    assert (await client.post(f"{AUTH}/refresh", json={"refresh_token": owner.refresh_token})).status_code == 200
    reused = await client.post(f"{AUTH}/refresh", json={"refresh_token": owner.refresh_token})
    assert_error(reused, 401, "unauthorized")


async def test_refresh_reuse_revokes_the_whole_session(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    other = await second_login(client, owner)

    rotated = (await client.post(f"{AUTH}/refresh", json={"refresh_token": owner.refresh_token})).json()
    newest_refresh, newest_access = rotated["refresh_token"], rotated["access_token"]
    assert (await me(client, newest_access)).status_code == 200

    # A thief replays the already-used refresh token.
    reused = await client.post(f"{AUTH}/refresh", json={"refresh_token": owner.refresh_token})
    assert_error(reused, 401, "unauthorized")

    # The whole family is dead: the newest refresh token and every access token of that session.
    assert_error(await client.post(f"{AUTH}/refresh", json={"refresh_token": newest_refresh}), 401, "unauthorized")
    assert_error(await me(client, newest_access), 401, "unauthorized")
    assert_error(await me(client, owner.access_token), 401, "unauthorized")

    # The user's other session is untouched.
    assert (await me(client, other.access_token)).status_code == 200
    assert (await client.post(f"{AUTH}/refresh", json={"refresh_token": other.refresh_token})).status_code == 200

    reasons = (
        await session.scalars(
            select(AuthSession.revoked_reason).where(
                AuthSession.user_id == owner.user_id, AuthSession.revoked_at.is_not(None)
            )
        )
    ).all()
    assert reasons == ["refresh_reuse"]


@pytest.mark.parametrize("token", ["vr_" + "a" * 43, "garbage", "x"])
async def test_refresh_with_unknown_token(client: AsyncClient, token: str) -> None:
    await register(client)
    error = assert_error(await client.post(f"{AUTH}/refresh", json={"refresh_token": token}), 401, "unauthorized")
    assert error["message"] == "Invalid refresh token"


@pytest.mark.parametrize("payload", [{}, {"refresh_token": ""}, {"refresh_token": "x" * 513}, {"token": "vr_x"}])
async def test_refresh_rejects_invalid_input(client: AsyncClient, payload: dict[str, Any]) -> None:
    assert_error(await client.post(f"{AUTH}/refresh", json=payload), 422, "validation_error")


async def test_refresh_for_disabled_user_fails(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER)
    user = await session.get(User, member.user_id)
    assert user is not None
    user.is_active = False
    await session.commit()
    response = await client.post(f"{AUTH}/refresh", json={"refresh_token": member.refresh_token})
    assert_error(response, 401, "unauthorized")


# --- logout -------------------------------------------------------------------------------------------------------


async def test_logout_with_access_token_ends_the_session_at_once(client: AsyncClient) -> None:
    owner = await register(client)
    other = await second_login(client, owner)

    response = await client.post(f"{AUTH}/logout", headers=owner.headers)
    assert response.status_code == 204, response.text
    assert response.content == b""

    assert_error(await me(client, owner.access_token), 401, "unauthorized")
    refreshed = await client.post(f"{AUTH}/refresh", json={"refresh_token": owner.refresh_token})
    assert_error(refreshed, 401, "unauthorized")
    # Only that session ended.
    assert (await me(client, other.access_token)).status_code == 200


async def test_logout_with_refresh_token_ends_that_session(client: AsyncClient) -> None:
    owner = await register(client)
    other = await second_login(client, owner)

    response = await client.post(f"{AUTH}/logout", json={"refresh_token": owner.refresh_token})
    assert response.status_code == 204, response.text

    assert_error(await me(client, owner.access_token), 401, "unauthorized")
    refreshed = await client.post(f"{AUTH}/refresh", json={"refresh_token": owner.refresh_token})
    assert_error(refreshed, 401, "unauthorized")
    assert (await me(client, other.access_token)).status_code == 200


async def test_logout_with_both_tokens_of_the_same_session(client: AsyncClient) -> None:
    owner = await register(client)
    response = await client.post(f"{AUTH}/logout", json={"refresh_token": owner.refresh_token}, headers=owner.headers)
    assert response.status_code == 204, response.text
    assert_error(await me(client, owner.access_token), 401, "unauthorized")


async def test_logout_with_another_sessions_refresh_token_is_refused(client: AsyncClient) -> None:
    owner = await register(client)
    other = await second_login(client, owner)
    response = await client.post(f"{AUTH}/logout", json={"refresh_token": other.refresh_token}, headers=owner.headers)
    assert_error(response, 401, "unauthorized")
    # Neither session was ended.
    assert (await me(client, owner.access_token)).status_code == 200
    assert (await me(client, other.access_token)).status_code == 200


async def test_logout_with_neither_token_is_unauthorized(client: AsyncClient) -> None:
    assert_error(await client.post(f"{AUTH}/logout"), 401, "unauthorized")
    assert_error(await client.post(f"{AUTH}/logout", json={}), 401, "unauthorized")


async def test_logout_with_unknown_refresh_token(client: AsyncClient) -> None:
    response = await client.post(f"{AUTH}/logout", json={"refresh_token": "vr_" + "b" * 43})
    assert_error(response, 401, "unauthorized")


async def test_logout_twice_with_the_same_access_token(client: AsyncClient) -> None:
    owner = await register(client)
    assert (await client.post(f"{AUTH}/logout", headers=owner.headers)).status_code == 204
    assert_error(await client.post(f"{AUTH}/logout", headers=owner.headers), 401, "unauthorized")


# --- change password ----------------------------------------------------------------------------------------------


async def test_change_password(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    other = await second_login(client, owner)
    new_password = "Brand-New-Secret-42"

    response = await client.post(
        f"{AUTH}/change-password",
        json={"current_password": owner.password, "new_password": new_password},
        headers=owner.headers,
    )
    assert response.status_code == 204, response.text

    # The current session keeps working, including its refresh token.
    assert (await me(client, owner.access_token)).status_code == 200
    refreshed = await client.post(f"{AUTH}/refresh", json={"refresh_token": owner.refresh_token})
    assert refreshed.status_code == 200, refreshed.text
    # Every other session ended.
    assert_error(await me(client, other.access_token), 401, "unauthorized")
    other_refresh = await client.post(f"{AUTH}/refresh", json={"refresh_token": other.refresh_token})
    assert_error(other_refresh, 401, "unauthorized")

    old = await client.post(f"{AUTH}/login", json={"email": owner.email, "password": owner.password})
    assert_error(old, 401, "unauthorized")
    new = await client.post(f"{AUTH}/login", json={"email": owner.email, "password": new_password})
    assert new.status_code == 200, new.text

    assert (await stored_hash(session, owner.user_id)).startswith("$argon2id$")


async def test_change_password_with_wrong_current_password(client: AsyncClient) -> None:
    owner = await register(client)
    other = await second_login(client, owner)
    response = await client.post(
        f"{AUTH}/change-password",
        json={"current_password": "Not-My-Password-1", "new_password": "Brand-New-Secret-42"},
        headers=owner.headers,
    )
    error = assert_error(response, 403, "forbidden")
    assert error["details"] == {"field": "current_password"}

    # Nothing changed: the old password still logs in and other sessions live on.
    assert (await me(client, other.access_token)).status_code == 200
    still = await client.post(f"{AUTH}/login", json={"email": owner.email, "password": owner.password})
    assert still.status_code == 200, still.text


async def test_change_password_rejects_a_short_new_password(client: AsyncClient) -> None:
    owner = await register(client)
    response = await client.post(
        f"{AUTH}/change-password",
        json={"current_password": owner.password, "new_password": "short"},
        headers=owner.headers,
    )
    error = assert_error(response, 422, "validation_error")
    assert ["body", "new_password"] in field_errors(error)


@pytest.mark.parametrize(
    ("new_password", "says"), [("iloveyou", "common"), ("Sunshine", "common"), ("{name}-2024", "email")]
)
async def test_change_password_refuses_a_weak_new_password(client: AsyncClient, new_password: str, says: str) -> None:
    name = unique("ada")
    owner = await register(client, email=f"{name}@example.com", username=name)
    response = await client.post(
        f"{AUTH}/change-password",
        json={"current_password": owner.password, "new_password": new_password.format(name=name)},
        headers=owner.headers,
    )
    error = assert_error(response, 422, "invalid_input")
    assert error["details"] == {"field": "new_password"}
    assert says in error["message"]
    still = await client.post(f"{AUTH}/login", json={"email": owner.email, "password": owner.password})
    assert still.status_code == 200, still.text


async def test_change_password_needs_a_login(client: AsyncClient) -> None:
    response = await client.post(
        f"{AUTH}/change-password",
        json={"current_password": PASSWORD, "new_password": "Brand-New-Secret-42"},
    )
    assert_error(response, 401, "unauthorized")


async def test_change_password_refuses_api_keys(client: AsyncClient) -> None:
    owner = await register(client)
    key = (await client.post(f"/api/v1/tenants/{owner.tenant_id}/regenerate-api-key", headers=owner.headers)).json()[
        "api_key"
    ]
    response = await client.post(
        f"{AUTH}/change-password",
        json={"current_password": owner.password, "new_password": "Brand-New-Secret-42"},
        headers={"X-API-Key": key},
    )
    assert_error(response, 403, "forbidden")


# --- me -----------------------------------------------------------------------------------------------------------


async def test_me(client: AsyncClient) -> None:
    owner = await register(client, first_name="Ada", last_name="Lovelace")
    response = await client.get(f"{AUTH}/me", headers=owner.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == str(owner.user_id)
    assert body["tenant_id"] == str(owner.tenant_id)
    assert body["email"] == owner.email
    assert body["role"] == "owner"
    assert body["first_name"] == "Ada"
    assert "password_hash" not in body


async def test_me_shows_each_user_their_own_record(client: AsyncClient) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.VIEWER)
    response = await client.get(f"{AUTH}/me", headers=member.headers)
    assert response.json()["id"] == str(member.user_id)
    assert response.json()["role"] == "viewer"


async def test_me_without_a_token(client: AsyncClient) -> None:
    response = await client.get(f"{AUTH}/me")
    error = assert_error(response, 401, "unauthorized")
    assert error["message"] == "Not authenticated"
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc"])
async def test_me_with_a_malformed_authorization_header(client: AsyncClient, header: str) -> None:
    assert_error(await client.get(f"{AUTH}/me", headers={"Authorization": header}), 401, "unauthorized")


async def test_me_refuses_api_keys(client: AsyncClient) -> None:
    owner = await register(client)
    key = (await client.post(f"/api/v1/tenants/{owner.tenant_id}/regenerate-api-key", headers=owner.headers)).json()[
        "api_key"
    ]
    assert_error(await client.get(f"{AUTH}/me", headers={"X-API-Key": key}), 403, "forbidden")


# --- password hashing ---------------------------------------------------------------------------------------------


async def test_new_passwords_are_hashed_with_argon2id(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    stored = await stored_hash(session, owner.user_id)
    assert stored.startswith("$argon2id$")
    assert owner.password not in stored


async def test_bcrypt_hash_logs_in_and_is_upgraded_to_argon2id(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    user = await session.get(User, owner.user_id)
    assert user is not None
    legacy = bcrypt.hashpw(owner.password.encode(), bcrypt.gensalt(rounds=4)).decode()
    user.password_hash = legacy
    await session.commit()
    assert (await stored_hash(session, owner.user_id)).startswith("$2b$")

    wrong = await client.post(f"{AUTH}/login", json={"email": owner.email, "password": "Wrong-Password-1"})
    assert_error(wrong, 401, "unauthorized")
    assert await stored_hash(session, owner.user_id) == legacy, "a failed login must not touch the hash"

    response = await client.post(f"{AUTH}/login", json={"email": owner.email, "password": owner.password})
    assert response.status_code == 200, response.text

    upgraded = await stored_hash(session, owner.user_id)
    assert upgraded.startswith("$argon2id$")
    # The upgraded hash verifies the same password on the next login.
    again = await client.post(f"{AUTH}/login", json={"email": owner.email, "password": owner.password})
    assert again.status_code == 200, again.text
    assert await stored_hash(session, owner.user_id) == upgraded


class CountingHasher:
    """Wraps the module's PasswordHash and records every hash it is asked to verify against."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.verified: list[str] = []
        self.hashed = 0

    def verify_and_update(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        self.verified.append(password_hash)
        result: tuple[bool, str | None] = self.inner.verify_and_update(password, password_hash)
        return result

    def hash(self, password: str) -> str:
        self.hashed += 1
        value: str = self.inner.hash(password)
        return value


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    spy = CountingHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", spy)
    return spy


async def test_login_does_the_same_password_work_for_unknown_emails(
    client: AsyncClient, session: AsyncSession, hasher: CountingHasher
) -> None:
    owner = await register(client)
    hasher.verified.clear()
    hasher.hashed = 0

    unknown = await client.post(f"{AUTH}/login", json={"email": f"{unique()}@example.com", "password": PASSWORD})
    assert_error(unknown, 401, "unauthorized")
    assert len(hasher.verified) == 1
    dummy = hasher.verified[0]

    wrong = await client.post(f"{AUTH}/login", json={"email": owner.email, "password": "Wrong-Password-1"})
    assert_error(wrong, 401, "unauthorized")
    assert len(hasher.verified) == 2
    real = hasher.verified[1]
    assert real == await stored_hash(session, owner.user_id)

    # The dummy hash costs what a real one does: same algorithm and parameters.
    assert dummy.startswith("$argon2id$")
    assert dummy.split("$")[:4] == real.split("$")[:4]
    assert hasher.hashed == 0


async def test_successful_login_verifies_once(client: AsyncClient, hasher: CountingHasher) -> None:
    owner = await register(client)
    hasher.verified.clear()
    response = await client.post(f"{AUTH}/login", json={"email": owner.email, "password": owner.password})
    assert response.status_code == 200
    assert len(hasher.verified) == 1
