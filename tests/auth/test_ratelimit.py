"""Rate limits on login, sign-up and password changes (per account and address, per address, per account) and the
audit trail of logins."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.assertions import assert_error
from tests.conftest import unique
from tests.factories import PASSWORD, Account, register
from vocalis.config import Settings
from vocalis.models import AuditEvent

AUTH = "/api/v1/auth"
HOME_ADDRESS = "203.0.113.10"  # the `client` fixture's address
OTHER_ADDRESS = "198.51.100.7"
WRONG = "Wrong-Password-1"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path / "data",
        secret_key="test-signing-key-" + "x" * 32,
        database_url=None,
        redis_url=None,
        login_failures_per_account="3/minute",
        login_limit_per_address="10/minute",
        register_limit_per_address="3/minute",
        register_limit_per_account="2/minute",
    )


@pytest.fixture
async def elsewhere(app: FastAPI) -> AsyncIterator[AsyncClient]:
    """A client of the same app from another address."""
    transport = ASGITransport(app=app, client=(OTHER_ADDRESS, 1234))
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def attempt(client: AsyncClient, email: str, password: str) -> Response:
    return await client.post(f"{AUTH}/login", json={"email": email, "password": password})


def assert_rate_limited(response: Response, window_seconds: int = 60) -> int:
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= window_seconds
    assert error["details"] == {"retry_after_seconds": retry_after}
    return retry_after


def signup(**overrides: Any) -> dict[str, Any]:
    name = unique()
    payload: dict[str, Any] = {"email": f"{name}@example.com", "username": name, "password": PASSWORD}
    payload.update(overrides)
    return payload


async def change_password(client: AsyncClient, user: Account, current: str) -> Response:
    return await client.post(
        f"{AUTH}/change-password",
        json={"current_password": current, "new_password": "Brand-New-Secret-42"},
        headers=user.headers,
    )


# --- failed logins per account ------------------------------------------------------------------------------------


async def test_repeated_failed_logins_are_throttled(client: AsyncClient) -> None:
    victim = await register(client)
    for _ in range(3):
        assert (await attempt(client, victim.email, WRONG)).status_code == 401

    assert_rate_limited(await attempt(client, victim.email, WRONG))
    # Once throttled, even the right password waits: guessing must not be able to confirm a hit.
    assert_rate_limited(await attempt(client, victim.email, victim.password))
    # Whatever the case of the email.
    assert_rate_limited(await attempt(client, victim.email.upper(), victim.password))
    # The form login shares the counter.
    form = await client.post(f"{AUTH}/token", data={"username": victim.email, "password": victim.password})
    assert_rate_limited(form)


async def test_throttled_account_still_logs_in_from_another_address(
    client: AsyncClient, elsewhere: AsyncClient
) -> None:
    victim = await register(client)
    for _ in range(3):
        await attempt(client, victim.email, WRONG)
    assert_rate_limited(await attempt(client, victim.email, victim.password))

    response = await attempt(elsewhere, victim.email, victim.password)
    assert response.status_code == 200, response.text
    me = await elsewhere.get(f"{AUTH}/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"})
    assert me.status_code == 200
    # The attacker's address stays throttled.
    assert_rate_limited(await attempt(client, victim.email, victim.password))


async def test_failures_for_one_account_do_not_throttle_another(client: AsyncClient) -> None:
    victim = await register(client)
    bystander = await register(client)
    for _ in range(3):
        await attempt(client, victim.email, WRONG)
    assert_rate_limited(await attempt(client, victim.email, WRONG))
    assert (await attempt(client, bystander.email, bystander.password)).status_code == 200


async def test_unknown_emails_are_throttled_like_known_ones(client: AsyncClient) -> None:
    # Otherwise the 429 would tell which emails have accounts.
    email = f"{unique()}@example.com"
    for _ in range(3):
        assert (await attempt(client, email, WRONG)).status_code == 401
    assert_rate_limited(await attempt(client, email, WRONG))


async def test_successful_login_resets_the_failure_count(client: AsyncClient) -> None:
    user = await register(client)
    for _ in range(2):
        assert (await attempt(client, user.email, WRONG)).status_code == 401
    assert (await attempt(client, user.email, user.password)).status_code == 200
    for _ in range(3):
        assert (await attempt(client, user.email, WRONG)).status_code == 401
    assert_rate_limited(await attempt(client, user.email, WRONG))


async def test_successful_logins_do_not_count_as_failures(client: AsyncClient) -> None:
    user = await register(client)
    for _ in range(5):
        assert (await attempt(client, user.email, user.password)).status_code == 200


# --- logins per address -------------------------------------------------------------------------------------------


async def test_logins_per_address_are_limited(client: AsyncClient, elsewhere: AsyncClient) -> None:
    # Ten attempts against ten different accounts: under each account's limit, at the address's limit.
    for _ in range(10):
        assert (await attempt(client, f"{unique()}@example.com", WRONG)).status_code == 401
    assert_rate_limited(await attempt(client, f"{unique()}@example.com", WRONG))

    # Successful logins from that address wait too; another address is unaffected.
    user = await register(elsewhere)
    assert_rate_limited(await attempt(client, user.email, user.password))
    assert (await attempt(elsewhere, user.email, user.password)).status_code == 200


# --- sign-up ------------------------------------------------------------------------------------------------------


async def test_registrations_per_address_are_limited(client: AsyncClient, elsewhere: AsyncClient) -> None:
    for _ in range(3):
        response = await client.post(f"{AUTH}/register", json=signup())
        assert response.status_code == 201, response.text
    assert_rate_limited(await client.post(f"{AUTH}/register", json=signup()))

    response = await elsewhere.post(f"{AUTH}/register", json=signup())
    assert response.status_code == 201, response.text


async def test_rejected_registrations_count_too(client: AsyncClient) -> None:
    # Conflicts are counted, so the endpoint cannot be used to probe for registered emails at full speed.
    taken = signup()
    assert (await client.post(f"{AUTH}/register", json=taken)).status_code == 201
    assert (await client.post(f"{AUTH}/register", json=signup(email=taken["email"]))).status_code == 409
    assert (await client.post(f"{AUTH}/register", json=signup())).status_code == 201
    assert_rate_limited(await client.post(f"{AUTH}/register", json=signup()))


async def test_registrations_per_account_are_limited(client: AsyncClient, elsewhere: AsyncClient) -> None:
    email = f"{unique()}@example.com"
    assert (await client.post(f"{AUTH}/register", json=signup(email=email))).status_code == 201
    assert (await elsewhere.post(f"{AUTH}/register", json=signup(email=email.upper()))).status_code == 409
    # Third attempt for the same email, from an address with room left: the per-account limit answers.
    assert_rate_limited(await elsewhere.post(f"{AUTH}/register", json=signup(email=email)))


# --- audit --------------------------------------------------------------------------------------------------------


async def audit_events(session: AsyncSession, action: str, **filters: Any) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.created_at)
    for name, value in filters.items():
        stmt = stmt.where(getattr(AuditEvent, name) == value)
    return list((await session.scalars(stmt)).all())


async def test_logins_and_failed_logins_are_audited(
    client: AsyncClient, elsewhere: AsyncClient, session: AsyncSession
) -> None:
    user: Account = await register(client)  # registers, then logs in once
    assert (await attempt(client, user.email, WRONG)).status_code == 401
    assert (await attempt(elsewhere, user.email, WRONG)).status_code == 401
    assert (await attempt(elsewhere, user.email, user.password)).status_code == 200

    failed = await audit_events(session, "auth.login_failed", target_id=user.user_id)
    assert [event.ip_address for event in failed] == [HOME_ADDRESS, OTHER_ADDRESS]
    for event in failed:
        assert event.tenant_id == user.tenant_id
        assert event.target_type == "user"
        assert event.actor_user_id is None

    logins = await audit_events(session, "auth.login", actor_user_id=user.user_id)
    assert [event.ip_address for event in logins] == [HOME_ADDRESS, OTHER_ADDRESS]
    assert all(event.tenant_id == user.tenant_id for event in logins)

    registered = await audit_events(session, "user.registered", actor_user_id=user.user_id)
    assert len(registered) == 1
    assert registered[0].ip_address == HOME_ADDRESS


async def test_failed_login_for_an_unknown_email_is_audited_without_a_tenant(
    elsewhere: AsyncClient, session: AsyncSession
) -> None:
    assert (await attempt(elsewhere, f"{unique()}@example.com", WRONG)).status_code == 401
    events = await audit_events(session, "auth.login_failed", ip_address=OTHER_ADDRESS)
    assert len(events) == 1
    event = events[0]
    assert event.tenant_id is None
    assert event.target_id is None
    assert event.target_type is None
    assert event.actor_user_id is None


async def test_throttled_attempts_do_not_reach_the_password_check(client: AsyncClient, session: AsyncSession) -> None:
    user = await register(client)
    for _ in range(5):
        await attempt(client, user.email, WRONG)
    # Three real failures are recorded; the two throttled attempts were refused before any credential check.
    assert len(await audit_events(session, "auth.login_failed", target_id=user.user_id)) == 3
    assert len(await audit_events(session, "auth.login", actor_user_id=user.user_id)) == 1


async def test_refresh_reuse_is_audited(client: AsyncClient, session: AsyncSession) -> None:
    user = await register(client)
    assert (await client.post(f"{AUTH}/refresh", json={"refresh_token": user.refresh_token})).status_code == 200
    assert (await client.post(f"{AUTH}/refresh", json={"refresh_token": user.refresh_token})).status_code == 401
    events = await audit_events(session, "auth.refresh_reuse", actor_user_id=user.user_id)
    assert len(events) == 1
    assert events[0].target_type == "session"
    assert events[0].tenant_id == user.tenant_id


async def test_wrong_current_passwords_are_throttled_per_account(client: AsyncClient, elsewhere: AsyncClient) -> None:
    user, other = await register(client), await register(client)
    for _ in range(3):
        assert_error(await change_password(client, user, WRONG), 403, "forbidden")
    # The account is throttled, wherever the session is used from, and even the right password waits.
    assert_rate_limited(await change_password(elsewhere, user, WRONG))
    assert_rate_limited(await change_password(client, user, user.password))
    # Another account is not.
    assert (await change_password(client, other, other.password)).status_code == 204


async def test_a_successful_password_change_resets_the_failure_count(client: AsyncClient) -> None:
    user = await register(client)
    for _ in range(2):
        assert_error(await change_password(client, user, WRONG), 403, "forbidden")
    assert (await change_password(client, user, user.password)).status_code == 204
    for _ in range(2):
        assert_error(await change_password(client, user, WRONG), 403, "forbidden")
    assert (await change_password(client, user, "Brand-New-Secret-42")).status_code == 204


async def test_password_change_is_audited(client: AsyncClient, session: AsyncSession) -> None:
    user = await register(client)
    response = await client.post(
        f"{AUTH}/change-password",
        json={"current_password": user.password, "new_password": "Brand-New-Secret-42"},
        headers=user.headers,
    )
    assert response.status_code == 204
    assert len(await audit_events(session, "auth.password_changed", actor_user_id=user.user_id)) == 1
