"""The users API (/api/v1/users): listing, reading, creating, changing, removing and verifying a tenant's users."""

import uuid
from datetime import datetime
from typing import Any

import pytest
from httpx import AsyncClient, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.assertions import assert_error
from tests.conftest import unique
from tests.factories import PASSWORD, Account, add_user, register, super_admin
from vocalis.auth.permissions import ROLE_PERMISSIONS
from vocalis.models.audit import AuditEvent
from vocalis.models.user import Role, User

USERS = "/api/v1/users/"


def user_url(user_id: uuid.UUID | str) -> str:
    return f"/api/v1/users/{user_id}"


async def login_status(client: AsyncClient, email: str, password: str = PASSWORD) -> Response:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


async def create_user(client: AsyncClient, actor: Account, **fields: Any) -> Response:
    name = unique()
    payload: dict[str, Any] = {"email": f"{name}@example.com", "username": name, "password": PASSWORD}
    payload.update(fields)
    return await client.post(USERS, json=payload, headers=actor.headers)


# --- list ---------------------------------------------------------------------------------------------------------


async def test_list_returns_the_pagination_envelope(client: AsyncClient) -> None:
    owner = await register(client)
    first = await add_user(client, owner, Role.MEMBER)
    second = await add_user(client, owner, Role.VIEWER)

    response = await client.get(USERS, params={"page": 1, "page_size": 2}, headers=owner.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"items", "total", "page", "page_size", "pages"}
    assert (body["total"], body["page"], body["page_size"], body["pages"]) == (3, 1, 2, 2)
    assert [item["id"] for item in body["items"]] == [str(owner.user_id), str(first.user_id)]

    response = await client.get(USERS, params={"page": 2, "page_size": 2}, headers=owner.headers)
    body = response.json()
    assert (body["total"], body["page"], body["pages"]) == (3, 2, 2)
    assert [item["id"] for item in body["items"]] == [str(second.user_id)]

    # A page past the end is empty but still reports the total.
    response = await client.get(USERS, params={"page": 3, "page_size": 2}, headers=owner.headers)
    assert response.json()["items"] == []
    assert response.json()["total"] == 3


async def test_list_never_returns_password_hashes(client: AsyncClient) -> None:
    owner = await register(client)
    response = await client.get(USERS, headers=owner.headers)
    assert response.status_code == 200
    item = response.json()["items"][0]
    assert "password" not in item and "password_hash" not in item
    assert PASSWORD not in response.text


async def test_list_defaults_to_first_page_of_twenty(client: AsyncClient) -> None:
    owner = await register(client)
    body = (await client.get(USERS, headers=owner.headers)).json()
    assert (body["page"], body["page_size"], body["total"], body["pages"]) == (1, 20, 1, 1)


async def test_list_filters_by_role(client: AsyncClient) -> None:
    owner = await register(client)
    admin = await add_user(client, owner, Role.ADMIN)
    member = await add_user(client, owner, Role.MEMBER)
    await add_user(client, owner, Role.VIEWER)

    for role, expected in ((Role.MEMBER, member), (Role.ADMIN, admin), (Role.OWNER, owner)):
        body = (await client.get(USERS, params={"role": role.value}, headers=owner.headers)).json()
        assert body["total"] == 1
        assert [item["id"] for item in body["items"]] == [str(expected.user_id)]
        assert body["items"][0]["role"] == role.value


async def test_list_rejects_an_unknown_role_filter(client: AsyncClient) -> None:
    owner = await register(client)
    response = await client.get(USERS, params={"role": "emperor"}, headers=owner.headers)
    assert_error(response, 422, "validation_error")


async def test_list_filters_by_is_active(client: AsyncClient) -> None:
    owner = await register(client)
    inactive = await add_user(client, owner, Role.MEMBER)
    active = await add_user(client, owner, Role.MEMBER)
    response = await client.put(user_url(inactive.user_id), json={"is_active": False}, headers=owner.headers)
    assert response.status_code == 200, response.text

    body = (await client.get(USERS, params={"is_active": "false"}, headers=owner.headers)).json()
    assert [item["id"] for item in body["items"]] == [str(inactive.user_id)]

    body = (await client.get(USERS, params={"is_active": "true"}, headers=owner.headers)).json()
    assert {item["id"] for item in body["items"]} == {str(owner.user_id), str(active.user_id)}


