"""API overhead benchmark: `GET /api/v1/auth/me` against a bare FastAPI route, and the cost of a login.

    python -m benchmarks.api [--duration S] [--warmup S] [--connections N] [--rounds N] [--logins N] [--log-level L]
                             [--path P] [--without-rls]

`--path` picks the authenticated GET route under load: `/api/v1/auth/me` (the default) is answered from the
in-process principal cache; `/api/v1/agents` reads the database on every request (row-level security included).
`--without-rls` disables row-level security on every table of the temporary database after migrating (the app still
names its tenant per transaction): run with and without it to measure what the policies cost.

Both servers run as their own single uvicorn process on 127.0.0.1: the platform with `vocalis serve` against the
embedded PostgreSQL of a temporary data dir (migrated with `vocalis migrate` first), the baseline with the bare route
of `benchmarks._bare_app`. A load generator in a third process (`benchmarks._load`) keeps N keep-alive connections
busy against each target in turn, `--rounds` times, alternating which goes first; the table shows the medians.
Logins are timed one after another, and the platform process's CPU time (all its threads, password hashing included)
is read before and after them.

Goals: the authenticated route reaches at least half of the bare route's throughput, and a login costs the server
under 50 ms of CPU.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import psutil
import uvicorn

from benchmarks._machine import load_average

REPO_ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
ME_PATH = "/api/v1/auth/me"
BARE_PATH = "/bare"
RATIO_GOAL = 0.5
LOGIN_CPU_GOAL_MS = 50.0
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0

EMAIL = "bench-user@example.com"
PASSWORD = "bench-password-123"


@dataclass(frozen=True)
class LoadResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    server_cpu_us: float  # server CPU per request, warm-up included
    db_cpu_us: float  # PostgreSQL CPU per request (all its processes), warm-up included


@dataclass(frozen=True)
class LoginResult:
    count: int
    p50_ms: float
    p99_ms: float
    server_cpu_ms: float
    db_cpu_ms: float


@dataclass
class Server:
    name: str
    process: "subprocess.Popen[bytes]"
    port: int
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.api", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per target per round")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each measured run")
    parser.add_argument("--connections", type=int, default=16, help="concurrent keep-alive connections")
    parser.add_argument("--rounds", type=int, default=3, help="measured runs per target; medians are reported")
    parser.add_argument("--logins", type=int, default=30, help="sequential logins timed")
    parser.add_argument("--log-level", default="INFO", help="VOCALIS_LOG_LEVEL of the platform (its default: INFO)")
    parser.add_argument("--path", default=ME_PATH, help="the authenticated GET route under load")
    parser.add_argument("--without-rls", action="store_true", help="disable row-level security (to measure it)")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.warmup < 0 or args.connections < 1 or args.rounds < 1 or args.logins < 1:
        parser.error("--duration must be > 0, --warmup >= 0, --connections, --rounds and --logins >= 1")
    return args


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def vocalis_command(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("vocalis")
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-m", "vocalis.cli", *args]


def platform_env(data_dir: Path, log_level: str) -> dict[str, str]:
    """The environment of the platform: defaults, except the data dir, the log level and the per-address login
    limit (30/minute by default, which the timed logins would exceed)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("VOCALIS_")}
    env.update(
        VOCALIS_DATA_DIR=str(data_dir),
        VOCALIS_LOG_LEVEL=log_level,
        VOCALIS_LOGIN_LIMIT_PER_ADDRESS="1000000/minute",
    )
    return env


def start_server(name: str, command: list[str], port: int, env: dict[str, str], cwd: Path, log_dir: Path) -> Server:
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    return Server(name, process, port, log_path)


def wait_until_ready(server: Server, path: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    url = f"http://{HOST}:{server.port}{path}"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} did not answer {path} within {START_TIMEOUT_S:.0f} s:\n{server.log_tail()}")


