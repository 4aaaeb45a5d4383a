"""The upload route reads its multipart body itself: only after the caller's checks, and only up to the limits."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from httpx import AsyncClient, Response
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.assertions import assert_error
from tests.concurrency import own_database, small_pool_client
from tests.factories import add_user, register
from vocalis.config import Settings
from vocalis.kit.embedded_postgres import EmbeddedPostgres
from vocalis.models.billing import Plan
from vocalis.models.user import Role

API = "/api/v1/knowledge"
BOUNDARY = "vocalis-test-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
CHUNK = 64 * 1024


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_upload_file_bytes": 4 * CHUNK, "max_upload_files": 2})


class StreamedFile:
    """A multipart body of one file of `chunks` chunks, sent as the server asks for it; counts what it pulled."""

    def __init__(self, chunks: int, closed: bool = True) -> None:
        self.chunks = chunks
        self.closed = closed
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.pulled += 1
        yield (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        for _ in range(self.chunks):
            self.pulled += 1
            yield b"word " * (CHUNK // 5) + b"w" * (CHUNK % 5)
        if self.closed:
            self.pulled += 1
            yield f"\r\n--{BOUNDARY}--\r\n".encode()


async def _base_id(client: AsyncClient, headers: dict[str, str]) -> str:
    response = await client.post(f"{API}/bases", json={"name": "Uploads"}, headers=headers)
    assert response.status_code == 201, response.text
    base_id: str = response.json()["id"]
    return base_id


@pytest.mark.parametrize(
    ("caller", "status"), [("anonymous", 401), ("other tenant", 404), ("viewer", 403), ("no room", 402)]
)
async def test_a_refused_upload_is_refused_before_its_body_is_read(
    client: AsyncClient, session: AsyncSession, caller: str, status: int
) -> None:
    owner = await register(client)
    base_id = await _base_id(client, owner.headers)
    headers = {"Content-Type": MULTIPART}
    if caller == "other tenant":
        headers |= (await register(client)).headers
    elif caller == "viewer":
        headers |= (await add_user(client, owner, Role.VIEWER)).headers
    elif caller == "no room":
        headers |= owner.headers
        await session.execute(update(Plan).where(Plan.code == "free").values(max_documents=0))
        await session.commit()
    body = StreamedFile(chunks=500)  # 32 MiB
    response = await client.post(f"{API}/bases/{base_id}/documents/upload", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert body.pulled == 0


async def test_a_file_over_the_size_limit_stops_the_reading(client: AsyncClient, settings: Settings) -> None:
    owner = await register(client)
    base_id = await _base_id(client, owner.headers)
    body = StreamedFile(chunks=500)
    response = await client.post(
        f"{API}/bases/{base_id}/documents/upload", content=body, headers={"Content-Type": MULTIPART} | owner.headers
    )
    assert response.status_code == 413
    assert response.json()["error"]["details"] == {"filename": "big.txt", "max_bytes": settings.max_upload_file_bytes}
    # The headers, the chunks up to the limit, and the one that passed it.
    assert body.pulled == 1 + settings.max_upload_file_bytes // CHUNK + 1


async def test_a_streamed_file_within_the_limit_is_stored(client: AsyncClient) -> None:
    owner = await register(client)
    base_id = await _base_id(client, owner.headers)
    body = StreamedFile(chunks=3)
    response = await client.post(
        f"{API}/bases/{base_id}/documents/upload", content=body, headers={"Content-Type": MULTIPART} | owner.headers
    )
    assert response.status_code == 202, response.text
    [document] = response.json()["documents"]
    assert (document["filename"], document["size_bytes"]) == ("big.txt", 3 * CHUNK)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"files": []}'),
        ("multipart/form-data", b"--x\r\n"),  # no boundary
        (MULTIPART, b"not multipart at all"),
        (MULTIPART, StreamedFile(chunks=1, closed=False)),  # cut off before the closing boundary
        (MULTIPART, f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="other"\r\n\r\nx\r\n--{BOUNDARY}--\r\n'),
    ],
)
async def test_bodies_that_are_not_an_upload_are_invalid_input(
    client: AsyncClient, content_type: str, body: bytes | str | StreamedFile
) -> None:
    owner = await register(client)
    base_id = await _base_id(client, owner.headers)
    response = await client.post(
        f"{API}/bases/{base_id}/documents/upload", content=body, headers={"Content-Type": content_type} | owner.headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_input"


def test_the_schema_describes_the_multipart_body(app: FastAPI) -> None:
    operation = app.openapi()["paths"][f"{API}/bases/{{base_id}}/documents/upload"]["post"]
    body = operation["requestBody"]
    assert body["required"] is True
    schema = body["content"]["multipart/form-data"]["schema"]
    assert schema["required"] == ["files"]
    assert schema["properties"]["files"]["items"] == {"type": "string", "format": "binary"}


class HeldFile:
    """A multipart body of one small file whose end waits for `release`. `arrived` is released when the server asks
    for the end: it is then reading the body."""

    def __init__(self, arrived: asyncio.Semaphore, release: asyncio.Event) -> None:
        self.arrived = arrived
        self.release = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="slow.txt"\r\n'
            "Content-Type: text/plain\r\n\r\nOn Saturday we open at ten."
        ).encode()
        self.arrived.release()
        await self.release.wait()
        yield f"\r\n--{BOUNDARY}--\r\n".encode()


async def _upload(client: AsyncClient, headers: dict[str, str], base_id: str, body: HeldFile) -> Response:
    upload = f"{API}/bases/{base_id}/documents/upload"
    return await client.post(upload, content=body, headers={"Content-Type": MULTIPART} | headers)


@pytest.fixture(scope="module")
def committing_database_url(postgres: EmbeddedPostgres) -> str:
    """A database of this module's own: the pool test's app commits, as a running server does."""
    return own_database(postgres, "vocalis_uploads_pool")


async def test_a_slow_upload_holds_no_database_connection(committing_database_url: str, settings: Settings) -> None:
    """Uploads whose bodies are still arriving leave the pool (two connections) free for everyone else."""
    arrived, release = asyncio.Semaphore(0), asyncio.Event()
    async with small_pool_client(committing_database_url, settings) as (api, database):
        owners = [await register(api) for _ in range(3)]
        bases = [await _base_id(api, owner.headers) for owner in owners]
        uploads = [
            asyncio.create_task(_upload(api, owner.headers, base_id, HeldFile(arrived, release)))
            for owner, base_id in zip(owners, bases, strict=True)
        ]
        try:
            for _ in uploads:  # every upload is now reading its body
                await asyncio.wait_for(arrived.acquire(), 30)
            assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
            bystander = await register(api)
            assert (await api.get(f"{API}/bases", headers=bystander.headers)).status_code == 200
            assert not any(task.done() for task in uploads)
        finally:
            release.set()
        for response in await asyncio.gather(*uploads):
            assert response.status_code == 202, response.text
            assert response.json()["documents"][0]["filename"] == "slow.txt"


async def test_the_quota_is_checked_again_once_the_body_has_arrived(client: AsyncClient, session: AsyncSession) -> None:
    """The plan had room when the upload began; a document added while its body was arriving took it: 402."""
    owner = await register(client)
    base_id = await _base_id(client, owner.headers)
    await session.execute(update(Plan).where(Plan.code == "free").values(max_documents=1))
    await session.commit()
    arrived, release = asyncio.Semaphore(0), asyncio.Event()
    upload = asyncio.create_task(_upload(client, owner.headers, base_id, HeldFile(arrived, release)))
    try:
        await asyncio.wait_for(arrived.acquire(), 30)
        text = {"title": "Hours", "text": "On Sunday we are closed."}
        added = await client.post(f"{API}/bases/{base_id}/documents", json=text, headers=owner.headers)
        assert added.status_code == 202, added.text
    finally:
        release.set()
    assert_error(await upload, 402, "quota_exceeded")
    listed = await client.get(f"{API}/bases/{base_id}/documents", headers=owner.headers)
    assert [document["title"] for document in listed.json()["items"]] == ["Hours"]
