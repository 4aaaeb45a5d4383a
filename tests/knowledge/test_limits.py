import pytest
from httpx import AsyncClient

from tests.factories import register
from vocalis.config import Settings

API = "/api/v1/knowledge"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_upload_file_bytes": 2000, "max_upload_files": 2})


async def _base_id(client: AsyncClient, headers: dict[str, str]) -> str:
    response = await client.post(f"{API}/bases", json={"name": "Limits"}, headers=headers)
    base_id: str = response.json()["id"]
    return base_id


async def test_files_over_the_size_limit_are_refused(client: AsyncClient) -> None:
    owner = await register(client)
    base_id = await _base_id(client, owner.headers)
    response = await client.post(
        f"{API}/bases/{base_id}/documents/upload",
        files=[("files", ("big.txt", b"word " * 1000, "text/plain"))],
        headers=owner.headers,
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    listed = (await client.get(f"{API}/bases/{base_id}/documents", headers=owner.headers)).json()
    assert listed["total"] == 0


async def test_too_many_files_at_once_are_refused(client: AsyncClient) -> None:
    owner = await register(client)
    base_id = await _base_id(client, owner.headers)
    response = await client.post(
        f"{API}/bases/{base_id}/documents/upload",
        files=[("files", (f"{i}.txt", f"text {i}".encode(), "text/plain")) for i in range(3)],
        headers=owner.headers,
    )
    assert response.status_code == 422


async def test_an_upload_without_files_is_refused(client: AsyncClient) -> None:
    owner = await register(client)
    base_id = await _base_id(client, owner.headers)
    response = await client.post(f"{API}/bases/{base_id}/documents/upload", headers=owner.headers)
    assert response.status_code == 422
