"""Voice benchmark: voice-to-voice latency on the offline stack, and how many concurrent calls one server carries.

    python -m benchmarks.voice [--turns N] [--levels 5,10,...] [--seconds S] [--quick] [--log-level L]

Everything runs for real: an embedded PostgreSQL in a temporary directory (migrated), the platform served by uvicorn
in a process of its own (`benchmarks._voice_server`: `create_app` with its lifespan and job worker, as `vocalis serve`
runs it), a tenant registered through the API, a knowledge base holding a shop's FAQ (ingested by the server's
worker), agents over it, and web calls over the call WebSocket. The tenant is moved to the "enterprise" plan (no
concurrent-call limit; the free plan allows 3) with `billing.change_plan`, on the database directly.

1. Latency: one web call per offline speech stack (the agent's `stt.model` and `tts.provider`: tiny.en with hibari,
   the default, then base with hibari, then base with Piper), the default offline agent otherwise (Silero VAD, Smart
   Turn v3, extractive responder). A `WebCaller` in this process asks `--turns`
   varied questions (spoken by Piper, silence trimmed, streamed in real time in 20 ms frames) after one warm-up
   question, waiting for each answer to end. Client latency: the last frame of the question sent -> the first agent
   audio frame received. The call's record (GET /api/v1/calls/{id}) gives the server's breakdown of each turn.
2. Density: the server restarted with instant stand-in STT and TTS (see `benchmarks._voice_server`), so only the
   platform's own work is measured: transport, VAD, turn detection, pipeline, retrieval, responder, call records.
   At each level, N web calls are opened (one every 0.06-0.25 s) by callers in client processes
   (`benchmarks._voice_client`, 40 calls a process, at a raised priority so that the server's threads do not hold
   up the clock that times its frames); each hears the greeting, then asks a question and hears the answer again
   and again, then hangs up. A received agent audio frame is late when it arrives more than 100 ms after a player
   would need it. Frames, CPU and event-loop lag are measured over the last `--seconds` - 4 s, when every call of
   the level is up; frames received while calls were still opening are reported apart. Levels stop at the first
   with > 1% late frames or any error.

The machine may be shared: the CPU that other processes used during each measurement is reported beside it.

Goals (from the issues): p50 under 600 ms and p95 under 900 ms on a 2-core machine; at least 50 concurrent calls with
< 1% late frames.
"""

import argparse
import asyncio
import importlib.metadata
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
import numpy as np
import psutil
from tests.calls.webcall import SHOP_FAQ, WebCaller, web_call
from tests.voice.speech import caller_audio, stop_session_piper_server

from benchmarks._machine import cpu_model, load_average
from benchmarks.api import (
    HOST,
    CpuMeter,
    Server,
    cpu_seconds,
    free_port,
    implementations,
    postmaster_pid,
    stop_postgres,
    temporary_dir,
    wait_until_ready,
)
from vocalis.billing import service as billing
from vocalis.database import migrate
from vocalis.kit.db import Database
from vocalis.kit.embedded_postgres import EmbeddedPostgres
from vocalis.voice.responder import FALLBACK, NOT_HEARD

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_RATE = 16_000
LATENCY_GOAL_MS = 600.0
LATENCY_P95_GOAL_MS = 900.0
DENSITY_GOAL = 50
LATE_GOAL_PERCENT = 1.0
# (Whisper model, voice) of each latency call; the first is the default agent's.
STACKS = (("tiny.en", "hibari"), ("base", "hibari"), ("base", "piper"))
CALLS_PER_CLIENT = 40
RAMP_SECONDS = 5.0  # the longest a level takes to open its calls
SETTLE_SECONDS = 4.0  # after the last call opened (its greeting), before CPU is measured
PAUSE_SECONDS = 0.6  # between hearing an answer and the next question
ANSWER_TIMEOUT = 20.0
STOP_TIMEOUT = 20.0
TRIM_THRESHOLD = 400  # |sample| above this (about -38 dBFS) is speech
WARMUP_SECONDS = 10.0
ANSWER_SECONDS = 2.5  # of the stand-in TTS, per sentence

EMAIL = "voice-bench@example.com"
PASSWORD = "voice-bench-password-123"


