"""The knowledge API end to end: bases, uploads of every format through the job worker, search and statistics."""

import asyncio
import uuid
from typing import Any

import pytest
from httpx import AsyncClient

from tests.assertions import assert_error
from tests.concurrency import own_database, small_pool_client
from tests.factories import Account, add_user, api_key, register
from tests.knowledge import files
from tests.knowledge.conftest import Drain
from tests.standins.held import Held
from tests.standins.openai import STANDIN_KEY, OpenAIStandIn
from tests.standins.server import serve
from vocalis.config import Settings
from vocalis.kit.db import ALL_TENANTS, Database, TenantScope
from vocalis.kit.embedded_postgres import EmbeddedPostgres
from vocalis.knowledge import repository
from vocalis.models.user import Role

API = "/api/v1/knowledge"


async def _base(client: AsyncClient, owner: Account, **fields: Any) -> dict[str, Any]:
    response = await client.post(f"{API}/bases", json={"name": "Salon", **fields}, headers=owner.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _upload(client: AsyncClient, owner: Account, base_id: str, *items: tuple[str, bytes, str]) -> Any:
    response = await client.post(
        f"{API}/bases/{base_id}/documents/upload",
        files=[("files", item) for item in items],
        headers=owner.headers,
    )
    return response


async def test_knowledge_base_crud(client: AsyncClient) -> None:
    owner = await register(client)
    base = await _base(client, owner, description="Prices and hours", chunk_size=300, chunk_overlap=30)
    assert base["embedding_provider"] == "local"
    assert base["embedding_dimension"] == 384
    assert (base["chunk_size"], base["chunk_overlap"]) == (300, 30)

    listed = (await client.get(f"{API}/bases", headers=owner.headers)).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == base["id"]
    got = await client.get(f"{API}/bases/{base['id']}", headers=owner.headers)
    assert got.json()["description"] == "Prices and hours"

    renamed = await client.put(f"{API}/bases/{base['id']}", json={"name": "Salon FAQ"}, headers=owner.headers)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Salon FAQ"
    assert (await client.delete(f"{API}/bases/{base['id']}", headers=owner.headers)).status_code == 204
    assert (await client.get(f"{API}/bases/{base['id']}", headers=owner.headers)).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x", "chunk_size": 100, "chunk_overlap": 100}, "chunk_overlap"),
        ({"name": "x", "chunk_size": 10}, "chunk_size"),
        ({"name": "x", "unknown": 1}, "unknown"),
        ({"name": "x", "embedding": {"provider": "nope"}}, "provider"),
    ],
)
async def test_invalid_knowledge_bases_are_refused(client: AsyncClient, body: dict[str, Any], field: str) -> None:
    owner = await register(client)
    response = await client.post(f"{API}/bases", json=body, headers=owner.headers)
    assert response.status_code == 422
    assert field in response.text


