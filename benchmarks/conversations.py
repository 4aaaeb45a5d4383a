"""Conversation harness: scored calls, judged by what a caller hears.

    python -m benchmarks.conversations [--quick] [--voices piper,espeak] [--band web|phone] [--snr N]
                                       [--only PATTERN] [--json PATH] [--audio-dir DIR] [--log-level L]

Each scenario (`benchmarks/scenarios/*.yaml`, see `benchmarks._conversations_scenarios`) is a phone conversation with
one of a business's voice agents: the knowledge the agent answers from, its settings, what the caller says and
when (fragments with pauses, speech over the agent, silence), and what the caller must hear back.

Everything runs for real, as `benchmarks.voice` runs it: an embedded PostgreSQL in a temporary directory (migrated),
the platform in a process of its own (`benchmarks._voice_server`), a tenant registered through the API and moved to
the "enterprise" plan, the scenarios' knowledge files uploaded and ingested through the API, one agent per scenario
(its `agent` settings merged into the POST /api/v1/agents payload). Then, one call at a time, for each scenario and
each voice (`benchmarks._conversations_audio`):

1. the caller's turns, synthesised beforehand (Piper, espeak-ng), are streamed over the web-call WebSocket in real
   time, 20 ms frames, through the line (background noise at `--snr`, the telephone band on `--band phone`); a turn
   starts once the agent has been quiet for `QUIET_SECONDS` (plus the turn's `gap`), or once the caller has heard
   `while_agent_speaks` seconds of its reply; after the last turn the caller hangs up once the agent has been
   quiet for `HANG_UP_AFTER_QUIET_SECONDS`;
2. the agent's audio is kept as it arrives, cut into replies, transcribed by Whisper base in this process after the
   call (the full 30 s window, beam search), and judged (`benchmarks._conversations_judge`): each caller turn's facts
   heard in the reply to that turn, nothing forbidden heard, no reply said over the caller or answering an earlier
   turn late, barge-ins stopping the agent and backchannels not, the call ending when it should; then the call's
   record (GET /api/v1/calls/{id}): one agent turn after each caller turn that needs one, each with its latency, and
   the callback it took down.

Latency at the caller's ear: the turn's last audio frame sent -> the reply's first audio frame received.
"""

import argparse
import asyncio
import fnmatch
import importlib.metadata
import json
import os
import platform
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import numpy as np
import psutil
import websockets
from tests.voice.speech import stop_session_piper_server

from benchmarks._conversations_audio import (
    VOICES,
    Noise,
    PhoneBand,
    conversation_call,
    describe_voices,
    speech_level,
    utterance,
)
from benchmarks._conversations_judge import (
    ENDS_WITHIN,
    CallerTurn,
    CallLog,
    Verdict,
    attach_text,
    judge,
    split_replies,
)
from benchmarks._conversations_scenarios import KNOWLEDGE_DIR, Scenario, ScenarioError, load_scenarios
from benchmarks._machine import cpu_model, load_average
from benchmarks.api import HOST, stop_postgres, temporary_dir, wait_until_ready
from benchmarks.voice import (
    Api,
    finished,
    make_agent,
    median,
    move_to_enterprise,
    percentile,
    sign_up,
    start_call,
    start_server,
    stop_server,
)
from vocalis.config import Settings
from vocalis.database import migrate
from vocalis.kit.embedded_postgres import EmbeddedPostgres
from vocalis.voice.audio import wav
from vocalis.voice.weights import WHISPER_BASE, load_whisper

QUIET_SECONDS = 0.8  # the agent's silence after which the caller takes it that the reply is over
# ...and before hanging up: a caller who heard the agent start ("I'm—") and stop as they went on waits for the answer.
HANG_UP_AFTER_QUIET_SECONDS = 2.0
REPLY_TIMEOUT = 20.0  # for a reply to start
GREETING_TIMEOUT = 90.0  # the first call may wait for the server to load its models
HANGUP_TIMEOUT = 30.0
INGEST_TIMEOUT = 180.0
CONTENT_TYPES = {".txt": "text/plain", ".md": "text/markdown", ".pdf": "application/pdf", ".html": "text/html"}