WARMUP_QUESTION = "Hello, can you hear me?"
QUESTIONS = (
    "What time do you open on Saturday?",
    "Are you open on Sundays?",
    "Can I return an item I bought last week?",
    "How long does standard delivery take?",
    "Is delivery free for large orders?",
    "Do you have express delivery?",
    "What time do the couriers deliver?",
    "How can I track my parcel?",
    "Where can I collect a parcel that came back?",
    "Are you open on public holidays?",
    "When do you close on weekdays?",
    "Do I need a receipt for a refund?",
    "How much is delivery for orders over fifty pounds?",
    "When does express delivery arrive?",
    "How long can I collect my parcel from the store?",
    "What time do you close on Saturday?",
    "Can I get a full refund?",
    "How long do I have to return something?",
    "Do you have a car park?",
    "What are your opening hours on Friday?",
    "How much does standard delivery cost?",
    "What happens after three delivery attempts?",
    "Do you deliver in the evening?",
    "Can I pay with a gift card?",
)
NOT_IN_FAQ = {"Do you have a car park?", "Can I pay with a gift card?"}  # should get the fallback
DENSITY_QUESTION = "Do you have express delivery?"


# Results


@dataclass
class LatencyRun:
    stack: str  # "stt model/tts provider"
    client_ms: list[float]  # one per answered measured turn
    server: list[dict[str, int]]  # the record's latency of each answered measured turn
    asked: int
    from_faq: int  # answers taken from the FAQ (not the fallback or "didn't catch that")
    warm_ms: float | None  # the warm-up turn's client latency
    other_cpu_percent: float = 0.0  # other processes on the machine during the call, % of one core

    def stage(self, name: str) -> float | None:
        values = [latency[name] for latency in self.server if name in latency]
        return statistics.median(values) if values else None


@dataclass
class Level:
    calls: int
    processes: int
    callers: list[dict[str, Any]]
    record_errors: list[str]
    window_s: float
    server_cpu_s: float
    db_cpu_s: float
    other_cpu_s: float
    rss_bytes: int
    server_lag: dict[str, float]  # the server's event loop over the window (benchmarks._voice_server.LoopLag)
    client_lag: dict[str, float]  # the worst of the client processes' event loops over the window
    client_niceness: int

    def total(self, name: str, phase: str = "steady") -> float:
        return float(sum(caller[phase][name] for caller in self.callers))

    def late_percent(self, phase: str = "steady") -> float:
        frames = self.total("frames", phase)
        return 100 * self.total("late", phase) / frames if frames else 100.0

    @property
    def worst_ms(self) -> float:
        return 1000 * max((caller["steady"]["worst_s"] for caller in self.callers), default=0.0)

    @property
    def errors(self) -> list[str]:
        return [error for caller in self.callers for error in caller["errors"]] + self.record_errors

    @property
    def latencies(self) -> list[float]:
        return [value for caller in self.callers for value in caller["latencies_ms"]]

    @property
    def passed(self) -> bool:
        return self.late_percent() < LATE_GOAL_PERCENT and not self.errors

    def cpu_percent(self, seconds: float) -> float:
        """CPU over the measured window, as % of one core."""
        return 100 * seconds / self.window_s if self.window_s else 0.0


@dataclass
class Results:
    machine: list[str] = field(default_factory=list)
    latency: list[LatencyRun] = field(default_factory=list)
    question_seconds: tuple[float, float] = (0.0, 0.0)
    density: list[Level] = field(default_factory=list)
    density_question_s: float = 0.0


# Arguments, machine


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.voice", description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=20, help="measured questions per latency call")
    parser.add_argument("--levels", default="5,10,15,20,30,40,50,60,80", help="concurrent calls tried, comma-separated")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds each density level runs (all calls up)")
    parser.add_argument("--quick", action="store_true", help="a smoke-sized run: 1 turn, one level of 3 calls, 8 s")
    parser.add_argument("--log-level", default="INFO", help="log level of the platform (its default: INFO)")
    args = parser.parse_args(argv)
    try:
        args.levels = sorted({int(level) for level in args.levels.split(",") if level.strip()})
    except ValueError:
        parser.error("--levels must be comma-separated numbers")
    if args.quick:
        args.turns, args.levels, args.seconds = 1, [3], 8.0
    if args.turns < 1 or not args.levels or args.levels[0] < 1 or args.seconds <= SETTLE_SECONDS:
        parser.error(f"--turns and every level must be >= 1, --seconds > {SETTLE_SECONDS:g}")
    return args