async def test_openai_embeddings_need_a_key(client: AsyncClient) -> None:
    owner = await register(client)
    response = await client.post(
        f"{API}/bases", json={"name": "x", "embedding": {"provider": "openai"}}, headers=owner.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"]["missing"] == "VOCALIS_OPENAI_API_KEY"


async def test_viewers_read_but_do_not_write(client: AsyncClient) -> None:
    owner = await register(client)
    base = await _base(client, owner)
    viewer = await add_user(client, owner, Role.VIEWER)
    assert (await client.get(f"{API}/bases/{base['id']}", headers=viewer.headers)).status_code == 200
    refused = await client.post(f"{API}/bases", json={"name": "x"}, headers=viewer.headers)
    assert refused.status_code == 403


async def test_the_plan_limits_knowledge_bases(client: AsyncClient) -> None:
    owner = await register(client)
    for _ in range(3):  # the free plan allows 3
        await _base(client, owner)
    refused = await client.post(f"{API}/bases", json={"name": "fourth"}, headers=owner.headers)
    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "quota_exceeded"


async def test_every_format_is_ingested_into_searchable_chunks(client: AsyncClient, drain: Drain) -> None:
    owner = await register(client)
    base = await _base(client, owner)
    uploads = [
        (
            "hours.pdf",
            files.pdf(["Opening hours. We open at nine on Saturdays", "Parking is free behind the salon"]),
            "application/pdf",
        ),
        (
            "policy.docx",
            files.docx("Cancellations", ["Cancel at least 24 hours ahead."], [["Fee", "10 dollars"]]),
            "application/octet-stream",
        ),
        ("notes.txt", b"Gift cards never expire and can be used for any service.", "text/plain"),
        ("faq.md", b"# Pets\n\nWell-behaved **dogs** are welcome in the waiting area.", "text/markdown"),
        ("about.html", b"<html><body><script>x()</script><p>Founded in 1998 by Maria.</p></body></html>", "text/html"),
        ("prices.csv", b"service,price\nHaircut,30\nColouring,80\n", "text/csv"),
    ]
    response = await _upload(client, owner, base["id"], *uploads)
    assert response.status_code == 202, response.text
    documents = response.json()["documents"]
    assert [d["status"] for d in documents] == ["pending"] * 6
    assert not any(d["duplicate"] for d in documents)

    await drain()
    for document in documents:
        got = (await client.get(f"{API}/documents/{document['id']}", headers=owner.headers)).json()
        assert got["status"] == "ready", got
        assert got["chunk_count"] >= 1 and got["token_count"] > 0
        assert set(got["timings"]) >= {"parse_ms", "chunk_ms", "embed_ms", "store_ms"}
    pdf_doc = documents[0]
    assert (await client.get(f"{API}/documents/{pdf_doc['id']}", headers=owner.headers)).json()["page_count"] == 2
    chunks = (await client.get(f"{API}/documents/{pdf_doc['id']}/chunks", headers=owner.headers)).json()
    assert {c["page"] for c in chunks["items"]} == {1, 2}

    for question, expected in [
        ("When do you open on Saturday?", "nine"),
        ("Is there somewhere to park my car?", "Parking"),
        ("What does it cost to cancel?", "10 dollars"),
        ("Can I bring my dog?", "dogs"),
        ("How much is a haircut?", "Haircut"),
        ("Who started the business?", "Maria"),
    ]:
        results = (
            await client.post(f"{API}/search", json={"query": question, "top_k": 3}, headers=owner.headers)
        ).json()
        assert any(expected in hit["content"] for hit in results["results"]), (question, results)


async def test_search_modes_and_result_shape(client: AsyncClient, drain: Drain) -> None:
    owner = await register(client)
    base = await _base(client, owner)
    await client.post(
        f"{API}/bases/{base['id']}/documents",
        json={"title": "Hours", "text": "We are open from nine to five on weekdays."},
        headers=owner.headers,
    )
    await drain()
    for mode in ("hybrid", "vector", "keyword"):
        response = await client.post(
            f"{API}/search",
            json={"query": "open weekdays", "mode": mode, "knowledge_base_ids": [base["id"]]},
            headers=owner.headers,
        )
        assert response.status_code == 200, response.text
        [hit] = response.json()["results"]
        assert hit["document_title"] == "Hours" and hit["knowledge_base_name"] == "Salon"
        assert hit["knowledge_base_id"] == base["id"] and hit["score"] > 0
    empty = await client.post(f"{API}/search", json={"query": "zebra", "mode": "keyword"}, headers=owner.headers)
    assert empty.json()["results"] == []


async def _two_tenants_one_secret(client: AsyncClient, drain: Drain) -> tuple[Account, Account, dict[str, Any]]:
    """Two tenants; the first has a knowledge base holding an alarm code, ingested."""
    owner, other = await register(client), await register(client)
    base = await _base(client, owner)
    await client.post(
        f"{API}/bases/{base['id']}/documents",
        json={"title": "Secret", "text": "The alarm code is 4711."},
        headers=owner.headers,
    )
    await drain()
    return owner, other, base


async def test_search_never_crosses_tenants(client: AsyncClient, drain: Drain) -> None:
    owner, other, base = await _two_tenants_one_secret(client, drain)
    found = await client.post(f"{API}/search", json={"query": "alarm code"}, headers=other.headers)
    assert found.status_code == 200 and found.json()["results"] == []
    foreign = await client.post(
        f"{API}/search", json={"query": "alarm code", "knowledge_base_ids": [base["id"]]}, headers=other.headers
    )
    assert foreign.status_code == 404
    with_key = await client.post(
        f"{API}/search", json={"query": "alarm code"}, headers={"X-API-Key": await api_key(client, owner)}
    )
    assert "4711" in with_key.json()["results"][0]["content"]


async def test_keyword_search_in_the_database_answers_only_for_the_tenant_acted_for(
    client: AsyncClient, drain: Drain, database: Database
) -> None:
    """The keyword search runs in a database function (so row-level security leaves its GIN index usable): it must
    not answer for a tenant the transaction does not act for, whatever tenant and bases it is given."""
    owner, other, base = await _two_tenants_one_secret(client, drain)
    base_ids = [uuid.UUID(base["id"])]
    scopes: list[tuple[TenantScope | None, int]] = [(owner.tenant_id, 1), (other.tenant_id, 0), (ALL_TENANTS, 0)]
    scopes.append((None, 0))
    for acting_for, expected in scopes:
        async with database.transaction(acting_for) as session:
            hits = await repository.keyword_search(session, owner.tenant_id, base_ids, "alarm code", 5)
        assert len(hits) == expected, acting_for


async def test_the_same_content_twice_is_the_same_document(client: AsyncClient) -> None:
    owner = await register(client)
    base = await _base(client, owner)
    first = (await _upload(client, owner, base["id"], ("a.txt", b"Same words.", "text/plain"))).json()
    second = (await _upload(client, owner, base["id"], ("renamed.txt", b"Same words.", "text/plain"))).json()
    assert second["documents"][0]["id"] == first["documents"][0]["id"]
    assert second["documents"][0]["duplicate"] is True
    listed = (await client.get(f"{API}/bases/{base['id']}/documents", headers=owner.headers)).json()
    assert listed["total"] == 1


async def test_unsupported_files_are_refused_with_the_accepted_list(client: AsyncClient) -> None:
    owner = await register(client)
    base = await _base(client, owner)
    response = await _upload(client, owner, base["id"], ("tool.exe", b"MZ\x90\x00", "application/octet-stream"))
    assert response.status_code == 415
    assert ".pdf" in response.json()["error"]["details"]["accepted"]
    listed = (await client.get(f"{API}/bases/{base['id']}/documents", headers=owner.headers)).json()
    assert listed["total"] == 0


async def test_hostile_files_fail_with_a_reason_and_the_rest_carry_on(client: AsyncClient, drain: Drain) -> None:
    owner = await register(client)
    base = await _base(client, owner)
    response = await _upload(
        client,
        owner,
        base["id"],
        ("../../etc/passwd.txt", b"Harmless text about opening hours.", "text/plain"),
        ("garbage.txt", bytes(range(256)) * 4, "text/plain"),
        ("broken.pdf", b"%PDF-1.7 not really a pdf", "application/pdf"),
    )
    assert response.status_code == 202, response.text
    good, garbage, broken = response.json()["documents"]
    assert good["filename"] == "passwd.txt"
    await drain()
    states = {
        d["id"]: (await client.get(f"{API}/documents/{d['id']}", headers=owner.headers)).json()
        for d in (good, garbage, broken)
    }
    assert states[good["id"]]["status"] == "ready"
    assert states[garbage["id"]]["status"] == "failed" and "not text" in states[garbage["id"]]["error"]
    assert states[broken["id"]]["status"] == "failed" and states[broken["id"]]["error"]


async def test_names_and_titles_lose_control_and_bidi_override_characters(client: AsyncClient) -> None:
    owner = await register(client)
    base = await _base(client, owner, name="Sa\u2066lon\u2069 FAQ\u202e")
    assert base["name"] == "Salon FAQ"
    uploaded = await _upload(client, owner, base["id"], ("price\u202elist\u200b.txt", b"Prices.", "text/plain"))
    assert uploaded.json()["documents"][0]["filename"] == "pricelist.txt"
    assert uploaded.json()["documents"][0]["title"] == "pricelist.txt"
    titled = await client.post(
        f"{API}/bases/{base['id']}/documents",
        json={"title": "Menu\u202e\u2028", "text": "Soup."},
        headers=owner.headers,
    )
    assert titled.json()["title"] == "Menu"
    # A name made only of hidden characters is no name.
    assert (await client.post(f"{API}/bases", json={"name": "\u202e\u200b"}, headers=owner.headers)).status_code == 422
    empty_title = {"title": "\u202e", "text": "Soup."}
    refused = await client.post(f"{API}/bases/{base['id']}/documents", json=empty_title, headers=owner.headers)
    assert refused.status_code == 422


async def test_documents_from_text_reprocess_and_delete(client: AsyncClient, drain: Drain) -> None:
    owner = await register(client)
    base = await _base(client, owner)
    created = await client.post(
        f"{API}/bases/{base['id']}/documents", json={"title": "Hours", "text": "Open daily."}, headers=owner.headers
    )
    assert created.status_code == 202
    document_id = created.json()["id"]
    await drain()
    again = await client.post(f"{API}/documents/{document_id}/reprocess", headers=owner.headers)
    assert again.status_code == 202 and again.json()["status"] == "pending"
    await drain()
    done = (await client.get(f"{API}/documents/{document_id}", headers=owner.headers)).json()
    assert done["status"] == "ready" and done["chunk_count"] == 1
    assert (await client.delete(f"{API}/documents/{document_id}", headers=owner.headers)).status_code == 204
    assert (await client.get(f"{API}/documents/{document_id}", headers=owner.headers)).status_code == 404
    assert (await client.get(f"{API}/documents/{document_id}/chunks", headers=owner.headers)).status_code == 404


async def test_statistics_of_a_base_and_of_the_tenant(client: AsyncClient, drain: Drain) -> None:
    owner = await register(client)
    base = await _base(client, owner)
    await _upload(
        client, owner, base["id"], ("a.txt", b"Alpha text.", "text/plain"), ("b.txt", b"\x00\x01binary", "text/plain")
    )
    await drain()
    stats = (await client.get(f"{API}/bases/{base['id']}/statistics", headers=owner.headers)).json()
    assert stats["documents"] == 2
    assert stats["documents_by_status"] == {"pending": 0, "processing": 0, "ready": 1, "failed": 1}
    assert stats["chunks"] == 1 and stats["tokens"] > 0
    assert stats["storage_bytes"] == len(b"Alpha text.") + len(b"\x00\x01binary")
    assert stats["last_ingested_at"] is not None
    tenant = (await client.get(f"/api/v1/tenants/{owner.tenant_id}/statistics", headers=owner.headers)).json()
    assert tenant["usage"]["knowledge_bases"]["used"] == 1
    assert tenant["usage"]["documents"]["used"] == 2
    assert tenant["usage"]["storage_bytes"]["used"] == stats["storage_bytes"]


async def test_changing_the_chunking_reprocesses_every_document(client: AsyncClient, drain: Drain) -> None:
    owner = await register(client)
    base = await _base(client, owner, chunk_size=400, chunk_overlap=0)
    text = " ".join(f"word{i}" for i in range(600))
    created = await client.post(
        f"{API}/bases/{base['id']}/documents", json={"title": "Long", "text": text}, headers=owner.headers
    )
    await drain()
    before = (await client.get(f"{API}/documents/{created.json()['id']}", headers=owner.headers)).json()["chunk_count"]
    await client.put(f"{API}/bases/{base['id']}", json={"chunk_size": 100, "chunk_overlap": 10}, headers=owner.headers)
    await drain()
    after = (await client.get(f"{API}/documents/{created.json()['id']}", headers=owner.headers)).json()
    assert after["status"] == "ready" and after["chunk_count"] > before


async def test_foreign_and_unknown_ids_are_404(client: AsyncClient) -> None:
    owner, other = await register(client), await register(client)
    base = await _base(client, owner)
    for path in (f"{API}/bases/{base['id']}", f"{API}/bases/{uuid.uuid4()}", f"{API}/documents/{uuid.uuid4()}"):
        assert (await client.get(path, headers=other.headers)).status_code == 404


async def test_default_chunking_fits_the_embedding_model(client: AsyncClient) -> None:
    owner = await register(client)
    base = await _base(client, owner)
    assert (base["chunk_size"], base["chunk_overlap"]) == (256, 38)  # the offline model embeds 256 tokens
    custom = await _base(client, owner, chunk_size=120)
    assert (custom["chunk_size"], custom["chunk_overlap"]) == (120, 18)


# --- no database connection held while a query is embedded ----------------------------------------------------------


@pytest.fixture(scope="module")
def committing_database_url(postgres: EmbeddedPostgres) -> str:
    """A database of this module's own: the pool test's app commits, as a running server does."""
    return own_database(postgres, "vocalis_search_pool")


async def test_embedding_a_query_holds_no_database_connection(committing_database_url: str, settings: Settings) -> None:
    """Searches waiting on an embeddings API that has not answered leave the pool (two connections) free for
    everyone else, and get their answer once it does."""
    held = Held(OpenAIStandIn(STANDIN_KEY).app)
    with serve(held) as url:
        embedding = settings.model_copy(update={"openai_api_key": STANDIN_KEY, "openai_base_url": f"{url}/v1"})
        async with small_pool_client(committing_database_url, embedding) as (api, database):
            owners = [await register(api) for _ in range(3)]
            for owner in owners:
                await _base(api, owner, embedding={"provider": "openai"})
            searches = [
                asyncio.create_task(api.post(f"{API}/search", json={"query": "opening hours"}, headers=owner.headers))
                for owner in owners
            ]
            try:
                await held.arrived(len(searches))  # every search is now waiting on the embeddings API
                assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
                bystander = await register(api)
                assert (await api.get(f"{API}/bases", headers=bystander.headers)).status_code == 200
                assert not any(task.done() for task in searches)
            finally:
                held.release.set()
            for response in await asyncio.gather(*searches):
                assert response.status_code == 200, response.text
                assert response.json()["results"] == []


async def test_a_failing_embeddings_api_is_a_provider_error(client: AsyncClient, settings: Settings) -> None:
    settings.openai_api_key = STANDIN_KEY
    settings.openai_base_url = "http://127.0.0.1:9/v1"  # nothing listens on port 9
    owner = await register(client)
    await _base(client, owner, embedding={"provider": "openai"})
    response = await client.post(f"{API}/search", json={"query": "opening hours"}, headers=owner.headers)
    error = assert_error(response, 502, "provider_error")
    assert error["details"] == {"provider": "openai", "model": "text-embedding-3-small"}
    keyword = await client.post(f"{API}/search", json={"query": "hours", "mode": "keyword"}, headers=owner.headers)
    assert keyword.status_code == 200, keyword.text  # a keyword search embeds nothing