Progress = Callable[[str], None]


# Arguments, scenarios


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.conversations", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="only the scenarios marked quick, with one voice (piper)")
    parser.add_argument("--voices", help=f"comma-separated, of {', '.join(VOICES)} (default: all; --quick: piper)")
    parser.add_argument("--band", choices=("web", "phone"), default="web", help="phone: 8 kHz G.711 mu-law both ways")
    parser.add_argument("--snr", type=float, help="background noise, dB below the caller's speech (default: none)")
    parser.add_argument("--only", help="scenarios whose name matches (comma-separated; globs or parts of names)")
    parser.add_argument(
        "--stt-model", choices=("base", "tiny.en"), help="every agent's speech recognition (default: the agents' own)"
    )
    parser.add_argument(
        "--agent-voice", choices=("hibari", "piper"), help="every agent's voice provider (default: the agents' own)"
    )
    parser.add_argument("--json", type=Path, help="write every verdict and the summary to this file")
    parser.add_argument(
        "--audio-dir", type=Path, help="keep each call's audio here (WAV: caller turns, replies), and the server's log"
    )
    parser.add_argument("--log-level", default="INFO", help="log level of the platform (its default: INFO)")
    args = parser.parse_args(argv)
    voices = args.voices.split(",") if args.voices else ["piper"] if args.quick else list(VOICES)
    args.voices = [voice.strip() for voice in voices if voice.strip()]
    if not args.voices or set(args.voices) - set(VOICES):
        parser.error(f"--voices takes {', '.join(VOICES)}")
    return args


def select(scenarios: list[Scenario], only: str | None, quick: bool) -> list[Scenario]:
    """The scenarios to run: those marked quick (with `quick`), then those `only` names (globs or parts of names)."""
    chosen = [scenario for scenario in scenarios if scenario.quick or not quick]
    if only:
        patterns = [pattern.strip() for pattern in only.split(",") if pattern.strip()]
        chosen = [
            scenario
            for scenario in chosen
            if any(fnmatch.fnmatch(scenario.name, pattern) or pattern in scenario.name for pattern in patterns)
        ]
    return chosen


# Speech


async def speak(scenarios: list[Scenario], voices: list[str]) -> dict[tuple[str, str, int], bytes]:
    """Every caller turn of every scenario in every voice, made before any call: (voice, scenario, turn) -> PCM."""
    spoken: dict[tuple[str, str, int], bytes] = {}
    for voice in voices:
        for scenario in scenarios:
            for index, turn in enumerate(scenario.turns):
                if turn.say is not None:
                    spoken[voice, scenario.name, index] = await utterance(voice, turn.say, scenario.speed)
    return spoken


# The tenant, its knowledge and agents


@dataclass
class Tenant:
    """The harness's tenant on a running platform: an agent per scenario (or why the API refused it)."""

    agents: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)


async def upload_knowledge(api: Api, files: tuple[str, ...]) -> str:
    """A knowledge base holding `files` (uploaded, then ingested by the server's worker); returns its id."""
    base = await api.call("POST", "/api/v1/knowledge/bases", 201, json={"name": " + ".join(files)[:200]})
    uploads = [
        ("files", (name, (KNOWLEDGE_DIR / name).read_bytes(), CONTENT_TYPES.get(Path(name).suffix, "text/plain")))
        for name in files
    ]
    await api.call("POST", f"/api/v1/knowledge/bases/{base['id']}/documents/upload", 202, files=uploads)
    deadline = time.monotonic() + INGEST_TIMEOUT
    while True:
        documents = (await api.call("GET", f"/api/v1/knowledge/bases/{base['id']}/documents"))["items"]
        states = {document["title"]: document["status"] for document in documents}
        if len(states) == len(files) and set(states.values()) == {"ready"}:
            base_id: str = base["id"]
            return base_id
        if "failed" in states.values() or time.monotonic() > deadline:
            raise RuntimeError(f"knowledge not ingested: {states}")
        await asyncio.sleep(0.3)