def describe_machine() -> list[str]:
    return [
        f"Vocalis voice benchmark on {os.cpu_count()} CPUs ({cpu_model()}; {platform.machine()}, {platform.system()} "
        f"{platform.release()}), {psutil.virtual_memory().total / 2**30:.1f} GiB RAM, Python "
        f"{platform.python_version()}, Pipecat {importlib.metadata.version('pipecat-ai')}, {implementations()}",
        f"Load average (1, 5, 15 min) before: {load_average()}",
    ]


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile (None of nothing)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def trim_silence(pcm: bytes) -> bytes:
    """The speech of `pcm`, from 50 ms before its first loud sample to its last: "sent" then means "said"."""
    samples = np.frombuffer(pcm, dtype=np.int16)
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > TRIM_THRESHOLD)
    if loud.size == 0:
        return pcm
    start = max(0, int(loud[0]) - SAMPLE_RATE // 20)
    return samples[start : int(loud[-1]) + 1].tobytes()


def seconds_of(pcm: bytes) -> float:
    return len(pcm) / (2 * SAMPLE_RATE)


# Processes


def benchmark_env() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if not name.startswith("VOCALIS_")}


def start_server(work: Path, url: str, log_level: str, stand_ins: str | None) -> Server:
    port = free_port()
    command = [sys.executable, "-m", "benchmarks._voice_server", "--port", str(port), "--data-dir", str(work / "data")]
    command += ["--database-url", url, "--log-level", log_level]
    name = "voice-server"
    if stand_ins is not None:
        command += ["--stand-ins", stand_ins, "--answer-seconds", str(ANSWER_SECONDS)]
        name = "voice-server-stand-ins"
    log_path = work / f"{name}.log"
    with log_path.open("wb") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=benchmark_env(), stdout=log, stderr=subprocess.STDOUT)
    return Server(name, process, port, log_path)


def stop_server(server: Server) -> None:
    """SIGTERM (uvicorn shuts down; the lifespan stops the Piper child), SIGKILL when that takes too long; then any
    child left (Piper, a parse process) is killed too."""
    try:
        children = psutil.Process(server.process.pid).children(recursive=True)
    except psutil.Error:
        children = []
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    for child in children:
        with suppress(psutil.Error):
            child.kill()
            child.wait(5)


class MachineMeter:
    """CPU time of every process on the machine, this benchmark's own (this process, its descendants, the embedded
    PostgreSQL) told apart from everyone else's: the machine may be shared."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata

    def _ours(self) -> set[int]:
        roots = [psutil.Process()]
        postmaster = postmaster_pid(self.pgdata)
        if postmaster is not None:
            with suppress(psutil.Error):
                roots.append(psutil.Process(postmaster))
        ours: set[int] = set()
        for root in roots:
            with suppress(psutil.Error):
                ours |= {root.pid, *(child.pid for child in root.children(recursive=True))}
        return ours

    def sample(self) -> tuple[dict[int, float], set[int]]:
        seconds: dict[int, float] = {}
        for process in psutil.process_iter():
            with suppress(psutil.Error):
                seconds[process.pid] = cpu_seconds(process)
        return seconds, self._ours()

    @staticmethod
    def others(before: tuple[dict[int, float], set[int]], after: tuple[dict[int, float], set[int]]) -> float:
        """CPU seconds of the other processes between two samples (those that ended meanwhile are missed)."""
        ours = before[1] | after[1]
        return sum(value - before[0].get(pid, 0.0) for pid, value in after[0].items() if pid not in ours)


# The API


@dataclass
class Api:
    client: httpx.AsyncClient
    headers: dict[str, str] = field(default_factory=dict)

    async def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = await self.client.request(method, path, headers=self.headers, **kwargs)
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None

    async def login(self) -> None:
        self.headers = {}
        body = await self.call("POST", "/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD})
        self.headers = {"Authorization": f"Bearer {body['access_token']}"}


async def sign_up(api: Api) -> uuid.UUID:
    """Register the benchmark tenant and log its owner in; returns the tenant's id."""
    payload = {"email": EMAIL, "username": "voice_bench", "password": PASSWORD, "tenant_name": "Voice benchmark"}
    body = await api.call("POST", "/api/v1/auth/register", 201, json=payload)
    await api.login()
    return uuid.UUID(body["tenant"]["id"])