async def test_list_filters_by_is_verified(client: AsyncClient) -> None:
    owner = await register(client)
    verified = await add_user(client, owner, Role.MEMBER)
    await add_user(client, owner, Role.MEMBER)
    assert (await client.post(f"{user_url(verified.user_id)}/verify", headers=owner.headers)).status_code == 200

    body = (await client.get(USERS, params={"is_verified": "true"}, headers=owner.headers)).json()
    assert [item["id"] for item in body["items"]] == [str(verified.user_id)]

    body = (await client.get(USERS, params={"is_verified": "false"}, headers=owner.headers)).json()
    assert body["total"] == 2
    assert str(verified.user_id) not in {item["id"] for item in body["items"]}


async def test_list_search_matches_email_username_and_names_case_insensitively(client: AsyncClient) -> None:
    owner = await register(client, first_name="Ada", last_name="Lovelace")
    tag = uuid.uuid4().hex[:8]
    by_email = await add_user(client, owner, Role.MEMBER, email=f"mail{tag}@example.com")
    by_username = await add_user(client, owner, Role.MEMBER, username=f"handle{tag}")
    by_first = await add_user(client, owner, Role.MEMBER, first_name=f"First{tag}")
    by_last = await add_user(client, owner, Role.MEMBER, last_name=f"Last{tag}")

    async def search(text: str) -> list[str]:
        response = await client.get(USERS, params={"search": text}, headers=owner.headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await search(f"MAIL{tag}") == [str(by_email.user_id)]
    assert await search(f"Handle{tag}") == [str(by_username.user_id)]
    assert await search(f"first{tag}") == [str(by_first.user_id)]
    assert await search(f"LAST{tag}") == [str(by_last.user_id)]
    assert await search("lovelace") == [str(owner.user_id)]
    assert await search(f"no-such-person-{tag}") == []


async def test_list_search_takes_wildcards_literally(client: AsyncClient) -> None:
    owner = await register(client)
    await add_user(client, owner, Role.MEMBER)
    response = await client.get(USERS, params={"search": "%"}, headers=owner.headers)
    assert response.json()["total"] == 0
    response = await client.get(USERS, params={"search": "_"}, headers=owner.headers)
    assert response.json()["total"] == 0


async def test_list_hides_soft_deleted_users(client: AsyncClient) -> None:
    owner = await register(client)
    gone = await add_user(client, owner, Role.MEMBER)
    kept = await add_user(client, owner, Role.MEMBER)
    assert (await client.delete(user_url(gone.user_id), headers=owner.headers)).status_code == 204

    body = (await client.get(USERS, headers=owner.headers)).json()
    assert body["total"] == 2
    assert {item["id"] for item in body["items"]} == {str(owner.user_id), str(kept.user_id)}
    # Not even a filter for inactive users brings them back.
    body = (await client.get(USERS, params={"is_active": "false"}, headers=owner.headers)).json()
    assert body["total"] == 0


async def test_list_shows_only_the_callers_tenant(client: AsyncClient) -> None:
    owner = await register(client)
    other = await register(client)
    await add_user(client, other, Role.MEMBER)

    body = (await client.get(USERS, headers=owner.headers)).json()
    assert [item["id"] for item in body["items"]] == [str(owner.user_id)]
    assert {item["tenant_id"] for item in body["items"]} == {str(owner.tenant_id)}


async def test_list_page_size_over_one_hundred_is_rejected(client: AsyncClient) -> None:
    owner = await register(client)
    error = assert_error(
        await client.get(USERS, params={"page_size": 101}, headers=owner.headers), 422, "validation_error"
    )
    assert any("page_size" in e["loc"] for e in error["details"]["errors"])
    assert (await client.get(USERS, params={"page_size": 100}, headers=owner.headers)).status_code == 200
    assert_error(await client.get(USERS, params={"page": 0}, headers=owner.headers), 422, "validation_error")
    assert_error(await client.get(USERS, params={"page_size": 0}, headers=owner.headers), 422, "validation_error")


async def test_list_needs_authentication(client: AsyncClient) -> None:
    assert_error(await client.get(USERS), 401, "unauthorized")
    response = await client.get(USERS, headers={"Authorization": "Bearer not-a-token"})
    assert_error(response, 401, "unauthorized")


# --- get ----------------------------------------------------------------------------------------------------------


async def test_get_returns_the_user(client: AsyncClient) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER, first_name="Grace", last_name="Hopper")

    response = await client.get(user_url(member.user_id), headers=owner.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == str(member.user_id)
    assert body["tenant_id"] == str(owner.tenant_id)
    assert body["email"] == member.email
    assert (body["first_name"], body["last_name"]) == ("Grace", "Hopper")
    assert body["role"] == "member"
    assert body["is_active"] is True
    assert body["is_verified"] is False
    assert body["is_super_admin"] is False
    assert body["last_login_at"] is not None  # add_user logged them in
    assert "password_hash" not in body


async def test_get_unknown_user_is_404(client: AsyncClient) -> None:
    owner = await register(client)
    error = assert_error(await client.get(user_url(uuid.uuid4()), headers=owner.headers), 404, "not_found")
    assert error["message"] == "User not found"


async def test_get_malformed_id_is_422(client: AsyncClient) -> None:
    owner = await register(client)
    assert_error(await client.get(user_url("not-a-uuid"), headers=owner.headers), 422, "validation_error")


async def test_get_another_tenants_user_is_404(client: AsyncClient) -> None:
    owner = await register(client)
    stranger = await register(client)
    assert_error(await client.get(user_url(stranger.user_id), headers=owner.headers), 404, "not_found")


async def test_any_user_may_read_themselves(client: AsyncClient) -> None:
    owner = await register(client)
    for role in Role:
        account = owner if role is Role.OWNER else await add_user(client, owner, role)
        response = await client.get(user_url(account.user_id), headers=account.headers)
        assert response.status_code == 200, response.text
        assert response.json()["role"] == role.value


async def test_viewer_may_read_other_users(client: AsyncClient) -> None:
    owner = await register(client)
    viewer = await add_user(client, owner, Role.VIEWER)
    response = await client.get(user_url(owner.user_id), headers=viewer.headers)
    assert response.status_code == 200, response.text
    assert response.json()["email"] == owner.email


# --- create -------------------------------------------------------------------------------------------------------


async def test_create_user(client: AsyncClient) -> None:
    owner = await register(client)
    name = unique()
    payload = {
        "email": f"{name}@example.com",
        "username": name,
        "password": PASSWORD,
        "first_name": "Katherine",
        "last_name": "Johnson",
    }
    response = await client.post(USERS, json=payload, headers=owner.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["email"] == payload["email"]
    assert body["username"] == name
    assert body["role"] == "member"  # the default
    assert body["tenant_id"] == str(owner.tenant_id)
    assert body["is_active"] is True and body["is_verified"] is False
    assert "password" not in body and "password_hash" not in body

    # The new user can log in with the password they were given.
    login = await login_status(client, payload["email"])
    assert login.status_code == 200, login.text


async def test_admin_may_create_members_and_viewers(client: AsyncClient) -> None:
    owner = await register(client)
    admin = await add_user(client, owner, Role.ADMIN)
    for role in (Role.MEMBER, Role.VIEWER):
        response = await create_user(client, admin, role=role.value)
        assert response.status_code == 201, response.text
        assert response.json()["role"] == role.value


async def test_only_owners_create_admins(client: AsyncClient) -> None:
    owner = await register(client)
    admin = await add_user(client, owner, Role.ADMIN)
    error = assert_error(await create_user(client, admin, role="admin"), 403, "forbidden")
    assert error["details"] == {"role": "admin"}
    assert (await create_user(client, owner, role="admin")).status_code == 201


@pytest.mark.parametrize("password", ["password", "PASSWORD", "iloveyou", "12345678", "trustno1"])
async def test_create_refuses_a_common_password(client: AsyncClient, password: str) -> None:
    owner = await register(client)
    error = assert_error(await create_user(client, owner, password=password), 422, "invalid_input")
    assert error["details"] == {"field": "password"}
    assert "common" in error["message"]
    assert (await client.get(USERS, headers=owner.headers)).json()["total"] == 1


@pytest.mark.parametrize("password", ["grace.hopper", "Grace.Hopper!", "H0pper-1906", "reppoh.ecarg", "ghopper99"])
async def test_create_refuses_a_password_made_of_the_email_or_username(client: AsyncClient, password: str) -> None:
    owner = await register(client)
    response = await create_user(client, owner, email="grace.hopper@example.com", username="ghopper", password=password)
    error = assert_error(response, 422, "invalid_input")
    assert error["details"] == {"field": "password"}
    assert "email or username" in error["message"]


async def test_member_and_viewer_cannot_create_users(client: AsyncClient) -> None:
    owner = await register(client)
    for role in (Role.MEMBER, Role.VIEWER):
        account = await add_user(client, owner, role)
        error = assert_error(await create_user(client, account), 403, "forbidden")
        assert error["details"] == {"permission": "users:write"}


async def test_admin_cannot_create_an_owner(client: AsyncClient) -> None:
    owner = await register(client)
    admin = await add_user(client, owner, Role.ADMIN)
    error = assert_error(await create_user(client, admin, role="owner"), 403, "forbidden")
    assert error["details"] == {"role": "owner"}
    # And nothing was created.
    body = (await client.get(USERS, headers=owner.headers)).json()
    assert body["total"] == 2


async def test_owner_may_create_another_owner(client: AsyncClient) -> None:
    owner = await register(client)
    response = await create_user(client, owner, role="owner")
    assert response.status_code == 201, response.text
    assert response.json()["role"] == "owner"


async def test_create_duplicate_email_is_409_case_insensitively(client: AsyncClient) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER)
    error = assert_error(await create_user(client, owner, email=member.email.upper()), 409, "conflict")
    assert error["details"] == {"field": "email"}


async def test_create_duplicate_email_across_tenants_is_409(client: AsyncClient) -> None:
    owner = await register(client)
    other = await register(client)
    error = assert_error(await create_user(client, owner, email=other.email), 409, "conflict")
    assert error["details"] == {"field": "email"}


async def test_create_duplicate_username_in_same_tenant_is_409(client: AsyncClient) -> None:
    owner = await register(client)
    name = unique()
    assert (await create_user(client, owner, username=name)).status_code == 201
    error = assert_error(await create_user(client, owner, username=name.upper()), 409, "conflict")
    assert error["details"] == {"field": "username"}


async def test_same_username_in_another_tenant_is_fine(client: AsyncClient) -> None:
    owner = await register(client)
    other = await register(client)
    name = unique()
    assert (await create_user(client, owner, username=name)).status_code == 201
    response = await create_user(client, other, username=name)
    assert response.status_code == 201, response.text
    assert response.json()["tenant_id"] == str(other.tenant_id)


async def test_create_beyond_the_free_plans_five_users_is_402(client: AsyncClient) -> None:
    owner = await register(client)
    for _ in range(4):
        assert (await create_user(client, owner)).status_code == 201

    error = assert_error(await create_user(client, owner), 402, "quota_exceeded")
    assert error["details"] == {"resource": "users", "limit": 5, "used": 5, "plan": "free"}
    assert (await client.get(USERS, headers=owner.headers)).json()["total"] == 5


async def test_a_soft_deleted_user_frees_a_seat(client: AsyncClient) -> None:
    owner = await register(client)
    created = [await create_user(client, owner) for _ in range(4)]
    assert_error(await create_user(client, owner), 402, "quota_exceeded")

    victim = created[0].json()["id"]
    assert (await client.delete(user_url(victim), headers=owner.headers)).status_code == 204
    assert (await create_user(client, owner)).status_code == 201


async def test_create_validates_the_payload(client: AsyncClient) -> None:
    owner = await register(client)
    for fields in (
        {"email": "not-an-email"},
        {"password": "short"},
        {"username": "no spaces allowed"},
        {"username": "ab"},
        {"role": "emperor"},
        {"shoe_size": 44},
    ):
        assert_error(await create_user(client, owner, **fields), 422, "validation_error")


# --- update -------------------------------------------------------------------------------------------------------


async def test_member_edits_own_profile(client: AsyncClient) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER, first_name="Old")
    new_name = unique()

    response = await client.put(
        user_url(member.user_id),
        json={"first_name": "New", "last_name": "Name", "username": new_name},
        headers=member.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["first_name"], body["last_name"], body["username"]) == ("New", "Name", new_name)
    assert body["role"] == "member"

    stored = (await client.get(user_url(member.user_id), headers=owner.headers)).json()
    assert (stored["first_name"], stored["last_name"], stored["username"]) == ("New", "Name", new_name)


