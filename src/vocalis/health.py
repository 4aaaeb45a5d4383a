from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from vocalis.kit.db import Database

router = APIRouter(prefix="/health", tags=["health"])


class Health(BaseModel):
    status: str
    database: str | None = None


@router.get("/live", summary="The process is up", response_model=Health)
async def live() -> Health:
    return Health(status="ok")


@router.get(
    "/ready",
    summary="The platform can serve requests (the database answers)",
    response_model=Health,
    responses={503: {"model": Health, "description": "The database does not answer"}},
)
async def ready(request: Request) -> Health | JSONResponse:
    database: Database = request.app.state.database
    try:
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse(Health(status="unavailable", database="unreachable").model_dump(), status_code=503)
    return Health(status="ok", database="ok")