async def move_to_enterprise(url: str, tenant_id: uuid.UUID) -> None:
    """The free plan allows 3 concurrent calls; "enterprise" has no limit (plan changes are for platform admins, so
    this goes to the database, through the billing service)."""
    database = Database.connect(url, pool_size=1)
    try:
        async with database.transaction(tenant_id) as session:
            await billing.change_plan(session, tenant_id, "enterprise")
    finally:
        await database.dispose()


async def make_knowledge(api: Api) -> str:
    base = await api.call("POST", "/api/v1/knowledge/bases", 201, json={"name": "Shop"})
    document = await api.call(
        "POST", f"/api/v1/knowledge/bases/{base['id']}/documents", 202, json={"title": "FAQ", "text": SHOP_FAQ}
    )
    deadline = time.monotonic() + 180
    while (status := (await api.call("GET", f"/api/v1/knowledge/documents/{document['id']}"))["status"]) != "ready":
        if status == "failed" or time.monotonic() > deadline:
            raise RuntimeError(f"The FAQ was not ingested (status {status})")
        await asyncio.sleep(0.2)
    base_id: str = base["id"]
    return base_id


async def make_agent(api: Api, base_id: str, name: str, **settings: Any) -> str:
    agent = await api.call(
        "POST", "/api/v1/agents", 201, json={"name": name, "knowledge_base_ids": [base_id], **settings}
    )
    agent_id: str = agent["id"]
    return agent_id


async def start_call(api: Api, agent_id: str) -> tuple[str, str]:
    created = await api.call("POST", f"/api/v1/agents/{agent_id}/web-calls", 201)
    return created["call_id"], created["websocket_url"]


async def finished(api: Api, call_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        record: dict[str, Any] = await api.call("GET", f"/api/v1/calls/{call_id}")
        if record["status"] not in ("queued", "in_progress"):
            return record
        if time.monotonic() > deadline:
            raise RuntimeError(f"call {call_id} not finished: {record['status']}")
        await asyncio.sleep(0.2)


async def records_since(api: Api, agent_id: str, since: datetime) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    page = 1
    while True:
        params: dict[str, Any] = {"agent_id": agent_id, "since": since.isoformat(), "page": page, "page_size": 100}
        body = await api.call("GET", "/api/v1/calls", params=params)
        records += body["items"]
        if page >= body["pages"]:
            return records
        page += 1


async def wait_idle(api: Api, within: float = 60.0) -> None:
    """Until no call is in progress (each finishes its record as it ends)."""
    deadline = time.monotonic() + within
    while (await api.call("GET", "/api/v1/calls", params={"status": "in_progress", "page_size": 1}))["total"]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"calls still in progress {within:.0f} s after their callers hung up")
        await asyncio.sleep(0.5)


# 1. Latency


async def hear_answer(caller: WebCaller, asked: float) -> float | None:
    """The client latency of the answer to a question finished at `asked` (ms), once the answer has ended."""
    try:
        await caller.wait_for("agent.speaking", within=ANSWER_TIMEOUT, after=asked)
        speaking = caller.event_time("agent.speaking", after=asked)
        await caller.wait_for("agent.stopped", within=60, after=speaking)
    except AssertionError:
        if caller.closed.is_set():
            raise RuntimeError(f"the call ended: {[m for _, m in caller.events][-3:]}") from None
        return None
    heard = caller.audio_after(asked)
    return (heard[0].at - asked) * 1000 if heard else None


