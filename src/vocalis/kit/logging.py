"""Logging through loguru: console, a rotating file under the data dir, JSON on demand, a request id on every line.

Standard-library loggers (uvicorn, SQLAlchemy, alembic...) are routed into loguru, so there is one stream.
"""

import logging
import re
import sys
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING

from loguru import logger

if TYPE_CHECKING:
    from loguru import Record

request_id: ContextVar[str] = ContextVar("request_id", default="-")

_FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> | <level>{level: <8}</level> | "
    "<cyan>{extra[request_id]}</cyan> | <cyan>{name}</cyan> - <level>{message}</level>"
)


class InterceptHandler(logging.Handler):
    """Send standard-library log records to loguru, keeping the original caller."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(depth=6, exception=record.exc_info).log(level, record.getMessage())


# Secrets that travel in query strings (a web call's join token, say) and would otherwise reach the logs with the URL
# (uvicorn logs every WebSocket handshake with its query string).
_SECRET_QUERY = re.compile(r"([?&](?:token|access_token|api_key|key)=)[^&\s\"']+", re.IGNORECASE)


def _patch(record: "Record") -> None:
    record["extra"].setdefault("request_id", request_id.get())
    if "=" in record["message"]:
        record["message"] = _SECRET_QUERY.sub(r"\1[redacted]", record["message"])


def configure_logging(level: str, *, json: bool, log_dir: Path | None) -> None:
    logger.remove()
    logger.configure(patcher=_patch)
    # diagnose=False: loguru would otherwise print the value of every variable in a traceback, secrets included (a
    # web call's join token, a provider key), which no redaction of the message reaches.
    logger.add(
        sys.stderr,
        level=level.upper(),
        serialize=json,
        format=_FORMAT,
        colorize=None if not json else False,
        diagnose=False,
    )
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        logger.add(
            log_dir / "vocalis.log",
            level=level.upper(),
            serialize=json,
            format=_FORMAT,
            rotation="20 MB",
            retention=10,
            colorize=False,
            diagnose=False,
        )
    # Standard-library loggers pass on only what loguru keeps. At level 0 they would build records for every debug
    # call, and uvicorn would wrap the app in its TRACE message logger (about 0.1 ms per request).
    logging.basicConfig(handlers=[InterceptHandler()], level=logger.level(level.upper()).no, force=True)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "fastapi", "alembic", "procrastinate"):
        std_logger = logging.getLogger(name)
        std_logger.handlers = [InterceptHandler()]
        std_logger.propagate = False
    # Our own middleware writes the access line (with the request id), so uvicorn's would be a duplicate.
    logging.getLogger("uvicorn.access").disabled = True
