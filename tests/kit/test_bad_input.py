"""Bad input never gives a 500: every malformed request gets a 4xx in the one error format, with a request id."""

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import pytest
from httpx import AsyncClient, Response

from tests.factories import Account, register
from vocalis.kit.text import display_text

MAX_BYTES = 1024 * 1024  # Settings.max_request_bytes by default
REQUEST_ID = "X-Request-ID"


def error_of(response: Response, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert `response` is an error in the API's format with `status` (and `code`); return its error object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["code"], str)
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["details"], dict)
    if code is not None:
        assert error["code"] == code, error
    assert response.headers.get(REQUEST_ID), "every response carries a request id"
    return error


def invalid_fields(response: Response) -> set[tuple[str, ...]]:
    """The `loc` of every per-field error of a 422 validation error."""
    error = error_of(response, 422, "validation_error")
    return {tuple(item["loc"]) for item in error["details"]["errors"]}


@pytest.fixture
async def owner(client: AsyncClient) -> Account:
    return await register(client)


# Malformed and mistyped bodies


@pytest.mark.parametrize(
    "content",
    [b'{"email": "a@example.com", "password": ', b"{", b"not json", b'{"email": "a@example.com",}', b"\xff\xfe"],
)
async def test_malformed_json_is_422(client: AsyncClient, content: bytes) -> None:
    response = await client.post("/api/v1/auth/login", content=content, headers={"Content-Type": "application/json"})
    error = error_of(response, 422, "validation_error")
    assert "malformed json" in error["message"].lower()


async def test_malformed_json_on_an_authenticated_route_is_422(client: AsyncClient, owner: Account) -> None:
    response = await client.put(
        f"/api/v1/users/{owner.user_id}",
        content=b'{"first_name": "x"',
        headers={**owner.headers, "Content-Type": "application/json"},
    )
    assert "malformed json" in error_of(response, 422, "validation_error")["message"].lower()


@pytest.mark.parametrize(
    "payload",
    [
        {"email": 123, "username": "someone", "password": "Correct-Horse-9"},
        {"email": "a@example.com", "username": ["x"], "password": "Correct-Horse-9"},
        {"email": "a@example.com", "username": "someone", "password": {"nested": True}},
        {"email": "a@example.com", "username": "someone", "password": "Correct-Horse-9", "role": "emperor"},
        {"email": "a@example.com", "username": "someone", "password": "Correct-Horse-9", "first_name": 7},
    ],
)
async def test_wrong_types_are_422(client: AsyncClient, owner: Account, payload: dict[str, Any]) -> None:
    response = await client.post("/api/v1/users/", json=payload, headers=owner.headers)
    assert invalid_fields(response)


@pytest.mark.parametrize("body", [[], "a string", 42, None, True])
async def test_a_body_that_is_not_an_object_is_422(client: AsyncClient, owner: Account, body: Any) -> None:
    response = await client.put(f"/api/v1/users/{owner.user_id}", json=body, headers=owner.headers)
    # A JSON null for a required body reads as a missing body; either way it is a validation error.
    error_of(response, 422, "validation_error")


async def test_missing_fields_are_listed(client: AsyncClient) -> None:
    response = await client.post("/api/v1/auth/register", json={})
    assert {("body", "email"), ("body", "username"), ("body", "password")} <= invalid_fields(response)


async def test_missing_body_is_422(client: AsyncClient) -> None:
    response = await client.post("/api/v1/auth/login")
    error_of(response, 422, "validation_error")


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"email=a%40example.com&password=secret", "application/x-www-form-urlencoded"),
        (b'{"email": "a@example.com", "password": "secret"}', "text/plain"),
        (b"<login><email>a@example.com</email></login>", "application/xml"),
        (b"\x00\x01\x02binary", "application/octet-stream"),
    ],
)
async def test_body_of_the_wrong_content_type_is_4xx(client: AsyncClient, content: bytes, content_type: str) -> None:
    response = await client.post("/api/v1/auth/login", content=content, headers={"Content-Type": content_type})
    error = error_of(response, response.status_code)
    assert response.status_code in (415, 422), error