async def latency_call(
    api: Api, agent_id: str, stack: str, warmup: bytes, questions: list[bytes], machine: MachineMeter
) -> LatencyRun:
    call_id, url = await start_call(api, agent_id)
    client_ms: list[float] = []
    before, started = machine.sample(), time.monotonic()
    async with web_call(url) as caller:
        await caller.wait_for("call.started", within=30)
        await caller.wait_for("agent.stopped", within=120)  # the greeting (the first call may wait for the models)
        await asyncio.sleep(PAUSE_SECONDS)
        warm_ms = await hear_answer(caller, await caller.say(warmup))
        for question in questions:
            await asyncio.sleep(PAUSE_SECONDS)
            latency = await hear_answer(caller, await caller.say(question))
            if latency is not None:
                client_ms.append(latency)
        await caller.connection.send('{"type": "hangup"}')
        await caller.wait_for("call.ended", within=30)
    others = MachineMeter.others(before, machine.sample()) / (time.monotonic() - started)
    record = await finished(api, call_id)
    if record["status"] != "completed":
        raise RuntimeError(f"the {stack} call ended {record['status']}: {record['end_reason']} {record['error']}")
    answers = [turn for turn in record["turns"] if turn["role"] == "agent"][1:]  # after the greeting
    if warm_ms is not None:
        answers = answers[1:]
    server = [
        {name: value for name, value in turn["latency"].items() if value is not None}
        for turn in answers
        if turn["latency"] is not None
    ]
    from_faq = sum(not turn["text"].startswith((FALLBACK[:30], NOT_HEARD[:20])) for turn in answers)
    return LatencyRun(stack, client_ms, server, len(questions), from_faq, warm_ms, 100 * others)


# 2. Density


async def run_level(
    api: Api,
    agent_id: str,
    calls: int,
    seconds: float,
    question: Path,
    server: Server,
    meters: tuple[CpuMeter, MachineMeter],
) -> Level:
    await wait_idle(api)
    await api.login()  # access tokens last 15 minutes
    since = datetime.now(UTC)
    opened: list[tuple[str, str]] = []
    for start in range(0, calls, 10):
        opened += await asyncio.gather(*(start_call(api, agent_id) for _ in range(start, min(calls, start + 10))))
    processes = math.ceil(calls / CALLS_PER_CLIENT)
    step = min(0.25, RAMP_SECONDS / calls)
    first = time.time() + 1.5 + 0.5 * processes  # the client processes start meanwhile
    ramp_end = first + calls * step
    end_at = ramp_end + seconds
    specs = [{"url": url, "start_at": first + index * step} for index, (_, url) in enumerate(opened)]
    steady_from = ramp_end + SETTLE_SECONDS
    common = {"question": str(question), "steady_from": steady_from, "end_at": end_at}
    common |= {"pause": PAUSE_SECONDS, "answer_timeout": ANSWER_TIMEOUT}
    configs = [{"calls": specs[index::processes], **common} for index in range(processes)]
    clients = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks._voice_client",
            cwd=REPO_ROOT,
            env=benchmark_env(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in configs
    ]
    try:
        outputs = asyncio.gather(
            *(client.communicate(json.dumps(config).encode()) for client, config in zip(clients, configs, strict=True))
        )
        server_process = psutil.Process(server.process.pid)
        rss = 0

        async def until(moment: float) -> None:
            nonlocal rss
            while (left := moment - time.time()) > 0:
                rss = max(rss, server_process.memory_info().rss)
                await asyncio.sleep(min(0.5, left))

        meter, machine = meters
        await until(steady_from)
        await api.call("GET", "/bench/loop-lag")  # starts afresh
        before, machine_before, started = meter.sample(), machine.sample(), time.monotonic()
        await until(end_at)
        after, machine_after, window = meter.sample(), machine.sample(), time.monotonic() - started
        server_lag: dict[str, float] = await api.call("GET", "/bench/loop-lag")
        done = await asyncio.wait_for(outputs, timeout=ANSWER_TIMEOUT + 120)
    finally:
        for client in clients:
            if client.returncode is None:
                client.kill()
                await client.wait()
    callers: list[dict[str, Any]] = []
    client_lag = {"p99_ms": 0.0, "max_ms": 0.0}
    niceness = 0
    for client, (stdout, stderr) in zip(clients, done, strict=True):
        if client.returncode != 0:
            raise RuntimeError(f"A client process failed ({client.returncode}):\n{stderr.decode()[-3000:]}")
        output = json.loads(stdout)
        callers += output["callers"]
        client_lag = {name: max(value, output["loop_lag"][name]) for name, value in client_lag.items()}
        niceness = output["niceness"]
    await wait_idle(api)
    record_errors = [
        f"record {record['status']}: {record['end_reason']} {record['error'] or ''}".strip()
        for record in await records_since(api, agent_id, since)
        if (record["status"], record["end_reason"]) != ("completed", "caller_hangup")
    ]
    server_cpu, db_cpu = CpuMeter.used(before, after)
    others = MachineMeter.others(machine_before, machine_after)
    return Level(
        calls=calls,
        processes=processes,
        callers=callers,
        record_errors=record_errors,
        window_s=window,
        server_cpu_s=server_cpu,
        db_cpu_s=db_cpu,
        other_cpu_s=others,
        rss_bytes=rss,
        server_lag=server_lag,
        client_lag=client_lag,
        client_niceness=niceness,
    )


