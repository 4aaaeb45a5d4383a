"""The tenants API (/api/v1/tenants): platform administration, the caller's own tenant, API keys and statistics."""

import uuid
from datetime import datetime
from typing import Any

from httpx import AsyncClient, Response
from sqlalchemy.ext.asyncio import AsyncSession

from tests.assertions import assert_error
from tests.conftest import unique
from tests.factories import PASSWORD, Account, add_user, api_key, login, register, super_admin
from vocalis.billing.service import Resource
from vocalis.models.user import Role

TENANTS = "/api/v1/tenants/"
ME = "/api/v1/auth/me"


def tenant_url(tenant_id: uuid.UUID | str, action: str = "") -> str:
    return f"/api/v1/tenants/{tenant_id}" + (f"/{action}" if action else "")


def owner_payload(**overrides: Any) -> dict[str, Any]:
    name = unique("own")
    payload: dict[str, Any] = {"email": f"{name}@example.com", "username": name, "password": PASSWORD}
    payload.update(overrides)
    return payload


async def create_tenant(client: AsyncClient, admin: Account, **fields: Any) -> Response:
    payload: dict[str, Any] = {"name": f"Tenant {unique()}", "owner": owner_payload()}
    payload.update(fields)
    return await client.post(TENANTS, json=payload, headers=admin.headers)


async def login_response(client: AsyncClient, email: str) -> Response:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})


