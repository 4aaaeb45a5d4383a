"""The application factory: routers, middleware, error handlers and the lifespan (database, rate limiter)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import APIRouter, FastAPI
from loguru import logger

from vocalis import __version__
from vocalis.auth.endpoints import router as auth_router
from vocalis.config import Settings
from vocalis.database import check_ready, database_url
from vocalis.health import router as health_router
from vocalis.kit.db import Database
from vocalis.kit.errors import ERROR_RESPONSES, install_error_handlers
from vocalis.kit.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from vocalis.kit.ratelimit import RateLimiter
from vocalis.tenants.endpoints import router as tenants_router
from vocalis.users.endpoints import router as users_router


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    """Build the app. With `database` given (tests), the caller owns it; otherwise the lifespan opens and closes it."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if database is not None:
            app.state.database = database
            yield
            return
        # Starting and stopping the embedded PostgreSQL block, so they run in a thread.
        database_context = database_url(settings)
        url = await to_thread.run_sync(database_context.__enter__)
        owned = Database.connect(url)
        try:
            await check_ready(owned.engine)
            app.state.database = owned
            logger.info("Vocalis {} ready ({})", __version__, settings.environment)
            yield
        finally:
            await owned.dispose()
            await to_thread.run_sync(database_context.__exit__, None, None, None)

    app = FastAPI(
        title="Vocalis",
        version=__version__,
        description="Self-hostable, multi-tenant AI voice agent platform.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.limiter = RateLimiter(settings.redis_url)
    if database is not None:
        app.state.database = database

    api = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
    for router in (auth_router, users_router, tenants_router):
        api.include_router(router)
    app.include_router(api)
    app.include_router(health_router)

    install_error_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(RequestContextMiddleware)
    return app