# Report


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def report(args: argparse.Namespace, results: Results) -> str:
    cores = os.cpu_count() or 1
    lines = [
        *results.machine,
        f"Load average after: {load_average()}",
        f"Server: one uvicorn process (benchmarks._voice_server, log level {args.log_level.upper()}) on {HOST}, "
        "PostgreSQL embedded. The callers share the same "
        f"{cores} cores with it (part 1: this process; part 2: the client processes), so their work takes CPU from "
        "the server, and their own delays count against it. 'other': CPU of processes that are not this benchmark's "
        "(the machine may be shared), in % of one core.",
    ]
    lines += latency_table(args, results)
    lines += density_table(args, results)
    lines += ["", summary(args, results)]
    return "\n".join(lines)


def latency_table(args: argparse.Namespace, results: Results) -> list[str]:
    shortest, longest = results.question_seconds
    not_covered = sum(QUESTIONS[index % len(QUESTIONS)] in NOT_IN_FAQ for index in range(args.turns))
    lines = [
        "",
        f"1. Voice-to-voice latency on the offline stack: one web call per speech stack, {args.turns} questions each "
        f"(+1 warm-up, not counted), {shortest:.1f}-{longest:.1f} s of Piper speech each, streamed in real time",
        f"{'stt/tts':<14}{'turns':>6}{'client p50':>11}{'p95':>6}{'server p50':>11}{'p95':>6}"
        f"{'stt':>6}{'turn':>6}{'llm':>6}{'tts':>6}{'from FAQ':>10}{'other':>7}",
    ]
    for run in results.latency:
        totals = [latency["total_ms"] for latency in run.server if "total_ms" in latency]
        stages = "".join(f"{ms(run.stage(f'{name}_ms')):>6}" for name in ("stt", "turn", "llm", "tts"))
        answered, from_faq = f"{len(run.client_ms)}/{run.asked}", f"{run.from_faq}/{run.asked}"
        lines.append(
            f"{run.stack:<14}{answered:>6}{ms(median(run.client_ms)):>11}{ms(percentile(run.client_ms, 0.95)):>6}"
            f"{ms(median(totals)):>11}{ms(percentile(totals, 0.95)):>6}{stages}{from_faq:>10}"
            f"{run.other_cpu_percent:>6.0f}%"
        )
    lines += [
        "All in ms. client: the question's last frame sent -> the first agent audio frame received (the questions' "
        "silence is trimmed, so sent = said). server: the call record's total_ms (end of speech by the VAD -> the "
        "agent starts speaking) and the medians of its stages: stt = end of speech -> final transcript (includes the "
        "VAD's 0.2 s stop), turn = transcript -> end-of-turn decision (Smart Turn), llm = -> first reply text "
        "(retrieval included), tts = -> first synthesised audio. turns: answered / asked; from FAQ: answers that are "
        f"not the responder's fallback or \"didn't catch that\" (questions the FAQ does not cover: {not_covered}).",
        "Warm-up turn, client ms: " + ", ".join(f"{run.stack} {ms(run.warm_ms)}" for run in results.latency),
    ]
    return lines