async def statistics(client: AsyncClient, account: Account, tenant_id: uuid.UUID | str) -> dict[str, Any]:
    response = await client.get(tenant_url(tenant_id, "statistics"), headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- list (platform admins) ---------------------------------------------------------------------------------------


async def test_super_admin_lists_tenants_with_search_and_pagination(client: AsyncClient, session: AsyncSession) -> None:
    root = await super_admin(client, session)
    tag = uuid.uuid4().hex[:8]
    ids = []
    for index in range(3):
        response = await create_tenant(client, root, name=f"Search {tag} {index}")
        assert response.status_code == 201, response.text
        ids.append(response.json()["tenant"]["id"])
    await create_tenant(client, root, name=f"Other {uuid.uuid4().hex[:8]}")

    response = await client.get(TENANTS, params={"search": tag, "page_size": 2}, headers=root.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["total"], body["page"], body["page_size"], body["pages"]) == (3, 1, 2, 2)
    assert [item["id"] for item in body["items"]] == ids[:2]
    body = (await client.get(TENANTS, params={"search": tag, "page_size": 2, "page": 2}, headers=root.headers)).json()
    assert [item["id"] for item in body["items"]] == ids[2:]

    # Search also matches the slug, case-insensitively.
    slug = f"slug-{tag}"
    assert (await create_tenant(client, root, name="Unrelated name", slug=slug)).status_code == 201
    body = (await client.get(TENANTS, params={"search": slug.upper()}, headers=root.headers)).json()
    assert [item["slug"] for item in body["items"]] == [slug]

    # Everything, the platform's own tenant included.
    body = (await client.get(TENANTS, params={"page_size": 100}, headers=root.headers)).json()
    assert body["total"] >= 6
    assert str(root.tenant_id) in {item["id"] for item in body["items"]}


async def test_list_tenants_filters_by_status(client: AsyncClient, session: AsyncSession) -> None:
    root = await super_admin(client, session)
    tag = uuid.uuid4().hex[:8]
    first = (await create_tenant(client, root, name=f"Status {tag} a")).json()["tenant"]["id"]
    second = (await create_tenant(client, root, name=f"Status {tag} b")).json()["tenant"]["id"]
    assert (await client.post(tenant_url(first, "suspend"), headers=root.headers)).status_code == 200

    body = (await client.get(TENANTS, params={"search": tag, "status": "suspended"}, headers=root.headers)).json()
    assert [item["id"] for item in body["items"]] == [first]
    assert body["items"][0]["status"] == "suspended"
    body = (await client.get(TENANTS, params={"search": tag, "status": "active"}, headers=root.headers)).json()
    assert [item["id"] for item in body["items"]] == [second]

    response = await client.get(TENANTS, params={"status": "bogus"}, headers=root.headers)
    assert_error(response, 422, "validation_error")


async def test_list_tenants_hides_deleted_ones(client: AsyncClient, session: AsyncSession) -> None:
    root = await super_admin(client, session)
    tag = uuid.uuid4().hex[:8]
    gone = (await create_tenant(client, root, name=f"Gone {tag}")).json()["tenant"]["id"]
    # Listed before the deletion, so an empty list afterwards is the deletion's doing.
    body = (await client.get(TENANTS, params={"search": tag}, headers=root.headers)).json()
    assert (body["total"], [item["id"] for item in body["items"]]) == (1, [gone])
    assert (await client.delete(tenant_url(gone), headers=root.headers)).status_code == 204

    body = (await client.get(TENANTS, params={"search": tag}, headers=root.headers)).json()
    assert body["total"] == 0
    body = (await client.get(TENANTS, params={"search": tag, "status": "deleted"}, headers=root.headers)).json()
    assert body["total"] == 0


async def test_list_tenants_rejects_page_size_over_one_hundred(client: AsyncClient, session: AsyncSession) -> None:
    root = await super_admin(client, session)
    assert_error(await client.get(TENANTS, params={"page_size": 101}, headers=root.headers), 422, "validation_error")


async def test_only_super_admins_list_tenants(client: AsyncClient) -> None:
    owner = await register(client)
    error = assert_error(await client.get(TENANTS, headers=owner.headers), 403, "forbidden")
    assert error["details"] == {"permission": "platform:admin"}
    assert_error(await client.get(TENANTS), 401, "unauthorized")


# --- current and get ----------------------------------------------------------------------------------------------


async def test_current_returns_the_callers_tenant(client: AsyncClient) -> None:
    owner = await register(client, tenant_name="Analytical Engines")
    viewer = await add_user(client, owner, Role.VIEWER)

    for account in (owner, viewer):
        response = await client.get(f"{TENANTS}current", headers=account.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["id"] == str(owner.tenant_id)
        assert body["name"] == "Analytical Engines"
        assert body["status"] == "active"
        assert body["contact_email"] == owner.email
        assert body["suspended_at"] is None
        assert "api_key" not in body


async def test_get_own_tenant(client: AsyncClient) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER)
    for account in (owner, member):
        response = await client.get(tenant_url(owner.tenant_id), headers=account.headers)
        assert response.status_code == 200, response.text
        assert response.json()["id"] == str(owner.tenant_id)


async def test_get_foreign_or_unknown_tenant_is_404(client: AsyncClient) -> None:
    owner = await register(client)
    stranger = await register(client)
    for tenant_id in (stranger.tenant_id, uuid.uuid4()):
        error = assert_error(await client.get(tenant_url(tenant_id), headers=owner.headers), 404, "not_found")
        assert error["message"] == "Tenant not found"


async def test_super_admin_gets_any_tenant(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    root = await super_admin(client, session)
    response = await client.get(tenant_url(owner.tenant_id), headers=root.headers)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == str(owner.tenant_id)
    assert_error(await client.get(tenant_url(uuid.uuid4()), headers=root.headers), 404, "not_found")


# --- create (platform admins) -------------------------------------------------------------------------------------


async def test_super_admin_creates_a_tenant_with_its_first_owner(client: AsyncClient, session: AsyncSession) -> None:
    root = await super_admin(client, session)
    slug = f"acme-{uuid.uuid4().hex[:8]}"
    owner = owner_payload(first_name="Wile", last_name="Coyote")
    response = await client.post(
        TENANTS,
        json={"name": "  Acme  ", "slug": slug, "contact_email": "billing@acme.example", "plan": "pro", "owner": owner},
        headers=root.headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"tenant", "owner_id"}
    tenant = body["tenant"]
    assert (tenant["name"], tenant["slug"], tenant["status"]) == ("Acme", slug, "active")
    assert tenant["contact_email"] == "billing@acme.example"

    # The owner can log in, is an owner (not a super admin) of the new tenant.
    account = Account(
        user_id=uuid.UUID(body["owner_id"]),
        tenant_id=uuid.UUID(tenant["id"]),
        email=owner["email"],
        password=PASSWORD,
        role=Role.OWNER,
    )
    await login(client, account)
    me = (await client.get(ME, headers=account.headers)).json()
    assert me["id"] == body["owner_id"]
    assert me["tenant_id"] == tenant["id"]
    assert (me["role"], me["is_super_admin"], me["first_name"]) == ("owner", False, "Wile")

    stats = await statistics(client, account, tenant["id"])
    assert stats["plan"] == "pro"
    assert stats["usage"]["users"] == {"used": 1, "limit": 50}


async def test_create_tenant_defaults_slug_contact_and_plan(client: AsyncClient, session: AsyncSession) -> None:
    root = await super_admin(client, session)
    owner = owner_payload()
    name = f"Big Corp {uuid.uuid4().hex[:6]}"
    response = await client.post(TENANTS, json={"name": name, "owner": owner}, headers=root.headers)
    assert response.status_code == 201, response.text
    tenant = response.json()["tenant"]
    assert tenant["slug"] == name.lower().replace(" ", "-")
    assert tenant["contact_email"] == owner["email"]
    assert (await statistics(client, root, tenant["id"]))["plan"] == "free"


async def test_only_super_admins_create_tenants(client: AsyncClient) -> None:
    owner = await register(client)
    error = assert_error(await create_tenant(client, owner), 403, "forbidden")
    assert error["details"] == {"permission": "platform:admin"}


async def test_create_tenant_with_taken_slug_is_409(client: AsyncClient, session: AsyncSession) -> None:
    root = await super_admin(client, session)
    slug = f"taken-{uuid.uuid4().hex[:8]}"
    assert (await create_tenant(client, root, slug=slug)).status_code == 201
    error = assert_error(await create_tenant(client, root, slug=slug), 409, "conflict")
    assert error["details"] == {"field": "slug"}


async def test_create_tenant_with_unknown_plan_is_422(client: AsyncClient, session: AsyncSession) -> None:
    root = await super_admin(client, session)
    slug = f"noplan-{uuid.uuid4().hex[:8]}"
    owner = owner_payload()
    response = await create_tenant(client, root, slug=slug, plan="platinum", owner=owner)
    error = assert_error(response, 422, "invalid_input")
    assert error["details"] == {"plan": "platinum"}

    # Nothing was left behind: neither the tenant nor its owner.
    assert (await client.get(TENANTS, params={"search": slug}, headers=root.headers)).json()["total"] == 0
    assert_error(await login_response(client, owner["email"]), 401, "unauthorized")


async def test_create_tenant_with_taken_owner_email_is_409(client: AsyncClient, session: AsyncSession) -> None:
    root = await super_admin(client, session)
    existing = await register(client)
    error = assert_error(await create_tenant(client, root, owner=owner_payload(email=existing.email)), 409, "conflict")
    assert error["details"] == {"field": "email"}


async def test_create_tenant_validates_the_payload(client: AsyncClient, session: AsyncSession) -> None:
    root = await super_admin(client, session)
    for fields in (
        {"slug": "Not A Slug"},
        {"slug": "-leading-dash"},
        {"name": "   "},
        {"owner": owner_payload(password="short")},
        {"owner": owner_payload(role="admin")},
        {"unknown": True},
    ):
        assert_error(await create_tenant(client, root, **fields), 422, "validation_error")


# --- update -------------------------------------------------------------------------------------------------------


async def test_owner_renames_the_tenant(client: AsyncClient) -> None:
    owner = await register(client)
    response = await client.put(
        tenant_url(owner.tenant_id),
        json={"name": "Renamed Ltd", "contact_email": "ops@renamed.example"},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["contact_email"]) == ("Renamed Ltd", "ops@renamed.example")
    current = (await client.get(f"{TENANTS}current", headers=owner.headers)).json()
    assert (current["name"], current["contact_email"]) == ("Renamed Ltd", "ops@renamed.example")


async def test_only_owners_update_the_tenant(client: AsyncClient) -> None:
    owner = await register(client, tenant_name="Original")
    for role in (Role.ADMIN, Role.MEMBER, Role.VIEWER):
        account = await add_user(client, owner, role)
        response = await client.put(tenant_url(owner.tenant_id), json={"name": "Hijacked"}, headers=account.headers)
        error = assert_error(response, 403, "forbidden")
        assert error["details"] == {"permission": "tenant:write"}
    assert (await client.get(f"{TENANTS}current", headers=owner.headers)).json()["name"] == "Original"


async def test_owner_cannot_change_the_plan(client: AsyncClient) -> None:
    owner = await register(client, tenant_name="Original")
    response = await client.put(
        tenant_url(owner.tenant_id), json={"name": "Sneaky", "plan": "enterprise"}, headers=owner.headers
    )
    assert_error(response, 403, "forbidden")
    # The whole request was refused: neither the plan nor the name changed.
    assert (await statistics(client, owner, owner.tenant_id))["plan"] == "free"
    assert (await client.get(f"{TENANTS}current", headers=owner.headers)).json()["name"] == "Original"


async def test_super_admin_changes_the_plan(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    root = await super_admin(client, session)
    response = await client.put(tenant_url(owner.tenant_id), json={"plan": "pro"}, headers=root.headers)
    assert response.status_code == 200, response.text

    stats = await statistics(client, owner, owner.tenant_id)
    assert stats["plan"] == "pro"
    assert stats["usage"]["users"]["limit"] == 50

    response = await client.put(tenant_url(owner.tenant_id), json={"plan": "platinum"}, headers=root.headers)
    assert_error(response, 422, "invalid_input")
    assert (await statistics(client, owner, owner.tenant_id))["plan"] == "pro"


async def test_update_foreign_or_unknown_tenant_is_404(client: AsyncClient) -> None:
    owner = await register(client)
    stranger = await register(client, tenant_name="Untouched")
    for tenant_id in (stranger.tenant_id, uuid.uuid4()):
        response = await client.put(tenant_url(tenant_id), json={"name": "Mine now"}, headers=owner.headers)
        assert_error(response, 404, "not_found")
    assert (await client.get(f"{TENANTS}current", headers=stranger.headers)).json()["name"] == "Untouched"


async def test_update_tenant_rejects_unknown_fields(client: AsyncClient) -> None:
    owner = await register(client)
    response = await client.put(tenant_url(owner.tenant_id), json={"status": "active"}, headers=owner.headers)
    assert_error(response, 422, "validation_error")
    response = await client.put(tenant_url(owner.tenant_id), json={"name": ""}, headers=owner.headers)
    assert_error(response, 422, "validation_error")


# --- delete -------------------------------------------------------------------------------------------------------


async def test_owner_deletes_own_tenant(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER)
    key = await api_key(client, owner)
    slug = (await client.get(f"{TENANTS}current", headers=owner.headers)).json()["slug"]

    response = await client.delete(tenant_url(owner.tenant_id), headers=owner.headers)
    assert response.status_code == 204, response.text
    assert response.content == b""

    # Its users can no longer use their tokens, its key, or log in.
    for account in (owner, member):
        assert_error(await client.get(ME, headers=account.headers), 401, "unauthorized")
        assert_error(await login_response(client, account.email), 401, "unauthorized")
        refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": account.refresh_token})
        assert_error(refresh, 401, "unauthorized")
    assert_error(await client.get(f"{TENANTS}current", headers={"X-API-Key": key}), 401, "unauthorized")

    # The tenant is gone even for a platform admin, and its slug is free again.
    root = await super_admin(client, session)
    assert_error(await client.get(tenant_url(owner.tenant_id), headers=root.headers), 404, "not_found")
    assert_error(await client.get(tenant_url(owner.tenant_id, "statistics"), headers=root.headers), 404, "not_found")
    assert_error(await client.delete(tenant_url(owner.tenant_id), headers=root.headers), 404, "not_found")
    assert (await create_tenant(client, root, slug=slug)).status_code == 201


async def test_super_admin_deletes_another_tenant(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    root = await super_admin(client, session)
    assert (await client.delete(tenant_url(owner.tenant_id), headers=root.headers)).status_code == 204
    assert_error(await client.get(ME, headers=owner.headers), 401, "unauthorized")
    assert_error(await client.get(tenant_url(owner.tenant_id), headers=root.headers), 404, "not_found")
    # The platform admin's own access is untouched.
    assert (await client.get(ME, headers=root.headers)).status_code == 200


async def test_super_admin_cannot_delete_own_tenant(client: AsyncClient, session: AsyncSession) -> None:
    root = await super_admin(client, session)
    assert_error(await client.delete(tenant_url(root.tenant_id), headers=root.headers), 409, "conflict")
    assert (await client.get(ME, headers=root.headers)).status_code == 200


async def test_only_owners_delete_the_tenant(client: AsyncClient) -> None:
    owner = await register(client)
    for role in (Role.ADMIN, Role.MEMBER):
        account = await add_user(client, owner, role)
        response = await client.delete(tenant_url(owner.tenant_id), headers=account.headers)
        assert assert_error(response, 403, "forbidden")["details"] == {"permission": "tenant:write"}
    assert (await client.get(f"{TENANTS}current", headers=owner.headers)).status_code == 200


async def test_delete_foreign_or_unknown_tenant_is_404(client: AsyncClient) -> None:
    owner = await register(client)
    stranger = await register(client)
    for tenant_id in (stranger.tenant_id, uuid.uuid4()):
        assert_error(await client.delete(tenant_url(tenant_id), headers=owner.headers), 404, "not_found")
    assert (await client.get(ME, headers=stranger.headers)).status_code == 200


# --- suspend and reactivate ---------------------------------------------------------------------------------------


async def test_suspension_locks_the_tenant_out_until_reactivated(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER)
    key = await api_key(client, owner)
    root = await super_admin(client, session)

    response = await client.post(
        tenant_url(owner.tenant_id, "suspend"), json={"reason": "Unpaid invoices"}, headers=root.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "suspended"
    assert body["suspension_reason"] == "Unpaid invoices"
    assert isinstance(datetime.fromisoformat(body["suspended_at"]), datetime)

    for account in (owner, member):
        error = assert_error(await client.get(ME, headers=account.headers), 403, "tenant_suspended")
        assert error["details"] == {"tenant_id": str(owner.tenant_id)}
        assert_error(await login_response(client, account.email), 403, "tenant_suspended")
    assert_error(await client.get(f"{TENANTS}current", headers={"X-API-Key": key}), 403, "tenant_suspended")

    response = await client.post(tenant_url(owner.tenant_id, "reactivate"), headers=root.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["suspended_at"], body["suspension_reason"]) == ("active", None, None)

    # The same tokens and key work again, and logging in does too.
    for account in (owner, member):
        assert (await client.get(ME, headers=account.headers)).status_code == 200
        assert (await login_response(client, account.email)).status_code == 200
    assert (await client.get(f"{TENANTS}current", headers={"X-API-Key": key})).status_code == 200


async def test_suspend_without_a_reason(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    root = await super_admin(client, session)
    response = await client.post(tenant_url(owner.tenant_id, "suspend"), headers=root.headers)
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["suspension_reason"]) == ("suspended", None)
    # Suspending again is harmless.
    again = await client.post(tenant_url(owner.tenant_id, "suspend"), headers=root.headers)
    assert again.status_code == 200
    assert again.json()["suspended_at"] == response.json()["suspended_at"]


async def test_reactivating_an_active_tenant_changes_nothing(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    root = await super_admin(client, session)
    response = await client.post(tenant_url(owner.tenant_id, "reactivate"), headers=root.headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "active"


async def test_only_super_admins_suspend_and_reactivate(client: AsyncClient) -> None:
    owner = await register(client)
    stranger = await register(client)
    for tenant_id in (owner.tenant_id, stranger.tenant_id):
        for action in ("suspend", "reactivate"):
            response = await client.post(tenant_url(tenant_id, action), headers=owner.headers)
            assert assert_error(response, 403, "forbidden")["details"] == {"permission": "platform:admin"}
    assert (await client.get(ME, headers=stranger.headers)).status_code == 200


async def test_super_admin_cannot_suspend_own_tenant(client: AsyncClient, session: AsyncSession) -> None:
    root = await super_admin(client, session)
    assert_error(await client.post(tenant_url(root.tenant_id, "suspend"), headers=root.headers), 409, "conflict")
    assert (await client.get(ME, headers=root.headers)).status_code == 200


async def test_suspend_or_reactivate_unknown_tenant_is_404(client: AsyncClient, session: AsyncSession) -> None:
    root = await super_admin(client, session)
    for action in ("suspend", "reactivate"):
        assert_error(await client.post(tenant_url(uuid.uuid4(), action), headers=root.headers), 404, "not_found")


async def test_suspend_reason_is_validated(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    root = await super_admin(client, session)
    response = await client.post(
        tenant_url(owner.tenant_id, "suspend"), json={"reason": "x" * 501}, headers=root.headers
    )
    assert_error(response, 422, "validation_error")
    assert (await client.get(ME, headers=owner.headers)).status_code == 200


# --- API key ------------------------------------------------------------------------------------------------------


async def test_owner_regenerates_the_api_key(client: AsyncClient) -> None:
    owner = await register(client)
    response = await client.post(tenant_url(owner.tenant_id, "regenerate-api-key"), headers=owner.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    key = body["api_key"]
    assert key.startswith("vk_")
    assert len(key) > 40
    assert body["prefix"] == key[:10]
    assert "tenant:read" in body["scopes"]
    assert "platform:admin" not in body["scopes"]
    assert isinstance(datetime.fromisoformat(body["created_at"]), datetime)

    # Shown once: reading the tenant never reveals it.
    for url in (tenant_url(owner.tenant_id), f"{TENANTS}current"):
        response = await client.get(url, headers=owner.headers)
        assert response.status_code == 200
        assert key not in response.text
        assert "api_key" not in response.json()

    # The key acts for its tenant, as X-API-Key or as a Bearer token.
    for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
        response = await client.get(f"{TENANTS}current", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["id"] == str(owner.tenant_id)


async def test_admin_regenerates_the_api_key(client: AsyncClient) -> None:
    owner = await register(client)
    admin = await add_user(client, owner, Role.ADMIN)
    response = await client.post(tenant_url(owner.tenant_id, "regenerate-api-key"), headers=admin.headers)
    assert response.status_code == 201, response.text
    assert response.json()["api_key"].startswith("vk_")


async def test_members_and_viewers_cannot_regenerate_the_api_key(client: AsyncClient) -> None:
    owner = await register(client)
    key = await api_key(client, owner)
    for role in (Role.MEMBER, Role.VIEWER):
        account = await add_user(client, owner, role)
        response = await client.post(tenant_url(owner.tenant_id, "regenerate-api-key"), headers=account.headers)
        assert assert_error(response, 403, "forbidden")["details"] == {"permission": "tenant:api_keys"}
    # The existing key was not touched.
    assert (await client.get(f"{TENANTS}current", headers={"X-API-Key": key})).status_code == 200


async def test_an_api_key_cannot_regenerate_itself(client: AsyncClient) -> None:
    owner = await register(client)
    key = await api_key(client, owner)
    response = await client.post(tenant_url(owner.tenant_id, "regenerate-api-key"), headers={"X-API-Key": key})
    assert_error(response, 403, "forbidden")
    assert (await client.get(f"{TENANTS}current", headers={"X-API-Key": key})).status_code == 200


async def test_regenerating_invalidates_the_old_key(client: AsyncClient) -> None:
    owner = await register(client)
    old = await api_key(client, owner)
    new = await api_key(client, owner)
    assert old != new
    error = assert_error(await client.get(f"{TENANTS}current", headers={"X-API-Key": old}), 401, "unauthorized")
    assert error["message"] == "Invalid API key"
    assert (await client.get(f"{TENANTS}current", headers={"X-API-Key": new})).status_code == 200


async def test_regenerate_api_key_of_foreign_or_unknown_tenant_is_404(client: AsyncClient) -> None:
    owner = await register(client)
    stranger = await register(client)
    key = await api_key(client, stranger)
    for tenant_id in (stranger.tenant_id, uuid.uuid4()):
        response = await client.post(tenant_url(tenant_id, "regenerate-api-key"), headers=owner.headers)
        assert_error(response, 404, "not_found")
    assert (await client.get(f"{TENANTS}current", headers={"X-API-Key": key})).status_code == 200


async def test_invalid_api_key_is_401(client: AsyncClient) -> None:
    response = await client.get(f"{TENANTS}current", headers={"X-API-Key": "vk_" + "x" * 43})
    assert_error(response, 401, "unauthorized")


# --- statistics ---------------------------------------------------------------------------------------------------


async def test_statistics_count_users_against_the_free_plan(client: AsyncClient) -> None:
    owner = await register(client)
    await add_user(client, owner, Role.MEMBER)
    viewer = await add_user(client, owner, Role.VIEWER)
    users = (await client.get("/api/v1/users/", headers=owner.headers)).json()["total"]

    stats = await statistics(client, viewer, owner.tenant_id)
    assert stats["tenant_id"] == str(owner.tenant_id)
    assert stats["plan"] == "free"
    assert set(stats["usage"]) == {resource.value for resource in Resource}
    assert stats["usage"]["users"] == {"used": users, "limit": 5}
    assert users == 3
    for resource in ("knowledge_bases", "documents", "storage_bytes", "agents", "calls", "call_minutes"):
        assert stats["usage"][resource]["used"] == 0, resource
    assert stats["usage"]["knowledge_bases"]["limit"] == 3
    assert stats["usage"]["call_minutes"]["limit"] == 300
    assert stats["usage"]["calls"]["limit"] is None

    start = datetime.fromisoformat(stats["period_start"])
    end = datetime.fromisoformat(stats["period_end"])
    assert start < end
    assert (end - start).days == 30


async def test_statistics_follow_user_removal(client: AsyncClient) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER)
    assert (await statistics(client, owner, owner.tenant_id))["usage"]["users"]["used"] == 2
    assert (await client.delete(f"/api/v1/users/{member.user_id}", headers=owner.headers)).status_code == 204
    assert (await statistics(client, owner, owner.tenant_id))["usage"]["users"]["used"] == 1


async def test_super_admin_reads_any_tenants_statistics(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    root = await super_admin(client, session)
    stats = await statistics(client, root, owner.tenant_id)
    assert stats["tenant_id"] == str(owner.tenant_id)
    assert stats["usage"]["users"]["used"] == 1
    # The platform tenant is on the enterprise plan: no limits.
    own = await statistics(client, root, root.tenant_id)
    assert own["plan"] == "enterprise"
    assert own["usage"]["users"]["limit"] is None


async def test_statistics_of_foreign_or_unknown_tenant_is_404(client: AsyncClient) -> None:
    owner = await register(client)
    stranger = await register(client)
    for tenant_id in (stranger.tenant_id, uuid.uuid4()):
        assert_error(await client.get(tenant_url(tenant_id, "statistics"), headers=owner.headers), 404, "not_found")


async def test_deleting_a_tenant_frees_its_users_emails(client: AsyncClient) -> None:
    owner = await register(client)
    assert (await client.delete(f"/api/v1/tenants/{owner.tenant_id}", headers=owner.headers)).status_code == 204
    again = await register(client, email=owner.email.upper())
    assert again.tenant_id != owner.tenant_id


async def test_contact_email_can_be_cleared(client: AsyncClient) -> None:
    owner = await register(client)
    response = await client.put(
        f"/api/v1/tenants/{owner.tenant_id}", json={"contact_email": None}, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["contact_email"] is None