async def test_update_leaves_out_fields_unchanged_and_clears_names_set_to_null(client: AsyncClient) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER, first_name="Keep", last_name="Drop")

    response = await client.put(user_url(member.user_id), json={"last_name": None}, headers=member.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["first_name"], body["last_name"], body["email"]) == ("Keep", None, member.email)


async def test_member_cannot_change_own_role(client: AsyncClient) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER)
    response = await client.put(user_url(member.user_id), json={"role": "admin"}, headers=member.headers)
    assert_error(response, 403, "forbidden")
    assert (await client.get(user_url(member.user_id), headers=owner.headers)).json()["role"] == "member"


async def test_member_cannot_edit_someone_else(client: AsyncClient) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER)
    other = await add_user(client, owner, Role.MEMBER, first_name="Same")
    response = await client.put(user_url(other.user_id), json={"first_name": "Changed"}, headers=member.headers)
    assert_error(response, 403, "forbidden")
    assert (await client.get(user_url(other.user_id), headers=owner.headers)).json()["first_name"] == "Same"


async def test_member_cannot_deactivate_themselves(client: AsyncClient) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER)
    response = await client.put(user_url(member.user_id), json={"is_active": False}, headers=member.headers)
    assert_error(response, 403, "forbidden")


async def test_nobody_raises_their_own_role(client: AsyncClient) -> None:
    owner = await register(client)
    admin = await add_user(client, owner, Role.ADMIN)
    viewer = await add_user(client, owner, Role.VIEWER)

    # Only owners change an admin's role, the admin's own included.
    response = await client.put(user_url(admin.user_id), json={"role": "owner"}, headers=admin.headers)
    error = assert_error(response, 403, "forbidden")
    assert error["details"] == {"role": "admin"}
    response = await client.put(user_url(viewer.user_id), json={"role": "member"}, headers=viewer.headers)
    assert_error(response, 403, "forbidden")

    roles = {item["id"]: item["role"] for item in (await client.get(USERS, headers=owner.headers)).json()["items"]}
    assert roles[str(admin.user_id)] == "admin"
    assert roles[str(viewer.user_id)] == "viewer"