def density_table(args: argparse.Namespace, results: Results) -> list[str]:
    niceness = max((level.client_niceness for level in results.density), default=0)
    lines = [
        "",
        "2. Density: concurrent web calls with instant stand-in STT and TTS, so the server does only the platform's "
        "own work (transport, Silero VAD, Smart Turn, pipeline, retrieval, extractive responder, call records)",
        f'   each caller: greeting, then "{DENSITY_QUESTION}" ({results.density_question_s:.1f} s of Piper '
        f"speech, 40 ms frames) -> a {ANSWER_SECONDS:g} s answer, again and again; calls opened over up to "
        f"{RAMP_SECONDS:g} s, then {args.seconds:g} s with all of them up; {CALLS_PER_CLIENT} callers per client "
        f"process, at niceness {niceness} (the server's: {os.getpriority(os.PRIO_PROCESS, 0)}); the tenant is on the "
        '"enterprise" plan (no concurrent-call limit; the free plan allows 3), set with billing.change_plan on the '
        "database",
        f"{'calls':>5}{'clients':>8}{'turns':>7}{'turn p50':>9}{'frames':>8}{'late %':>8}{'glitches':>9}"
        f"{'worst ms':>9}{'opening late %':>15}{'errors':>7}",
    ]
    for level in results.density:
        latencies = level.latencies
        lines.append(
            f"{level.calls:>5}{level.processes:>8}{len(latencies):>7}{ms(median(latencies)):>9}"
            f"{level.total('frames'):>8.0f}{level.late_percent():>8.2f}{level.total('glitches'):>9.0f}"
            f"{level.worst_ms:>9.0f}{level.late_percent('opening'):>15.2f}{len(level.errors):>7}"
        )
    lines += [
        "",
        f"{'calls':>5}{'server CPU':>11}{'per call':>9}{'RSS MB':>8}{'db CPU':>8}{'other':>7}"
        f"{'server loop lag p99':>21}{'max':>6}{'client loop lag p99':>21}{'max':>6}",
    ]
    for level in results.density:
        server_cpu, server_lag, client_lag = level.cpu_percent(level.server_cpu_s), level.server_lag, level.client_lag
        lines.append(
            f"{level.calls:>5}{server_cpu:>10.0f}%{server_cpu / level.calls:>8.1f}%{level.rss_bytes / 2**20:>8.0f}"
            f"{level.cpu_percent(level.db_cpu_s):>7.0f}%{level.cpu_percent(level.other_cpu_s):>6.0f}%"
            f"{server_lag['p99_ms']:>21.0f}{server_lag['max_ms']:>6.0f}"
            f"{client_lag['p99_ms']:>21.0f}{client_lag['max_ms']:>6.0f}"
        )
    for level in results.density:
        if level.errors:
            shown = "; ".join(sorted(set(level.errors))[:5])
            lines.append(f"   errors at {level.calls} calls ({len(level.errors)}): {shown}")
    lines.append(
        f"All but turns and opening late %: the last {args.seconds - SETTLE_SECONDS:g} s, all calls up (from "
        f"{SETTLE_SECONDS:g} s after the last call opened); opening late %: the frames before, while calls were "
        "still opening. turn p50: the question's last frame sent -> first answer audio (ms: VAD stop, Smart Turn, "
        "retrieval, responder, instant TTS). late: an agent audio frame arriving > 100 ms after a player started at "
        "its burst's first frame needs it (a delayed frame delays the rest of its burst: Pipecat paces from "
        "there); glitches: the times a player buffering 100 ms would have run dry; worst: the latest frame (ms). "
        "CPU in % of one core: the server process (all threads; per call: / calls), PostgreSQL, other processes; "
        "RSS: the server's peak. Loop lag (ms): how late an event loop wakes a 10 ms timer, in the server and in "
        "the worst client process (a late client would time frames late)."
    )
    return lines