async def test_json_sent_to_the_form_login_is_422(client: AsyncClient) -> None:
    response = await client.post("/api/v1/auth/token", json={"username": "a@example.com", "password": "x"})
    error_of(response, 422, "validation_error")


# Body size


async def test_oversized_body_with_content_length_is_413(client: AsyncClient) -> None:
    content = b'{"email": "' + b"a" * MAX_BYTES + b'"}'
    response = await client.post("/api/v1/auth/login", content=content, headers={"Content-Type": "application/json"})
    assert response.request.headers["Content-Length"] == str(len(content))
    error = error_of(response, 413, "payload_too_large")
    assert error["details"] == {"max_bytes": MAX_BYTES}


async def test_oversized_streamed_body_without_content_length_is_413(client: AsyncClient, owner: Account) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"first_name": "'
        for _ in range(20):
            yield b"a" * (64 * 1024)
        yield b'"}'

    response = await client.put(
        f"/api/v1/users/{owner.user_id}",
        content=chunks(),
        headers={**owner.headers, "Content-Type": "application/json"},
    )
    assert "Content-Length" not in response.request.headers
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    error_of(response, 413, "payload_too_large")


async def test_streamed_body_under_the_limit_is_accepted(client: AsyncClient, owner: Account) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"first_name": '
        yield b'"Grace"}'

    response = await client.put(
        f"/api/v1/users/{owner.user_id}",
        content=chunks(),
        headers={**owner.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["first_name"] == "Grace"


async def test_body_of_exactly_the_limit_is_not_refused_for_size(client: AsyncClient) -> None:
    content = b'{"email": "' + b"a" * (MAX_BYTES - 13) + b'"}'
    assert len(content) == MAX_BYTES
    response = await client.post("/api/v1/auth/login", content=content, headers={"Content-Type": "application/json"})
    error_of(response, 422, "validation_error")


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "0x10", " ", "1e3"])
async def test_invalid_content_length_is_400(client: AsyncClient, value: str) -> None:
    response = await client.post(
        "/api/v1/auth/login",
        content=b'{"email": "a@example.com", "password": "x"}',
        headers={"Content-Type": "application/json", "Content-Length": value},
    )
    error = error_of(response, 400, "bad_request")
    assert "content-length" in error["message"].lower()


# Paths and query parameters


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/users/not-a-uuid",
        "/api/v1/users/123",
        "/api/v1/users/00000000-0000-0000-0000-00000000000g",
        "/api/v1/users/%00",
        "/api/v1/users/" + "a" * 5000,
        "/api/v1/users/not-a-uuid/permissions",
        "/api/v1/tenants/not-a-uuid",
        "/api/v1/tenants/%E2%98%83/statistics",
    ],
)
async def test_invalid_uuid_in_path_is_422(client: AsyncClient, owner: Account, path: str) -> None:
    response = await client.get(path, headers=owner.headers)
    fields = invalid_fields(response)
    assert len(fields) == 1
    assert next(iter(fields))[0] == "path"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "POST"])
async def test_invalid_uuid_in_path_is_422_for_writes(client: AsyncClient, owner: Account, method: str) -> None:
    path = "/api/v1/users/nope/verify" if method == "POST" else "/api/v1/users/nope"
    body = {"first_name": "x"} if method == "PUT" else None
    response = await client.request(method, path, json=body, headers=owner.headers)
    assert ("path", "user_id") in invalid_fields(response)


@pytest.mark.parametrize(
    "query",
    [
        {"page": "0"},
        {"page": "-1"},
        {"page": str(10**30)},
        {"page": "1000001"},
        {"page": "one"},
        {"page": "1.5"},
        {"page": ""},
        {"page_size": "0"},
        {"page_size": "-5"},
        {"page_size": "101"},
        {"page_size": str(2**64)},
        {"page_size": "NaN"},
    ],
)
async def test_bad_page_parameters_are_422(client: AsyncClient, owner: Account, query: dict[str, str]) -> None:
    response = await client.get("/api/v1/users/", params=query, headers=owner.headers)
    (name,) = query
    assert ("query", name) in invalid_fields(response)