def agent_overrides(stt_model: str | None, agent_voice: str | None) -> dict[str, dict[str, Any]]:
    """The setting groups the command line sets for every agent, over each scenario's own."""
    overrides: dict[str, dict[str, Any]] = {}
    if stt_model is not None:
        overrides["stt"] = {"model": stt_model}
    if agent_voice is not None:
        overrides["tts"] = {"provider": agent_voice}
    return overrides


async def prepare(
    api: Api, database_url: str, scenarios: list[Scenario], overrides: dict[str, dict[str, Any]] | None = None
) -> Tenant:
    """Register the tenant (enterprise plan), upload each set of knowledge files once, make each scenario's agent
    (with `overrides` merged into its setting groups)."""
    tenant_id = await sign_up(api)
    await move_to_enterprise(database_url, tenant_id)
    bases: dict[tuple[str, ...], str] = {}
    tenant = Tenant()
    for scenario in scenarios:
        if scenario.knowledge not in bases:
            bases[scenario.knowledge] = await upload_knowledge(api, scenario.knowledge)
        settings = dict(scenario.agent)
        for group, values in (overrides or {}).items():
            settings[group] = {**settings.get(group, {}), **values}
        try:
            tenant.agents[scenario.name] = await make_agent(api, bases[scenario.knowledge], scenario.name, **settings)
        except RuntimeError as error:  # settings the API does not (yet) take: the scenario fails, the run goes on
            tenant.refused[scenario.name] = str(error)
    return tenant


# A call


async def converse(
    api: Api, agent_id: str, scenario: Scenario, voice: str, spoken: list[bytes | None], band: str, snr: float | None
) -> CallLog:
    """Call the agent and play the scenario's caller, turn after turn, at the pace of a microphone; the log of the
    call, its record included."""
    log = CallLog(scenario.name, voice)
    await api.login()  # access tokens last 15 minutes
    call_id, url = await start_call(api, agent_id)
    log.call_id = call_id
    noise = None if snr is None else Noise(snr, speech_level([pcm for pcm in spoken if pcm]))
    greets = bool(scenario.agent.get("first_message", True))
    async with conversation_call(url, noise, band) as caller:
        log.opened = mark = time.monotonic()
        try:
            await caller.wait_for("call.started", within=30)
        except AssertionError:
            log.error = "the call did not start"
        answer_within = GREETING_TIMEOUT if greets else 0.0  # how long to wait for the reply due (0: none is)
        for index, turn in enumerate(scenario.turns):
            if caller.closed.is_set() or log.error:
                break
            over_reply = None
            if turn.while_agent_speaks is not None:
                await caller.heard_for(turn.while_agent_speaks, after=mark, within=answer_within or REPLY_TIMEOUT)
                if time.monotonic() < caller.played_until:
                    over_reply = caller.audio_seconds_after(mark)
            else:
                if answer_within:
                    await caller.reply_heard(after=mark, within=answer_within, quiet=QUIET_SECONDS)
                await caller.quiet(QUIET_SECONDS)
                await asyncio.sleep(turn.gap)
            start = time.monotonic()
            pcm = spoken[index]
            if pcm is None:  # a silence: the microphone goes on sending (noise)
                log.turns.append(CallerTurn(index, "", start, start, silent=True))
                with suppress(TimeoutError):
                    await asyncio.wait_for(caller.closed.wait(), turn.silence)
                mark, answer_within = start, 0.0
            else:
                end = await caller.say(pcm)
                log.turns.append(CallerTurn(index, turn.words, start, end, over_reply=over_reply))
                mark, answer_within = end, REPLY_TIMEOUT
        if answer_within and not caller.closed.is_set():
            await caller.reply_heard(after=mark, within=answer_within, quiet=HANG_UP_AFTER_QUIET_SECONDS)
        if any(turn.expect.ends_call for turn in scenario.turns):
            with suppress(AssertionError):  # no longer: the agent's silence timer would speak up meanwhile
                await caller.wait_for("call.ended", within=ENDS_WITHIN)
        if not caller.closed.is_set():
            with suppress(AssertionError, websockets.ConnectionClosed):
                await caller.connection.send('{"type": "hangup"}')
                await caller.wait_for("call.ended", within=HANGUP_TIMEOUT)
        log.audio, log.events = list(caller.agent_audio), list(caller.events)
    try:
        log.record = await finished(api, call_id)
    except RuntimeError as error:
        log.error = log.error or f"no call record: {error}"
    return log