def summary(args: argparse.Namespace, results: Results) -> str:
    default = results.latency[0]
    p50, p95 = median(default.client_ms), percentile(default.client_ms, 0.95)
    others = "; ".join(f"{run.stack} p50 {ms(median(run.client_ms))} ms" for run in results.latency[1:])
    p50_met, p95_met = p50 is not None and p50 < LATENCY_GOAL_MS, p95 is not None and p95 < LATENCY_P95_GOAL_MS
    line = (
        f"voice: p50 {ms(p50)} ms (goal < {LATENCY_GOAL_MS:.0f}: {verdict(p50_met)}), "
        f"p95 {ms(p95)} ms (goal < {LATENCY_P95_GOAL_MS:.0f}: {verdict(p95_met)}) "
        f"({default.stack}{'; ' + others if others else ''}); "
    )
    passed = [level for level in results.density if level.passed]
    if not passed:
        return line + f"density: no level < {LATE_GOAL_PERCENT:g}% late (goal >= {DENSITY_GOAL}: MISSED)"
    best = max(passed, key=lambda level: level.calls)
    line += (
        f"density {best.calls} calls < {LATE_GOAL_PERCENT:g}% late (goal >= {DENSITY_GOAL}: "
        f"{verdict(best.calls >= DENSITY_GOAL)}), {best.cpu_percent(best.server_cpu_s) / best.calls:.1f}% CPU per call"
    )
    if best.calls == args.levels[-1]:
        line += " (the highest level tried)"
    return line


# Run


async def run(args: argparse.Namespace, out: IO[str]) -> None:
    results = Results(machine=describe_machine())
    async with AsyncExitStack() as stack:
        work = stack.enter_context(temporary_dir())

        # The callers' speech, made before anything is measured (Piper in this process, stopped at once).
        stack.push_async_callback(stop_session_piper_server)
        texts = [QUESTIONS[index % len(QUESTIONS)] for index in range(args.turns)]
        spoken = {text: trim_silence(await caller_audio(text)) for text in {WARMUP_QUESTION, DENSITY_QUESTION, *texts}}
        await stop_session_piper_server()
        questions = [spoken[text] for text in texts]
        results.question_seconds = (min(map(seconds_of, questions)), max(map(seconds_of, questions)))
        results.density_question_s = seconds_of(spoken[DENSITY_QUESTION])
        question_file = work / "density-question.pcm"
        question_file.write_bytes(spoken[DENSITY_QUESTION])

        pgdata = work / "postgres"
        stack.callback(stop_postgres, pgdata)  # if it outlives its handle
        embedded = EmbeddedPostgres(pgdata)
        stack.callback(embedded.stop)
        url = await asyncio.to_thread(embedded.start)
        await asyncio.to_thread(migrate, url)
        machine = MachineMeter(pgdata)

        # 1. Latency, on the offline stack.
        server = start_server(work, url, args.log_level, None)
        stack.callback(stop_server, server)
        await asyncio.to_thread(wait_until_ready, server, "/health/ready")
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{server.port}", timeout=60) as client:
            api = Api(client)
            tenant_id = await sign_up(api)
            await move_to_enterprise(url, tenant_id)
            base_id = await make_knowledge(api)
            for model, voice in STACKS:
                stack_name = f"{model}/{voice}"
                settings = {"stt": {"model": model}, "tts": {"provider": voice}}
                agent_id = await make_agent(api, base_id, f"Shop ({stack_name})", **settings)
                run = await latency_call(api, agent_id, stack_name, spoken[WARMUP_QUESTION], questions, machine)
                results.latency.append(run)
        await asyncio.to_thread(stop_server, server)

        # 2. Density, with the stand-ins.
        server = start_server(work, url, args.log_level, DENSITY_QUESTION)
        stack.callback(stop_server, server)
        await asyncio.to_thread(wait_until_ready, server, "/health/ready")
        meters = CpuMeter(server.process.pid, pgdata), machine
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{server.port}", timeout=60) as client:
            api = Api(client)
            await api.login()
            agent_id = await make_agent(api, base_id, "Shop (stand-ins)")
            # Warm-up (not reported): the first call loads the embedding model, the first turn warms everything.
            warmup = await run_level(api, agent_id, 1, WARMUP_SECONDS, question_file, server, meters)
            if warmup.errors or not warmup.latencies:
                raise RuntimeError(f"The density warm-up call failed: {warmup.errors or 'no answer'}")
            for calls in args.levels:
                level = await run_level(api, agent_id, calls, args.seconds, question_file, server, meters)
                results.density.append(level)
                if not level.passed:
                    break
        await asyncio.to_thread(stop_server, server)
    print(report(args, results), file=out, flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    asyncio.run(run(parse_args(argv), sys.stdout))


if __name__ == "__main__":
    main()
