"""The set-up contract end to end: `vocalis migrate`, `create-superuser` and `serve` on a fresh data dir."""

import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

VOCALIS = [sys.executable, "-m", "vocalis.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh data dir; its embedded PostgreSQL stops with the last vocalis process that used it."""
    return tmp_path_factory.mktemp("cli") / "data"


@pytest.fixture(scope="module")
def env(data_dir: Path) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("VOCALIS_")}
    environment.update({"VOCALIS_DATA_DIR": str(data_dir), "VOCALIS_LOG_LEVEL": "WARNING"})
    return environment


def _run(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run `vocalis`; standard input is always a pipe (`stdin`), never the terminal pytest runs in."""
    return subprocess.run(
        [*VOCALIS, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def test_migrate_then_serve_then_create_superuser(env: dict[str, str], data_dir: Path) -> None:
    migrated = _run(env, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert (data_dir / "postgres" / "PG_VERSION").exists()

    port = _free_port()
    server = subprocess.Popen(
        [*VOCALIS, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.2)

        assert httpx.get(f"{base}/health/live").json()["status"] == "ok"
        assert "swagger" in httpx.get(f"{base}/docs").text.lower()

        # A common password is refused by the same rule as the API's.
        common = _run(env, "create-superuser", "--email", "root@example.com", "--username", "root", stdin="password\n")
        assert common.returncode == 1
        assert "most common" in common.stderr

        # The password comes from standard input, never from the command line.
        created = _run(
            env, "create-superuser", "--email", "root@example.com", "--username", "root", stdin="Sup3r-secret\n"
        )
        assert created.returncode == 0, created.stderr
        login = httpx.post(f"{base}/api/v1/auth/login", json={"email": "root@example.com", "password": "Sup3r-secret"})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        tenants = httpx.get(f"{base}/api/v1/tenants/", headers=headers)
        assert tenants.status_code == 200, tenants.text
        assert tenants.json()["total"] == 1

        # ... or from the environment.
        again = _run(
            {**env, "VOCALIS_SUPERUSER_PASSWORD": "Sup3r-secret"},
            "create-superuser",
            "--email",
            "root@example.com",
            "--username",
            "root2",
        )
        assert again.returncode == 1
        assert "already exists" in again.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)

    key_file = data_dir / "secret_key"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert (data_dir / "logs" / "vocalis.log").exists()
    # Nothing the processes wrote (database, logs, key) is open to other users of the machine. (As root, pgserver runs
    # PostgreSQL as its own user and opens the folders above the database to traversal: the data dir itself.)
    written = [*data_dir.rglob("*")] if os.geteuid() == 0 else [data_dir, *data_dir.rglob("*")]
    modes = {path: path.lstat().st_mode for path in written}
    exposed = [
        f"{path} {stat.filemode(mode)}"
        for path, mode in modes.items()
        if not (stat.S_ISLNK(mode) or stat.S_ISSOCK(mode)) and stat.S_IMODE(mode) & 0o077
    ]
    assert not exposed


def _wait_for(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.2)


def _ingest_and_search(base: str, headers: dict[str, str]) -> str:
    """Upload a file to the running server and wait for the worker (real procrastinate on PostgreSQL) to index it."""
    kb = httpx.post(f"{base}/api/v1/knowledge/bases", json={"name": "FAQ"}, headers=headers)
    assert kb.status_code == 201, kb.text
    upload = httpx.post(
        f"{base}/api/v1/knowledge/bases/{kb.json()['id']}/documents/upload",
        files=[("files", ("faq.txt", b"We open at nine on Saturdays. Parking is free.", "text/plain"))],
        headers=headers,
    )
    assert upload.status_code == 202, upload.text
    document_id: str = upload.json()["documents"][0]["id"]

    def ready() -> bool:
        status = httpx.get(f"{base}/api/v1/knowledge/documents/{document_id}", headers=headers).json()["status"]
        assert status != "failed"
        return bool(status == "ready")

    _wait_for(ready)
    hits = httpx.post(f"{base}/api/v1/knowledge/search", json={"query": "saturday opening"}, headers=headers).json()
    assert "nine" in hits["results"][0]["content"]
    return document_id


def _start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*VOCALIS, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_separate_worker_ingests_for_a_server_without_one(env: dict[str, str], tmp_path: Path) -> None:
    environment = {**env, "VOCALIS_DATA_DIR": str(tmp_path / "data")}
    assert _run(environment, "migrate").returncode == 0
    port = _free_port()
    server = _start(environment, "serve", "--no-worker", "--port", str(port))
    worker: subprocess.Popen[str] | None = None
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(lambda: _answers(f"{base}/health/ready"))
        httpx.post(
            f"{base}/api/v1/auth/register",
            json={"email": "w@example.com", "username": "worker", "password": "Worker-pass-1"},
        )
        token = httpx.post(f"{base}/api/v1/auth/login", json={"email": "w@example.com", "password": "Worker-pass-1"})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        kb = httpx.post(f"{base}/api/v1/knowledge/bases", json={"name": "Later"}, headers=headers).json()
        upload = httpx.post(
            f"{base}/api/v1/knowledge/bases/{kb['id']}/documents/upload",
            files=[("files", ("a.txt", b"Waiting for a worker.", "text/plain"))],
            headers=headers,
        ).json()
        document = f"{base}/api/v1/knowledge/documents/{upload['documents'][0]['id']}"
        time.sleep(1)  # nothing may pick the job up: the server runs no worker
        assert httpx.get(document, headers=headers).json()["status"] == "pending"

        worker = _start(environment, "worker")
        _wait_for(lambda: httpx.get(document, headers=headers).json()["status"] == "ready")
    finally:
        for process in (worker, server):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_create_superuser_rejects_a_weak_password(env: dict[str, str]) -> None:
    result = _run(env, "create-superuser", "--email", "a@example.com", "--username", "abc", stdin="short\n")
    assert result.returncode != 0
    assert "Invalid superuser" in result.stderr


def test_create_superuser_refuses_a_password_on_the_command_line(env: dict[str, str]) -> None:
    result = _run(
        env, "create-superuser", "--email", "a@example.com", "--username", "abc", "--password", "Sup3r-secret"
    )
    assert result.returncode != 0
    assert "--password is not accepted" in result.stderr
    assert "VOCALIS_SUPERUSER_PASSWORD" in result.stderr


@pytest.mark.parametrize("secret", ["changeme", "x" * 40, ""])
def test_a_weak_secret_key_stops_the_start(env: dict[str, str], secret: str) -> None:
    result = _run({**env, "VOCALIS_SECRET_KEY": secret}, "serve")
    assert result.returncode == 1
    assert "The secret key (VOCALIS_SECRET_KEY)" in result.stderr


def test_serve_points_from_proxy_headers_to_trusted_proxies(env: dict[str, str]) -> None:
    result = _run(env, "serve", "--proxy-headers")
    assert result.returncode != 0
    assert "VOCALIS_TRUSTED_PROXIES" in result.stderr


def test_serve_refuses_an_unmigrated_external_database(env: dict[str, str], tmp_path: Path) -> None:
    # The machine's PostgreSQL has no Vocalis schema (and usually no pgvector): start-up must say so and stop.
    environment = {**env, "VOCALIS_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test"}
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            pass
    except OSError:
        pytest.skip("the machine's PostgreSQL is not running")
    result = subprocess.run(
        [*VOCALIS, "serve", "--port", str(_free_port())],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "lacks the 'vector' extension" in result.stderr or "run `vocalis migrate`" in result.stderr


def test_serve_caps_websocket_messages_at_one_second_of_audio(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import argparse
    from typing import Any

    import uvicorn

    from vocalis import cli
    from vocalis.config import Settings
    from vocalis.voice.transports.browser import MAX_AUDIO_FRAME_BYTES

    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda _app, **options: served.update(options))
    arguments = argparse.Namespace(host="127.0.0.1", port=8000, proxy_headers=False, no_worker=False)
    cli._serve(Settings(environment="test", data_dir=tmp_path), arguments)
    assert served["ws_max_size"] == MAX_AUDIO_FRAME_BYTES == 32_000