async def test_admin_cannot_promote_others_to_owner(client: AsyncClient) -> None:
    owner = await register(client)
    admin = await add_user(client, owner, Role.ADMIN)
    member = await add_user(client, owner, Role.MEMBER)
    response = await client.put(user_url(member.user_id), json={"role": "owner"}, headers=admin.headers)
    assert_error(response, 403, "forbidden")


async def test_admin_cannot_act_on_an_owner(client: AsyncClient) -> None:
    owner = await register(client, first_name="Ada")
    admin = await add_user(client, owner, Role.ADMIN)
    for change in ({"first_name": "Hacked"}, {"role": "viewer"}, {"is_active": False}):
        response = await client.put(user_url(owner.user_id), json=change, headers=admin.headers)
        assert_error(response, 403, "forbidden")

    body = (await client.get(user_url(owner.user_id), headers=owner.headers)).json()
    assert (body["first_name"], body["role"], body["is_active"]) == ("Ada", "owner", True)


async def test_owner_promotes_member_to_admin(client: AsyncClient) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER)
    assert_error(await create_user(client, member), 403, "forbidden")

    response = await client.put(user_url(member.user_id), json={"role": "admin"}, headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "admin"

    # The new role takes effect on the promoted user's existing token at once.
    assert (await create_user(client, member)).status_code == 201
    permissions = (await client.get(f"{user_url(member.user_id)}/permissions", headers=member.headers)).json()
    assert "users:write" in permissions["permissions"]


async def test_admin_demotes_a_member_to_viewer(client: AsyncClient) -> None:
    owner = await register(client)
    admin = await add_user(client, owner, Role.ADMIN)
    member = await add_user(client, owner, Role.MEMBER)
    response = await client.put(user_url(member.user_id), json={"role": "viewer"}, headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "viewer"


async def test_last_owner_cannot_be_demoted_or_deactivated(client: AsyncClient) -> None:
    owner = await register(client)
    for change in ({"role": "admin"}, {"is_active": False}):
        response = await client.put(user_url(owner.user_id), json=change, headers=owner.headers)
        assert_error(response, 409, "conflict")

    body = (await client.get(user_url(owner.user_id), headers=owner.headers)).json()
    assert (body["role"], body["is_active"]) == ("owner", True)


async def test_an_owner_can_be_demoted_once_a_second_owner_exists(client: AsyncClient) -> None:
    owner = await register(client)
    second = await add_user(client, owner, Role.OWNER)

    response = await client.put(user_url(owner.user_id), json={"role": "admin"}, headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "admin"

    # Now `second` is the last owner and is protected in turn.
    response = await client.put(user_url(second.user_id), json={"role": "member"}, headers=second.headers)
    assert_error(response, 409, "conflict")


async def test_an_owner_can_be_deactivated_once_a_second_owner_exists(client: AsyncClient) -> None:
    owner = await register(client)
    second = await add_user(client, owner, Role.OWNER)

    response = await client.put(user_url(second.user_id), json={"is_active": False}, headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["is_active"] is False

    # An inactive owner does not count: the remaining active owner is the last one.
    response = await client.put(user_url(owner.user_id), json={"is_active": False}, headers=owner.headers)
    assert_error(response, 409, "conflict")


async def test_deactivating_a_user_revokes_their_sessions(client: AsyncClient) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER)
    assert (await client.get("/api/v1/auth/me", headers=member.headers)).status_code == 200

    response = await client.put(user_url(member.user_id), json={"is_active": False}, headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["is_active"] is False

    assert_error(await client.get("/api/v1/auth/me", headers=member.headers), 401, "unauthorized")
    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": member.refresh_token})
    assert_error(refresh, 401, "unauthorized")
    assert_error(await login_status(client, member.email), 403, "forbidden")


async def test_reactivating_a_user_lets_them_log_in_again(client: AsyncClient) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER)
    await client.put(user_url(member.user_id), json={"is_active": False}, headers=owner.headers)

    response = await client.put(user_url(member.user_id), json={"is_active": True}, headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["is_active"] is True
    assert (await login_status(client, member.email)).status_code == 200


async def test_update_with_unknown_field_is_422(client: AsyncClient) -> None:
    owner = await register(client)
    response = await client.put(user_url(owner.user_id), json={"is_super_admin": True}, headers=owner.headers)
    error = assert_error(response, 422, "validation_error")
    assert any("is_super_admin" in e["loc"] for e in error["details"]["errors"])
    assert (await client.get(user_url(owner.user_id), headers=owner.headers)).json()["is_super_admin"] is False


async def test_update_to_a_taken_email_or_username_is_409(client: AsyncClient) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER)
    other = await register(client)

    response = await client.put(user_url(member.user_id), json={"email": other.email.upper()}, headers=member.headers)
    assert assert_error(response, 409, "conflict")["details"] == {"field": "email"}

    owner_username = (await client.get(user_url(owner.user_id), headers=owner.headers)).json()["username"]
    response = await client.put(user_url(member.user_id), json={"username": owner_username}, headers=member.headers)
    assert assert_error(response, 409, "conflict")["details"] == {"field": "username"}


async def test_update_keeping_own_email_is_not_a_conflict(client: AsyncClient) -> None:
    owner = await register(client)
    response = await client.put(user_url(owner.user_id), json={"email": owner.email}, headers=owner.headers)
    assert response.status_code == 200, response.text


async def test_a_changed_email_is_no_longer_verified(client: AsyncClient) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER)
    assert (await client.post(f"{user_url(member.user_id)}/verify", headers=owner.headers)).status_code == 200

    # The same address, differently cased, stays verified.
    same = {"email": member.email.upper()}
    response = await client.put(user_url(member.user_id), json=same, headers=member.headers)
    assert (response.json()["is_verified"], response.json()["verified_at"] is not None) == (True, True)

    new_email = f"{unique()}@example.com"
    response = await client.put(user_url(member.user_id), json={"email": new_email}, headers=member.headers)
    assert response.status_code == 200, response.text
    assert (response.json()["email"], response.json()["is_verified"], response.json()["verified_at"]) == (
        new_email,
        False,
        None,
    )
    me = (await client.get("/api/v1/auth/me", headers=member.headers)).json()
    assert me["is_verified"] is False


async def test_update_unknown_or_foreign_user_is_404(client: AsyncClient) -> None:
    owner = await register(client)
    stranger = await register(client)
    for user_id in (uuid.uuid4(), stranger.user_id):
        response = await client.put(user_url(user_id), json={"first_name": "X"}, headers=owner.headers)
        assert_error(response, 404, "not_found")


# --- delete -------------------------------------------------------------------------------------------------------


async def test_soft_delete_hides_the_user_and_ends_their_access(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER)

    response = await client.delete(user_url(member.user_id), headers=owner.headers)
    assert response.status_code == 204
    assert response.content == b""

    assert_error(await client.get(user_url(member.user_id), headers=owner.headers), 404, "not_found")
    assert_error(await login_status(client, member.email), 401, "unauthorized")
    assert_error(await client.get("/api/v1/auth/me", headers=member.headers), 401, "unauthorized")

    # The row is kept, marked deleted and inactive.
    row = (await session.execute(select(User.deleted_at, User.is_active).where(User.id == member.user_id))).one()
    assert isinstance(row.deleted_at, datetime)
    assert row.is_active is False


async def test_a_soft_deleted_users_email_and_username_become_reusable(client: AsyncClient) -> None:
    owner = await register(client)
    name = unique()
    first = await add_user(client, owner, Role.MEMBER, email=f"{name}@example.com", username=name)
    assert (await client.delete(user_url(first.user_id), headers=owner.headers)).status_code == 204

    response = await create_user(client, owner, email=f"{name}@example.com", username=name)
    assert response.status_code == 201, response.text
    assert response.json()["id"] != str(first.user_id)
    assert (await login_status(client, f"{name}@example.com")).status_code == 200


async def test_deleting_twice_is_404(client: AsyncClient) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER)
    assert (await client.delete(user_url(member.user_id), headers=owner.headers)).status_code == 204
    assert_error(await client.delete(user_url(member.user_id), headers=owner.headers), 404, "not_found")


async def test_hard_delete_removes_the_row(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER)

    response = await client.delete(user_url(member.user_id), params={"hard": "true"}, headers=owner.headers)
    assert response.status_code == 204, response.text

    assert await session.scalar(select(User.id).where(User.id == member.user_id)) is None
    assert_error(await client.get(user_url(member.user_id), headers=owner.headers), 404, "not_found")
    assert_error(await client.get("/api/v1/auth/me", headers=member.headers), 401, "unauthorized")
    assert_error(await login_status(client, member.email), 401, "unauthorized")


async def test_member_cannot_delete_users(client: AsyncClient) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER)
    other = await add_user(client, owner, Role.VIEWER)
    for target in (other, member):
        error = assert_error(await client.delete(user_url(target.user_id), headers=member.headers), 403, "forbidden")
        assert error["details"] == {"permission": "users:write"}
    assert (await client.get(user_url(other.user_id), headers=owner.headers)).status_code == 200