def stop_server(server: Server) -> None:
    """SIGTERM (uvicorn shuts down gracefully; the platform's lifespan then stops the embedded PostgreSQL),
    SIGKILL when that takes too long (`stop_postgres` then stops the database)."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


def postmaster_pid(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def stop_postgres(pgdata: Path) -> None:
    """Stop the embedded PostgreSQL if its server was killed before it could stop it."""
    pid = postmaster_pid(pgdata)
    if pid is None or not psutil.pid_exists(pid):
        return
    try:
        process = psutil.Process(pid)
        if str(pgdata) not in " ".join(process.cmdline()):
            return  # a stale postmaster.pid; the pid now belongs to someone else
        process.send_signal(signal.SIGINT)  # PostgreSQL's "fast" shutdown
        process.wait(STOP_TIMEOUT_S)
    except psutil.TimeoutExpired:
        process.kill()
    except psutil.Error:
        pass


def cpu_seconds(process: Any) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


class CpuMeter:
    """CPU time used by the platform process and by the embedded PostgreSQL (postmaster and all backends)."""

    def __init__(self, server_pid: int, pgdata: Path) -> None:
        self.server = psutil.Process(server_pid)
        pid = postmaster_pid(pgdata)
        self.postmaster = psutil.Process(pid) if pid is not None else None

    def sample(self) -> tuple[float, dict[int, float]]:
        database: dict[int, float] = {}
        if self.postmaster is not None:
            for process in [self.postmaster, *self.postmaster.children(recursive=True)]:
                with suppress(psutil.Error):  # exited meanwhile
                    database[process.pid] = cpu_seconds(process)
        return cpu_seconds(self.server), database

    @staticmethod
    def used(before: tuple[float, dict[int, float]], after: tuple[float, dict[int, float]]) -> tuple[float, float]:
        """(server, database) CPU seconds between two samples; backends that started in between count fully."""
        database = sum(seconds - before[1].get(pid, 0.0) for pid, seconds in after[1].items())
        return after[0] - before[0], database


def run_load(port: int, path: str, headers: dict[str, str], args: argparse.Namespace, meter: CpuMeter) -> LoadResult:
    config = {
        "host": HOST,
        "port": port,
        "path": path,
        "headers": headers,
        "connections": args.connections,
        "duration": args.duration,
        "warmup": args.warmup,
    }
    before = meter.sample()
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks._load"],
        input=json.dumps(config),
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=args.warmup + args.duration + 60,
        check=False,
    )
    server_cpu, db_cpu = CpuMeter.used(before, meter.sample())
    if completed.returncode != 0:
        raise RuntimeError(f"The load generator failed on {path}:\n{completed.stderr}")
    result = json.loads(completed.stdout)
    if result["errors"] or not result["requests"]:
        raise RuntimeError(f"{path} answered {result['statuses']} (expected only 200)")
    total = result["total_requests"]
    return LoadResult(
        rps=result["rps"],
        p50_ms=result["p50_ms"],
        p99_ms=result["p99_ms"],
        requests=result["requests"],
        server_cpu_us=server_cpu / total * 1e6,
        db_cpu_us=db_cpu / total * 1e6,
    )


def sign_up(client: httpx.Client) -> str:
    """Register the benchmark user and return an access token."""
    registered = client.post(
        "/api/v1/auth/register",
        json={"email": EMAIL, "username": "bench_user", "password": PASSWORD, "tenant_name": "Benchmark"},
    )
    if registered.status_code != 201:
        raise RuntimeError(f"register answered {registered.status_code}: {registered.text}")
    token: str = login(client)
    me = client.get(ME_PATH, headers={"Authorization": f"Bearer {token}"})
    if me.status_code != 200:
        raise RuntimeError(f"{ME_PATH} answered {me.status_code}: {me.text}")
    return token


def login(client: httpx.Client) -> str:
    response = client.post("/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD})
    if response.status_code != 200:
        raise RuntimeError(f"login answered {response.status_code}: {response.text}")
    token: str = response.json()["access_token"]
    return token


def measure_logins(client: httpx.Client, count: int, meter: CpuMeter) -> LoginResult:
    login(client)  # warm-up
    durations: list[float] = []
    before = meter.sample()
    for _ in range(count):
        started = time.perf_counter()
        login(client)
        durations.append(time.perf_counter() - started)
    server_cpu, db_cpu = CpuMeter.used(before, meter.sample())
    durations.sort()
    return LoginResult(
        count=count,
        p50_ms=statistics.median(durations) * 1000,
        p99_ms=durations[min(len(durations) - 1, round(0.99 * len(durations)) - 1)] * 1000,
        server_cpu_ms=server_cpu / count * 1000,
        db_cpu_ms=db_cpu / count * 1000,
    )


def median_result(results: list[LoadResult]) -> LoadResult:
    return LoadResult(
        rps=statistics.median(r.rps for r in results),
        p50_ms=statistics.median(r.p50_ms for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results),
        requests=sum(r.requests for r in results),
        server_cpu_us=statistics.median(r.server_cpu_us for r in results),
        db_cpu_us=statistics.median(r.db_cpu_us for r in results),
    )


def implementations() -> str:
    parts = []
    for module, fallback in (("uvloop", "asyncio"), ("httptools", "h11")):
        try:
            __import__(module)
            parts.append(module)
        except ImportError:
            parts.append(fallback)
    return f"uvicorn {uvicorn.__version__} ({', '.join(parts)})"


def report(
    args: argparse.Namespace, bare: list[LoadResult], me: list[LoadResult], logins: LoginResult, load_before: str
) -> str:
    bare_median, me_median = median_result(bare), median_result(me)
    ratio = me_median.rps / bare_median.rps
    lines = [
        f"Vocalis API benchmark on {os.cpu_count()} CPUs ({platform.machine()}, {platform.system()} "
        f"{platform.release()}), Python {platform.python_version()}, {implementations()}",
        f"Load average (1, 5, 15 min) before: {load_before}, after: {load_average()} "
        "(other work on the machine skews the figures)",
        f"Servers: one uvicorn process each on {HOST}; platform on the embedded PostgreSQL, "
        f"log level {args.log_level.upper()}",
        f"Load: {args.connections} keep-alive connections, {args.warmup:g} s warm-up + {args.duration:g} s per run, "
        f"{args.rounds} round(s) alternating targets; medians shown",
        "",
        f"{'target':<28}{'rps':>9}{'p50 ms':>9}{'p99 ms':>9}{'server CPU':>13}{'db CPU':>11}",
        f"{'GET /bare (bare FastAPI)':<28}{bare_median.rps:>9.0f}{bare_median.p50_ms:>9.2f}{bare_median.p99_ms:>9.2f}"
        f"{bare_median.server_cpu_us:>10.0f} us{'-':>11}",
        f"{'GET ' + args.path:<28}{me_median.rps:>9.0f}{me_median.p50_ms:>9.2f}{me_median.p99_ms:>9.2f}"
        f"{me_median.server_cpu_us:>10.0f} us{me_median.db_cpu_us:>8.0f} us",
        f"{f'POST login (x{logins.count}, serial)':<28}{'-':>9}{logins.p50_ms:>9.2f}{logins.p99_ms:>9.2f}"
        f"{logins.server_cpu_ms:>10.1f} ms{logins.db_cpu_ms:>8.1f} ms",
        "",
        "rps per round: bare "
        + ", ".join(f"{r.rps:.0f}" for r in bare)
        + "; me "
        + ", ".join(f"{r.rps:.0f}" for r in me),
        "CPU columns: per request, of the server process (all threads) and of the PostgreSQL processes still alive "
        "at the end of a run (connections the pool closed meanwhile are missed)",
        "",
        f"{args.path} at {ratio:.2f}x bare throughput"
        + (f" (goal >= {RATIO_GOAL}: {'met' if ratio >= RATIO_GOAL else 'MISSED'})" if args.path == ME_PATH else "")
        + f"{'' if not args.without_rls else ', row-level security disabled'}; "
        f"login p50 {logins.p50_ms:.0f} ms, {logins.server_cpu_ms:.0f} ms CPU per login "
        f"(goal < {LOGIN_CPU_GOAL_MS:.0f} ms: {'met' if logins.server_cpu_ms < LOGIN_CPU_GOAL_MS else 'MISSED'})",
    ]
    return "\n".join(lines)


@contextmanager
def temporary_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="vocalis-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def disable_row_level_security(pgdata: Path) -> None:
    """The migrated schema without row-level security on any table, as the owner (a superuser) sets it."""
    from sqlalchemy import create_engine, text

    from vocalis.kit.embedded_postgres import EmbeddedPostgres

    server = EmbeddedPostgres(pgdata)
    engine = create_engine(server.start())
    try:
        with engine.begin() as connection:
            tables = connection.scalars(text("SELECT relname FROM pg_class WHERE relrowsecurity AND relkind = 'r'"))
            for table in list(tables):
                connection.execute(text(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY'))
    finally:
        engine.dispose()
        server.stop()


def run(args: argparse.Namespace, out: IO[str]) -> None:
    load_before = load_average()
    with ExitStack() as stack:
        work = stack.enter_context(temporary_dir())
        data_dir = work / "data"
        pgdata = data_dir / "postgres"
        # Registered after the temporary dir, so it runs before the dir is removed.
        stack.callback(stop_postgres, pgdata)
        env = platform_env(data_dir, args.log_level)

        migrated = subprocess.run(
            vocalis_command("migrate"), cwd=work, env=env, capture_output=True, text=True, check=False
        )
        if migrated.returncode != 0:
            raise RuntimeError(f"vocalis migrate failed:\n{migrated.stdout}{migrated.stderr}")
        if args.without_rls:
            disable_row_level_security(pgdata)

        platform_port, bare_port = free_port(), free_port()
        vocalis = start_server(
            "vocalis",
            vocalis_command("serve", "--host", HOST, "--port", str(platform_port)),
            platform_port,
            env,
            work,
            work,
        )
        stack.callback(stop_server, vocalis)
        bare_command = [sys.executable, "-m", "benchmarks._bare_app", "--host", HOST, "--port", str(bare_port)]
        bare_server = start_server("bare", bare_command, bare_port, env, REPO_ROOT, work)
        stack.callback(stop_server, bare_server)
        wait_until_ready(bare_server, BARE_PATH)
        wait_until_ready(vocalis, "/health/ready")

        meter = CpuMeter(vocalis.process.pid, pgdata)
        bare_meter = CpuMeter(bare_server.process.pid, pgdata)
        with httpx.Client(base_url=f"http://{HOST}:{platform_port}", timeout=30.0) as client:
            token = sign_up(client)
            logins = measure_logins(client, args.logins, meter)

        headers = {"Authorization": f"Bearer {token}"}
        bare: list[LoadResult] = []
        me: list[LoadResult] = []
        for round_number in range(args.rounds):
            order = [("bare", BARE_PATH), ("me", args.path)]
            if round_number % 2:
                order.reverse()
            for target, path in order:
                if target == "bare":
                    bare.append(run_load(bare_port, path, {}, args, bare_meter))
                else:
                    me.append(run_load(platform_port, path, headers, args, meter))
        print(report(args, bare, me, logins, load_before), file=out, flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    run(parse_args(argv), sys.stdout)


if __name__ == "__main__":
    main()