class Transcriber:
    """Whisper base in this process, as a caller's ear: the full 30 s window with beam search (slower than the
    agent's own short-window greedy reading, and more careful)."""

    def __init__(self, data_dir: Path, band: str) -> None:
        self.settings = Settings(data_dir=data_dir)
        self.band = band
        self._model: Any = None

    async def transcribe(self, pcm: bytes) -> str:
        if self._model is None:
            self._model = await asyncio.to_thread(load_whisper, self.settings, WHISPER_BASE)
        if self.band == "phone":
            pcm = PhoneBand().pcm(pcm)
        samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0

        def read() -> str:
            segments, _ = self._model.transcribe(
                samples, language="en", beam_size=5, condition_on_previous_text=False, vad_filter=False
            )
            return " ".join(segment.text.strip() for segment in segments).strip()

        return await asyncio.to_thread(read)


async def hear(scenario: Scenario, log: CallLog, transcriber: Transcriber) -> Verdict:
    """Transcribe what the caller heard of the call and judge it."""
    replies = split_replies(log.audio, log.turns)
    attach_text(replies, log.events)
    for reply in replies:
        reply.heard = await transcriber.transcribe(reply.pcm)
    return judge(scenario, log, replies)


def keep_audio(directory: Path, log: CallLog, spoken: list[bytes | None]) -> None:
    """The call's audio for listening: the agent's as it played (silences between replies shortened) and each turn."""
    folder = directory / f"{log.scenario}.{log.voice}"
    folder.mkdir(parents=True, exist_ok=True)
    for index, pcm in enumerate(spoken):
        if pcm:
            (folder / f"turn{index + 1}.wav").write_bytes(wav(pcm))
    for index, reply in enumerate(split_replies(log.audio, log.turns)):
        (folder / f"reply{index + 1}-turn{reply.turn + 1}.wav").write_bytes(wav(reply.pcm))