async def test_admin_cannot_delete_an_owner(client: AsyncClient) -> None:
    owner = await register(client)
    admin = await add_user(client, owner, Role.ADMIN)
    assert_error(await client.delete(user_url(owner.user_id), headers=admin.headers), 403, "forbidden")
    response = await client.delete(user_url(owner.user_id), params={"hard": "true"}, headers=admin.headers)
    assert_error(response, 403, "forbidden")


async def test_only_owners_demote_deactivate_or_delete_admins(client: AsyncClient) -> None:
    owner = await register(client)
    admin = await add_user(client, owner, Role.ADMIN)
    other = await add_user(client, owner, Role.ADMIN)
    for change in ({"role": "member"}, {"is_active": False}, {"first_name": "Hacked"}):
        error = assert_error(
            await client.put(user_url(other.user_id), json=change, headers=admin.headers), 403, "forbidden"
        )
        assert error["details"] == {"role": "admin"}
    for hard in ("false", "true"):
        response = await client.delete(user_url(other.user_id), params={"hard": hard}, headers=admin.headers)
        assert_error(response, 403, "forbidden")
    # Verifying an email is managing its user too: not for another admin, nor the owner.
    for target in (other, owner):
        assert_error(await client.post(f"{user_url(target.user_id)}/verify", headers=admin.headers), 403, "forbidden")
    body = (await client.get(user_url(other.user_id), headers=owner.headers)).json()
    assert (body["role"], body["is_active"], body["first_name"], body["is_verified"]) == ("admin", True, None, False)

    # The owner may.
    response = await client.put(user_url(other.user_id), json={"role": "member"}, headers=owner.headers)
    assert response.json()["role"] == "member"
    response = await client.delete(user_url(admin.user_id), params={"hard": "true"}, headers=owner.headers)
    assert response.status_code == 204, response.text


