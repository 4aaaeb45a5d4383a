import pytest
from httpx import AsyncClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import register
from vocalis.config import Settings
from vocalis.models.billing import Plan

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


async def test_document_and_storage_quotas_come_from_the_plan(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    base_id = await _base_id(client, owner.headers)
    # The test's transaction is rolled back afterwards, so tightening the shared free plan here is safe.
    await session.execute(update(Plan).where(Plan.code == "free").values(max_documents=1, max_storage_bytes=30))
    await session.commit()

    async def upload(name: str, data: bytes) -> int:
        response = await client.post(
            f"{API}/bases/{base_id}/documents/upload",
            files=[("files", (name, data, "text/plain"))],
            headers=owner.headers,
        )
        if response.status_code == 402:
            assert response.json()["error"]["code"] == "quota_exceeded"
        return response.status_code

    assert await upload("big.txt", b"x" * 31) == 402  # over the storage quota
    assert await upload("a.txt", b"first document") == 202
    assert await upload("b.txt", b"second") == 402  # over the document quota
    listed = (await client.get(f"{API}/bases/{base_id}/documents", headers=owner.headers)).json()
    assert listed["total"] == 1


async def test_a_refused_upload_leaves_no_files_behind(
    client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner = await register(client)
    base_id = await _base_id(client, owner.headers)
    await session.execute(update(Plan).where(Plan.code == "free").values(max_documents=1))
    await session.commit()
    response = await client.post(
        f"{API}/bases/{base_id}/documents/upload",
        files=[("files", ("a.txt", b"first", "text/plain")), ("files", ("b.txt", b"second", "text/plain"))],
        headers=owner.headers,
    )
    assert response.status_code == 402
    stored = [path for path in settings.files_dir.rglob("*") if path.is_file()] if settings.files_dir.exists() else []
    assert stored == []