async def test_largest_allowed_page_is_an_empty_page(client: AsyncClient, owner: Account) -> None:
    response = await client.get("/api/v1/users/", params={"page": 1_000_000, "page_size": 100}, headers=owner.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["items"] == []
    assert body["total"] == 1


@pytest.mark.parametrize(
    "query",
    [{"role": "emperor"}, {"is_active": "maybe"}, {"is_verified": "2"}, {"search": "x" * 201}],
)
async def test_bad_filters_are_422(client: AsyncClient, owner: Account, query: dict[str, str]) -> None:
    response = await client.get("/api/v1/users/", params=query, headers=owner.headers)
    (name,) = query
    assert ("query", name) in invalid_fields(response)


async def test_bad_boolean_query_on_delete_is_422(client: AsyncClient, owner: Account) -> None:
    response = await client.delete(f"/api/v1/users/{uuid.uuid4()}", params={"hard": "sure"}, headers=owner.headers)
    assert ("query", "hard") in invalid_fields(response)


# Unknown fields, unknown routes, wrong methods


@pytest.mark.parametrize("resource", ["users", "tenants"])
async def test_unknown_fields_on_update_are_422(client: AsyncClient, owner: Account, resource: str) -> None:
    object_id = owner.user_id if resource == "users" else owner.tenant_id
    response = await client.put(
        f"/api/v1/{resource}/{object_id}", json={"nickname": "x", "is_admin": True}, headers=owner.headers
    )
    error = error_of(response, 422, "validation_error")
    assert {tuple(e["loc"]) for e in error["details"]["errors"]} == {("body", "nickname"), ("body", "is_admin")}
    assert {e["type"] for e in error["details"]["errors"]} == {"extra_forbidden"}


async def test_unknown_fields_do_not_half_apply(client: AsyncClient, owner: Account) -> None:
    response = await client.put(
        f"/api/v1/users/{owner.user_id}", json={"first_name": "Changed", "nickname": "x"}, headers=owner.headers
    )
    error_of(response, 422, "validation_error")
    me = await client.get("/api/v1/auth/me", headers=owner.headers)
    assert me.json()["first_name"] == "Ada"


@pytest.mark.parametrize(
    "path",
    ["/api/v1/nope", "/api/v1/users/x/y/z", "/api/v2/users/", "/nope", "/api/v1/", "/api/v1/%00", "/api/v1/☃"],
)
async def test_unknown_route_is_404_in_the_error_format(client: AsyncClient, path: str) -> None:
    response = await client.get(path)
    error_of(response, 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", "/api/v1/users/"),
        ("DELETE", "/api/v1/users/"),
        ("PATCH", f"/api/v1/users/{uuid.uuid4()}"),
        ("GET", "/api/v1/auth/login"),
        ("PUT", "/api/v1/auth/register"),
        ("POST", "/api/v1/tenants/current"),
    ],
)
async def test_wrong_method_is_405_in_the_error_format(client: AsyncClient, method: str, path: str) -> None:
    response = await client.request(method, path)
    error_of(response, 405, "method_not_allowed")
    assert response.headers.get("Allow")


# Long and odd strings


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("first_name", "x" * 101),
        ("first_name", "x" * 100_000),
        ("last_name", "y" * 101),
        ("username", "u" * 65),
        ("email", "a" * 300 + "@example.com"),
        ("email", "a@" + "b" * 300 + ".com"),
    ],
)
async def test_too_long_strings_are_422(client: AsyncClient, owner: Account, field: str, value: str) -> None:
    response = await client.put(f"/api/v1/users/{owner.user_id}", json={field: value}, headers=owner.headers)
    assert ("body", field) in invalid_fields(response)


