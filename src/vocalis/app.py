"""The application factory: routers, middleware, error handlers, offline API docs, and the lifespan (the database,
embedded or not; the job queue and worker; the principal-cache listener; the Piper server; model preloading)."""

import gc
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from anyio import to_thread
from fastapi import APIRouter, FastAPI
from loguru import logger
from procrastinate.testing import InMemoryConnector
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from vocalis import __version__
from vocalis.agents.endpoints import router as agents_router
from vocalis.auth import cache as auth_cache
from vocalis.auth.endpoints import router as auth_router
from vocalis.calls.endpoints import router as calls_router
from vocalis.calls.tasks import register as register_call_jobs
from vocalis.config import Settings
from vocalis.credentials.endpoints import router as credentials_router
from vocalis.database import check_ready, database_url
from vocalis.health import router as health_router
from vocalis.kit.background import running
from vocalis.kit.db import Database, libpq_url
from vocalis.kit.docs import install_docs
from vocalis.kit.errors import ERROR_RESPONSES, install_error_handlers
from vocalis.kit.jobs import Jobs, WorkerContext
from vocalis.kit.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from vocalis.kit.ratelimit import RateLimiter
from vocalis.kit.storage import LocalStorage
from vocalis.knowledge.endpoints import router as knowledge_router
from vocalis.knowledge.tasks import register as register_knowledge_jobs
from vocalis.tenants.endpoints import router as tenants_router
from vocalis.tenants.endpoints import signup_router
from vocalis.users.endpoints import router as users_router
from vocalis.voice.providers.piper import stop_shared_piper_server
from vocalis.voice.stack import offline_services, preload

# Every domain's job registrar.
JOB_REGISTRARS = (register_knowledge_jobs, register_call_jobs)


@asynccontextmanager
async def _database_url(settings: Settings) -> AsyncIterator[str]:
    # Starting and stopping the embedded PostgreSQL block, so they run in a thread.
    context = database_url(settings)
    url = await to_thread.run_sync(context.__enter__)
    try:
        yield url
    finally:
        await to_thread.run_sync(context.__exit__, None, None, None)


def create_app(settings: Settings | None = None, database: Database | None = None, jobs: Jobs | None = None) -> FastAPI:
    """Build the app. With `database` given (tests), the caller owns it and jobs stay in memory unless `jobs` is
    given; otherwise the lifespan opens the database and the job queue, and runs the worker unless turned off."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _ = settings.signing_key  # a weak secret key stops the start (InsecureSecretKey), not the first login
        async with AsyncExitStack() as stack:
            if database is None:
                url = await stack.enter_async_context(_database_url(settings))
                owned = Database.connect(url)
                stack.push_async_callback(owned.dispose)
                await check_ready(owned.engine)
                app.state.database = owned
                app.state.jobs = Jobs.for_database(url, JOB_REGISTRARS)
                if settings.auth_cache_seconds > 0:
                    listener = auth_cache.listen(libpq_url(url), app.state.auth_cache)
                    await stack.enter_async_context(running(listener))
            await stack.enter_async_context(app.state.jobs.app.open_async())
            if settings.run_worker:
                worker = WorkerContext(app.state.database, app.state.storage, settings)
                await stack.enter_async_context(app.state.jobs.worker(worker, settings.worker_concurrency))
            # Piper runs as a child process for the whole app; the offline models load in the background.
            stack.push_async_callback(stop_shared_piper_server)
            if settings.preload_voice_models:
                await stack.enter_async_context(running(preload(settings)))
            # What is loaded by now lives as long as the process. Frozen, it is skipped by the collector's full passes,
            # which otherwise stalled the event loop (and every live call's audio) for ~200 ms at a time.
            gc.collect()
            gc.freeze()
            logger.info("Vocalis {} ready ({})", __version__, settings.environment)
            yield

    app = FastAPI(
        title="Vocalis",
        version=__version__,
        description="Self-hostable, multi-tenant AI voice agent platform.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.limiter = RateLimiter(settings.redis_url)
    app.state.auth_cache = auth_cache.PrincipalCache()
    app.state.storage = LocalStorage(settings.files_dir)
    app.state.call_services = offline_services
    if database is not None:
        app.state.database = database
        app.state.jobs = jobs or Jobs(InMemoryConnector(), JOB_REGISTRARS)

    api = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
    for router in (
        signup_router,
        auth_router,
        users_router,
        tenants_router,
        knowledge_router,
        credentials_router,
        agents_router,
        calls_router,
    ):
        api.include_router(router)
    app.include_router(api)
    app.include_router(health_router)
    install_docs(app)

    install_error_handlers(app)
    upload_bytes = settings.max_upload_file_bytes * settings.max_upload_files + settings.max_request_bytes
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_request_bytes,
        larger_bodies={"/documents/upload": upload_bytes},
    )
    app.add_middleware(RequestContextMiddleware)
    if settings.trusted_proxies:
        # Outermost, so every layer (rate limits, audit, sessions) sees the client the trusted proxy reports.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    return app
