"""The `vocalis` command: serve, worker, migrate, create-superuser."""

import argparse
import asyncio
import getpass
import os
import sys

from loguru import logger
from pydantic import ValidationError

from vocalis import __version__
from vocalis.config import InsecureSecretKey, Settings
from vocalis.database import DatabaseNotReady, database_url, migrate
from vocalis.kit.logging import configure_logging
from vocalis.kit.sentry import init_sentry
from vocalis.users.schemas import UserCreate


def _serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    from vocalis.app import create_app
    from vocalis.voice.transports.browser import MAX_AUDIO_FRAME_BYTES

    if settings.environment == "production" and settings.public_base_url is None:
        logger.warning("VOCALIS_PUBLIC_BASE_URL is unset: web-call URLs are built from each request's Host header")
    if args.proxy_headers:
        raise SystemExit("--proxy-headers is replaced by VOCALIS_TRUSTED_PROXIES (the proxies' addresses or networks)")
    if args.no_worker:
        settings = settings.model_copy(update={"run_worker": False})
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_config=None,
        # The app believes X-Forwarded-* from VOCALIS_TRUSTED_PROXIES only; uvicorn's own handling stays off.
        proxy_headers=False,
        # Call audio is PCM that barely compresses; deflating every frame costs CPU on the event loop.
        ws_per_message_deflate=False,
        # No client message is larger than a second of audio: uvicorn would otherwise buffer up to 16 MiB of one.
        ws_max_size=MAX_AUDIO_FRAME_BYTES,
    )


def _worker(settings: Settings, _: argparse.Namespace) -> None:
    asyncio.run(_run_worker(settings))


async def _run_worker(settings: Settings) -> None:
    from vocalis.app import JOB_REGISTRARS
    from vocalis.database import check_ready
    from vocalis.kit.db import Database
    from vocalis.kit.jobs import Jobs, WorkerContext
    from vocalis.kit.storage import LocalStorage

    with database_url(settings) as url:
        database = Database.connect(url)
        try:
            await check_ready(database.engine)
            jobs = Jobs.for_database(url, JOB_REGISTRARS)
            worker = WorkerContext(database, LocalStorage(settings.files_dir), settings)
            logger.info("Vocalis worker started")
            async with jobs.app.open_async():
                await jobs.run_worker(worker, settings.worker_concurrency)
        finally:
            await database.dispose()


def _migrate(settings: Settings, _: argparse.Namespace) -> None:
    with database_url(settings) as url:
        migrate(url)
    logger.info("Database schema is up to date")


# A password on the command line would be seen by every user of the machine (ps) and kept in shell histories.
SUPERUSER_PASSWORD_VARIABLE = "VOCALIS_SUPERUSER_PASSWORD"


def _superuser_password() -> str:
    """From the environment, else typed at a terminal (not echoed), else the first line of standard input."""
    password = os.environ.get(SUPERUSER_PASSWORD_VARIABLE)
    if password:
        return password
    if sys.stdin.isatty():
        return getpass.getpass("Password: ")
    return sys.stdin.readline().rstrip("\r\n")


def _create_superuser(settings: Settings, args: argparse.Namespace) -> None:
    if args.password is not None:
        raise SystemExit(
            "--password is not accepted (the command line is visible to other users): "
            f"set {SUPERUSER_PASSWORD_VARIABLE}, type it when asked, or pipe it to standard input"
        )
    email = args.email or input("Email: ")
    username = args.username or input("Username: ")
    password = _superuser_password()
    try:
        owner = UserCreate(email=email, username=username, password=password)
    except ValidationError as exc:
        raise SystemExit(f"Invalid superuser: {exc}") from exc
    asyncio.run(_add_superuser(settings, owner, args.tenant_name))


async def _add_superuser(settings: Settings, owner: UserCreate, tenant_name: str) -> None:
    from vocalis.database import check_ready
    from vocalis.kit.db import ALL_TENANTS, Database
    from vocalis.tenants import service as tenants

    with database_url(settings) as url:
        database = Database.connect(url)
        try:
            await check_ready(database.engine)
            async with database.transaction(ALL_TENANTS) as session:
                tenant, user = await tenants.create_with_owner(
                    session, name=tenant_name, owner=owner, plan="enterprise", super_admin=True
                )
                logger.info("Created super admin {} in tenant {} ({})", user.email, tenant.name, tenant.id)
        finally:
            await database.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="vocalis", description="Vocalis voice agent platform")
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="Serve the API (with the embedded database unless one is configured)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--proxy-headers", action="store_true", help=argparse.SUPPRESS)  # refused, see _serve
    serve.add_argument("--no-worker", action="store_true", help="Run no job worker here (run `vocalis worker`)")
    serve.set_defaults(handler=_serve)

    commands.add_parser("worker", help="Run a job worker (document ingestion...)").set_defaults(handler=_worker)

    commands.add_parser("migrate", help="Create or upgrade the database schema").set_defaults(handler=_migrate)

    superuser = commands.add_parser("create-superuser", help="Create a platform super admin")
    superuser.add_argument("--email")
    superuser.add_argument("--username")
    # Kept only to refuse it with a message that says what to do instead.
    superuser.add_argument("--password", help=argparse.SUPPRESS)
    superuser.add_argument("--tenant-name", default="Platform administration")
    superuser.set_defaults(handler=_create_superuser)

    args = parser.parse_args(argv)
    # What the platform writes (the embedded database, uploaded files, recordings, logs, the secret key) is readable by
    # its own user only: files 0600, directories 0700, whoever creates them (our code, pgserver, loguru).
    os.umask(0o077)
    try:
        settings = Settings()
    except ValidationError as exc:
        raise SystemExit(f"Invalid settings: {exc}") from None
    configure_logging(settings.log_level, json=settings.log_json, log_dir=settings.data_dir / "logs")
    init_sentry(settings.sentry_dsn, settings.environment, __version__)
    try:
        _ = settings.signing_key  # generated or checked now: a weak key stops the start, not the first login
        args.handler(settings, args)
    except InsecureSecretKey as exc:
        logger.error(str(exc))
        sys.exit(1)
    except DatabaseNotReady as exc:
        logger.error(str(exc))
        sys.exit(1)
    except Exception as exc:  # a conflict or quota error from the services, said plainly
        from vocalis.kit.errors import AppError

        if isinstance(exc, AppError):
            logger.error(exc.message)
            sys.exit(1)
        raise


if __name__ == "__main__":
    main()