async def test_too_long_tenant_name_is_422(client: AsyncClient, owner: Account) -> None:
    response = await client.put(f"/api/v1/tenants/{owner.tenant_id}", json={"name": "t" * 201}, headers=owner.headers)
    assert ("body", "name") in invalid_fields(response)


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "a@example.com", "password": "p" * 1025},
        {"email": "a" * 5000 + "@example.com", "password": "x"},
    ],
)
async def test_too_long_login_fields_are_422(client: AsyncClient, payload: dict[str, str]) -> None:
    error_of(await client.post("/api/v1/auth/login", json=payload), 422, "validation_error")


async def test_too_long_register_fields_are_422(client: AsyncClient) -> None:
    payload = {
        "email": "long@example.com",
        "username": "longname",
        "password": "p" * 129,
        "tenant_name": "t" * 201,
    }
    fields = invalid_fields(await client.post("/api/v1/auth/register", json=payload))
    assert {("body", "password"), ("body", "tenant_name")} <= fields


ODD_STRINGS = [
    "nul\x00byte",
    "\x00",
    "lone \ud800 surrogate",
    "\udfff",
    "\u202eright-to-left override",
    "zero\u200bwidth\ufeff",
    "emoji 👩🏽‍🚀, 中文 and Ω≈ç√",
    "control \x01\x07\x1b[31m chars",
    "\uffff\ufffe",
    "   ",
]


async def send_json(
    client: AsyncClient, method: str, url: str, payload: Any, headers: dict[str, str] | None = None
) -> Response:
    """Send `payload` as JSON with non-ASCII escaped, so lone surrogates travel as `\\udXXX` escapes."""
    content = json.dumps(payload).encode()
    return await client.request(
        method, url, content=content, headers={**(headers or {}), "Content-Type": "application/json"}
    )


def refused_or_kept(response: Response, field: tuple[str, ...]) -> bool:
    """True when the odd value was accepted; otherwise assert it was refused as a 422 (never a 500)."""
    if response.status_code in (200, 201):
        return True
    error = error_of(response, 422)
    if error["code"] == "validation_error":
        assert field in {tuple(e["loc"]) for e in error["details"]["errors"]}, error
    else:
        assert error["code"] == "invalid_input", error
    return False


@pytest.mark.parametrize("value", ODD_STRINGS)
async def test_odd_strings_in_user_fields_do_not_fail(client: AsyncClient, owner: Account, value: str) -> None:
    response = await send_json(client, "PUT", f"/api/v1/users/{owner.user_id}", {"first_name": value}, owner.headers)
    if refused_or_kept(response, ("body", "first_name")):
        assert response.json()["first_name"] == display_text(value)  # names lose hidden characters
    me = await client.get("/api/v1/auth/me", headers=owner.headers)
    assert me.status_code == 200, "the failed update left the account usable"


@pytest.mark.parametrize("value", ODD_STRINGS)
async def test_odd_strings_in_tenant_name_do_not_fail(client: AsyncClient, owner: Account, value: str) -> None:
    response = await send_json(client, "PUT", f"/api/v1/tenants/{owner.tenant_id}", {"name": value}, owner.headers)
    if refused_or_kept(response, ("body", "name")):
        assert response.json()["name"] == display_text(value)


@pytest.mark.parametrize("value", ODD_STRINGS)
async def test_odd_strings_in_search_do_not_fail(client: AsyncClient, owner: Account, value: str) -> None:
    # Lone surrogates cannot be UTF-8 encoded; send the bytes a careless client would (CESU-8 style).
    query = quote(value.encode("utf-8", "surrogatepass"), safe="")
    response = await client.get(f"/api/v1/users/?search={query}", headers=owner.headers)
    if refused_or_kept(response, ("query", "search")):
        assert response.json()["total"] == 0


@pytest.mark.parametrize("value", ODD_STRINGS)
async def test_odd_strings_in_login_do_not_fail(client: AsyncClient, value: str) -> None:
    response = await send_json(
        client, "POST", "/api/v1/auth/login", {"email": f"{value}@example.com", "password": value}
    )
    assert response.status_code in (401, 422), response.text
    error_of(response, response.status_code)