async def run_scenarios(
    api: Api,
    database_url: str,
    data_dir: Path,
    scenarios: list[Scenario],
    voices: list[str],
    band: str = "web",
    snr: float | None = None,
    audio_dir: Path | None = None,
    progress: Progress | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> list[Verdict]:
    """Run every scenario with every voice against the platform `api` talks to (its database at `database_url`, its
    data dir `data_dir`, where the Whisper weights are); the verdicts, in order."""
    say = progress or (lambda _: None)
    spoken = await speak(scenarios, voices)
    await stop_session_piper_server()  # the caller's voice is made: its server would only take memory
    say(f"caller speech made: {len(spoken)} turns")
    tenant = await prepare(api, database_url, scenarios, overrides)
    say(f"tenant ready: {len(tenant.agents)} agents")
    transcriber = Transcriber(data_dir, band)
    verdicts: list[Verdict] = []
    for voice in voices:
        for scenario in scenarios:
            turns: list[bytes | None] = [spoken.get((voice, scenario.name, i)) for i in range(len(scenario.turns))]
            agent_id = tenant.agents.get(scenario.name)
            noise = scenario.snr if scenario.snr is not None else snr
            if agent_id is None:
                log = CallLog(scenario.name, voice, error=f"agent refused: {tenant.refused[scenario.name]}")
            else:
                try:
                    log = await converse(api, agent_id, scenario, voice, turns, band, noise)
                except Exception as error:  # the call broke (refused, cut off): this scenario fails, the run goes on
                    log = CallLog(scenario.name, voice, error=f"the call broke: {type(error).__name__}: {error}"[:500])
                if audio_dir is not None:
                    keep_audio(audio_dir, log, turns)
            verdict = await hear(scenario, log, transcriber)
            verdicts.append(verdict)
            outcome = "PASS" if verdict.passed else f"FAIL {verdict.failures[0]}"
            say(f"[{len(verdicts)}/{len(voices) * len(scenarios)}] {scenario.name} ({voice}): {outcome}")
    return verdicts


# Report


def describe_machine() -> list[str]:
    memory = psutil.virtual_memory().total / 2**30
    return [
        f"Vocalis conversation harness on {os.cpu_count()} CPUs ({cpu_model()}; {platform.machine()}, "
        f"{platform.system()} {platform.release()}), {memory:.1f} GiB RAM, Python {platform.python_version()}, "
        f"Pipecat {importlib.metadata.version('pipecat-ai')}",
        f"Load average (1, 5, 15 min) before: {load_average()}",
    ]


def summary(verdicts: list[Verdict]) -> dict[str, Any]:
    latencies = [value for verdict in verdicts for value in verdict.latencies_ms]
    passed = sum(verdict.passed for verdict in verdicts)
    return {
        "calls": len(verdicts),
        "passed": passed,
        "pass_rate": passed / len(verdicts) if verdicts else 0.0,
        "turns_behind": sum(verdict.behind for verdict in verdicts),
        "false_starts": sum(verdict.false_starts for verdict in verdicts),
        "numbers_said": sum(verdict.numbers_said for verdict in verdicts),
        "numbers_misheard": sum(verdict.numbers_misheard for verdict in verdicts),
        "latency_p50_ms": median(latencies),
        "latency_p95_ms": percentile(latencies, 0.95),
        "latency_replies": len(latencies),
        "failures_by_check": dict(Counter(failure.check for verdict in verdicts for failure in verdict.failures)),
    }


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def report(args: argparse.Namespace, machine: list[str], verdicts: list[Verdict]) -> str:
    width = max([len(verdict.scenario) for verdict in verdicts] + [8]) + 2
    noise = f"noise {args.snr:g} dB SNR" if args.snr is not None else "no noise (but scenarios with their own)"
    lines = [
        *machine,
        f"Load average after: {load_average()}",
        f"Callers: {describe_voices(args.voices)}; {args.band} band; {noise}. Agents' speech recognition: "
        f"{args.stt_model or 'their default'}; agents' voice: {args.agent_voice or 'their default'}. One call at a "
        "time, each judged from the agent's audio as the caller heard it (Whisper base, beam search).",
        "",
        f"{'scenario':<{width}}{'voice':<8}{'result':<8}{'p50 ms':>7}  failing check",
    ]
    for verdict in verdicts:
        result = "pass" if verdict.passed else "FAIL"
        first = str(verdict.failures[0]) if verdict.failures else ""
        if len(verdict.failures) > 1:
            first += f" (+{len(verdict.failures) - 1} more)"
        lines.append(
            f"{verdict.scenario:<{width}}{verdict.voice:<8}{result:<8}{ms(median(verdict.latencies_ms)):>7}  {first}"
        )
    figures = summary(verdicts)
    checks = ", ".join(f"{check} {count}" for check, count in Counter(figures["failures_by_check"]).most_common())
    by_voice = "; ".join(
        f"{voice} {sum(v.passed for v in verdicts if v.voice == voice)}/{sum(v.voice == voice for v in verdicts)}"
        for voice in args.voices
    )
    lines += [
        "",
        f"Passed {figures['passed']}/{figures['calls']} ({100 * figures['pass_rate']:.0f}%: {by_voice}); turns "
        f"behind {figures['turns_behind']}; numbers mis-heard {figures['numbers_misheard']} of "
        f"{figures['numbers_said']} said; latency at the caller's ear p50 {ms(figures['latency_p50_ms'])} ms, p95 "
        f"{ms(figures['latency_p95_ms'])} ms ({figures['latency_replies']} replies)",
        f"Failures by check: {checks or 'none'}; false starts (a reply begun in the caller's pause, dropped as they "
        f"went on): {figures['false_starts']}",
        "Latency: the turn's last audio frame sent -> the reply's first audio frame received. Numbers mis-heard: "
        "number facts the agent's text held but its audio, transcribed, did not.",
    ]
    return "\n".join(lines)


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    return {
        "scenario": verdict.scenario,
        "voice": verdict.voice,
        "passed": verdict.passed,
        "call_id": verdict.call_id,
        "end_reason": verdict.end_reason,
        "failures": [asdict(failure) for failure in verdict.failures],
        "greeting_heard": verdict.greeting,
        "turns": [
            {
                "said": turn.said,
                "latency_ms": turn.latency_ms,
                "replies": [
                    {
                        "seconds": round(reply.seconds, 2),
                        "over_caller": reply.over_caller,
                        "agent_text": reply.said,
                        "heard": reply.heard,
                    }
                    for reply in turn.replies
                ],
            }
            for turn in verdict.turns
        ],
        "record_turns": verdict.record_turns,
    }


# Run


async def run(args: argparse.Namespace, out: IO[str]) -> list[Verdict]:
    scenarios = select(load_scenarios(), args.only, args.quick)
    if not scenarios:
        raise SystemExit("no scenario matches")
    machine = describe_machine()
    async with AsyncExitStack() as stack:
        work = stack.enter_context(temporary_dir())
        stack.push_async_callback(stop_session_piper_server)
        pgdata = work / "postgres"
        stack.callback(stop_postgres, pgdata)  # if it outlives its handle
        embedded = EmbeddedPostgres(pgdata)
        stack.callback(embedded.stop)
        url = await asyncio.to_thread(embedded.start)
        await asyncio.to_thread(migrate, url)
        server = start_server(work, url, args.log_level, None)
        if args.audio_dir is not None:  # after the server stopped: its whole log, with the audio
            args.audio_dir.mkdir(parents=True, exist_ok=True)
            stack.callback(shutil.copyfile, server.log_path, args.audio_dir / "server.log")
        stack.callback(stop_server, server)
        await asyncio.to_thread(wait_until_ready, server, "/health/ready")
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{server.port}", timeout=60) as client:
            verdicts = await run_scenarios(
                Api(client),
                url,
                work / "data",
                scenarios,
                args.voices,
                args.band,
                args.snr,
                args.audio_dir,
                progress=lambda line: print(line, file=sys.stderr, flush=True),
                overrides=agent_overrides(args.stt_model, args.agent_voice),
            )
    print(report(args, machine, verdicts), file=out, flush=True)
    if args.json is not None:
        document = {
            "machine": machine,
            "options": {
                "voices": args.voices,
                "band": args.band,
                "snr": args.snr,
                "only": args.only,
                "stt_model": args.stt_model,
                "agent_voice": args.agent_voice,
            },
            "summary": summary(verdicts),
            "verdicts": [verdict_json(verdict) for verdict in verdicts],
        }
        args.json.write_text(json.dumps(document, indent=2))
    return verdicts


def main(argv: Sequence[str] | None = None) -> None:
    try:
        asyncio.run(run(parse_args(argv), sys.stdout))
    except ScenarioError as error:
        raise SystemExit(str(error)) from None


if __name__ == "__main__":
    main()