async def test_an_admin_still_manages_members_and_viewers(client: AsyncClient) -> None:
    owner = await register(client)
    admin = await add_user(client, owner, Role.ADMIN)
    member = await add_user(client, owner, Role.MEMBER)
    viewer = await add_user(client, owner, Role.VIEWER)
    assert (
        await client.put(user_url(viewer.user_id), json={"role": "member"}, headers=admin.headers)
    ).status_code == 200
    assert (
        await client.delete(user_url(member.user_id), params={"hard": "true"}, headers=admin.headers)
    ).status_code == 204
    error = assert_error(
        await client.put(user_url(viewer.user_id), json={"role": "admin"}, headers=admin.headers), 403, "forbidden"
    )
    assert error["details"] == {"role": "admin"}


async def test_a_hard_deleted_actor_stays_in_the_audit_trail(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    second = await add_user(client, owner, Role.OWNER)
    member = await add_user(client, owner, Role.MEMBER)
    assert (await client.delete(user_url(member.user_id), headers=second.headers)).status_code == 204
    response = await client.delete(user_url(second.user_id), params={"hard": "true"}, headers=owner.headers)
    assert response.status_code == 204, response.text

    actors = (
        await session.execute(
            select(AuditEvent.actor_user_id, AuditEvent.actor_email).where(
                AuditEvent.action == "user.deleted", AuditEvent.target_id == member.user_id
            )
        )
    ).all()
    assert [tuple(actor) for actor in actors] == [(second.user_id, second.email)]


async def test_last_owner_cannot_be_deleted(client: AsyncClient) -> None:
    owner = await register(client)
    assert_error(await client.delete(user_url(owner.user_id), headers=owner.headers), 409, "conflict")
    response = await client.delete(user_url(owner.user_id), params={"hard": "true"}, headers=owner.headers)
    assert_error(response, 409, "conflict")
    assert (await client.get("/api/v1/auth/me", headers=owner.headers)).status_code == 200


async def test_an_owner_can_be_deleted_once_a_second_owner_exists(client: AsyncClient) -> None:
    owner = await register(client)
    second = await add_user(client, owner, Role.OWNER)
    assert (await client.delete(user_url(second.user_id), headers=owner.headers)).status_code == 204
    assert_error(await client.delete(user_url(owner.user_id), headers=owner.headers), 409, "conflict")


async def test_delete_unknown_or_foreign_user_is_404(client: AsyncClient) -> None:
    owner = await register(client)
    stranger = await register(client)
    for user_id in (uuid.uuid4(), stranger.user_id):
        assert_error(await client.delete(user_url(user_id), headers=owner.headers), 404, "not_found")
    assert (await client.get("/api/v1/auth/me", headers=stranger.headers)).status_code == 200


# --- verify -------------------------------------------------------------------------------------------------------


async def test_verify_marks_the_email_verified(client: AsyncClient) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER)
    before = (await client.get(user_url(member.user_id), headers=owner.headers)).json()
    assert (before["is_verified"], before["verified_at"]) == (False, None)

    response = await client.post(f"{user_url(member.user_id)}/verify", headers=owner.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["is_verified"] is True
    verified_at = datetime.fromisoformat(body["verified_at"])
    assert verified_at.tzinfo is not None

    # Verifying again changes nothing.
    again = (await client.post(f"{user_url(member.user_id)}/verify", headers=owner.headers)).json()
    assert datetime.fromisoformat(again["verified_at"]) == verified_at
    stored = (await client.get(user_url(member.user_id), headers=owner.headers)).json()
    assert stored["is_verified"] is True


async def test_member_cannot_verify(client: AsyncClient) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER)
    for target in (member, owner):
        response = await client.post(f"{user_url(target.user_id)}/verify", headers=member.headers)
        assert_error(response, 403, "forbidden")
    assert (await client.get(user_url(member.user_id), headers=owner.headers)).json()["is_verified"] is False


