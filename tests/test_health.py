from httpx import AsyncClient


async def test_live(client: AsyncClient) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_ready_checks_the_database(client: AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_openapi_documents_every_api_route(client: AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/v1"):
            continue
        for operation in operations.values():
            assert operation.get("summary"), f"{path} has no summary"
            assert "401" in operation["responses"] and "422" in operation["responses"], path