@pytest.mark.parametrize("value", ODD_STRINGS)
async def test_odd_strings_in_register_do_not_fail(client: AsyncClient, value: str) -> None:
    payload = {
        "email": f"odd{uuid.uuid4().hex[:8]}@example.com",
        "username": f"odd{uuid.uuid4().hex[:8]}",
        "password": "Correct-Horse-9",
        "first_name": value,
        "last_name": value,
        "tenant_name": value,
    }
    response = await send_json(client, "POST", "/api/v1/auth/register", payload)
    # A tenant name made only of hidden characters is empty once cleaned: refused.
    if refused_or_kept(response, ("body", "tenant_name")):
        assert response.json()["user"]["first_name"] == display_text(value)


@pytest.mark.parametrize("value", ["pass\x00word", "pass \ud800 word", "pässwörd-🔑-long"])
async def test_odd_passwords_do_not_fail(client: AsyncClient, owner: Account, value: str) -> None:
    response = await send_json(
        client,
        "POST",
        "/api/v1/auth/change-password",
        {"current_password": value, "new_password": value},
        owner.headers,
    )
    assert response.status_code in (403, 422), response.text
    error_of(response, response.status_code)


async def test_invalid_utf8_in_a_json_string_is_422(client: AsyncClient, owner: Account) -> None:
    response = await client.put(
        f"/api/v1/users/{owner.user_id}",
        content=b'{"first_name": "\xc3\x28"}',
        headers={**owner.headers, "Content-Type": "application/json"},
    )
    # Invalid UTF-8 is malformed JSON; FastAPI answers it with its generic body-parsing error.
    error = error_of(response, response.status_code)
    assert response.status_code in (400, 422), error


# Authentication headers


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer not.a.jwt"},
        {"Authorization": "Bearer " + "a" * 10_000},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer vk_"},
        {"Authorization": "Bearer vk_" + "x" * 5000},
        {"X-API-Key": ""},
        {"X-API-Key": "vk_nope"},
        {"X-API-Key": "\x7f" * 20},
    ],
)
async def test_garbage_credentials_are_401(client: AsyncClient, headers: dict[str, str]) -> None:
    response = await client.get("/api/v1/users/", headers=headers)
    error_of(response, 401, "unauthorized")


# Request ids


async def test_every_response_carries_a_request_id(client: AsyncClient, owner: Account) -> None:
    responses = [
        await client.get("/health/live"),
        await client.get("/api/v1/auth/me", headers=owner.headers),
        await client.get("/api/v1/nope"),
        await client.post("/api/v1/auth/login", content=b"{", headers={"Content-Type": "application/json"}),
        await client.post("/api/v1/auth/login", content=b"{}", headers={"Content-Length": "x"}),
        await client.delete("/api/v1/auth/me"),
    ]
    ids = [response.headers.get(REQUEST_ID) for response in responses]
    assert all(ids), ids
    assert len(set(ids)) == len(ids), "a fresh id per request"


@pytest.mark.parametrize("incoming", ["abc-123", "A.b_c-D", "x" * 64, uuid.uuid4().hex])
async def test_valid_incoming_request_id_is_echoed(client: AsyncClient, incoming: str) -> None:
    for response in (
        await client.get("/api/v1/nope", headers={REQUEST_ID: incoming}),
        await client.post("/api/v1/auth/login", json={}, headers={REQUEST_ID: incoming}),
    ):
        assert response.headers[REQUEST_ID] == incoming


@pytest.mark.parametrize("incoming", ["", "has space", "x" * 65, "semi;colon", "new\\nline", "ünïcode"])
async def test_invalid_incoming_request_id_is_replaced(client: AsyncClient, incoming: str) -> None:
    response = await client.get("/api/v1/nope", headers={REQUEST_ID.encode(): incoming.encode()})
    assert response.headers[REQUEST_ID]
    assert response.headers[REQUEST_ID] != incoming