async def test_verify_unknown_or_foreign_user_is_404(client: AsyncClient) -> None:
    owner = await register(client)
    stranger = await register(client)
    for user_id in (uuid.uuid4(), stranger.user_id):
        assert_error(await client.post(f"{user_url(user_id)}/verify", headers=owner.headers), 404, "not_found")


# --- permissions --------------------------------------------------------------------------------------------------


async def test_permissions_list_the_roles_permission_strings(client: AsyncClient) -> None:
    owner = await register(client)
    viewer = await add_user(client, owner, Role.VIEWER)

    response = await client.get(f"{user_url(viewer.user_id)}/permissions", headers=owner.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user_id"] == str(viewer.user_id)
    assert body["role"] == "viewer"
    assert body["is_super_admin"] is False
    assert "users:read" in body["permissions"]
    assert "users:write" not in body["permissions"]
    assert body["permissions"] == sorted(p.value for p in ROLE_PERMISSIONS[Role.VIEWER])


async def test_permissions_of_every_role(client: AsyncClient) -> None:
    owner = await register(client)
    for role in Role:
        account = owner if role is Role.OWNER else await add_user(client, owner, role)
        body = (await client.get(f"{user_url(account.user_id)}/permissions", headers=account.headers)).json()
        assert body["role"] == role.value
        assert set(body["permissions"]) == {p.value for p in ROLE_PERMISSIONS[role]}
        assert "platform:admin" not in body["permissions"]
        assert ("tenant:write" in body["permissions"]) is (role is Role.OWNER)


async def test_super_admin_permissions_include_platform_admin(client: AsyncClient, session: AsyncSession) -> None:
    root = await super_admin(client, session)
    body = (await client.get(f"{user_url(root.user_id)}/permissions", headers=root.headers)).json()
    assert body["is_super_admin"] is True
    assert "platform:admin" in body["permissions"]


async def test_permissions_of_unknown_or_foreign_user_is_404(client: AsyncClient) -> None:
    owner = await register(client)
    stranger = await register(client)
    for user_id in (uuid.uuid4(), stranger.user_id):
        response = await client.get(f"{user_url(user_id)}/permissions", headers=owner.headers)
        assert_error(response, 404, "not_found")
