"""A small HTTP/1.1 load generator, run in its own process by `benchmarks.api`.

Reads a JSON config on stdin, keeps `connections` keep-alive connections busy with GET requests (closed loop: each
connection sends its next request when the previous answer is in), first for `warmup` seconds (not counted) and then
for `duration` seconds, and prints one JSON object with the request count and latency percentiles.

It speaks raw HTTP over asyncio streams (on uvloop when present) instead of using an HTTP client library, so that the
generator costs far less CPU per request than the servers it drives and the measurement is about the servers.
"""

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Config:
    host: str
    port: int
    path: str
    headers: dict[str, str]
    connections: int
    duration: float
    warmup: float


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    warmup_requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


def build_request(config: Config) -> bytes:
    lines = [f"GET {config.path} HTTP/1.1", f"Host: {config.host}:{config.port}", "Accept: application/json"]
    lines += [f"{name}: {value}" for name, value in config.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    raise RuntimeError(f"Response without Content-Length: {head[:200]!r}")


async def connection_loop(config: Config, request: bytes, warmup_until: float, stop_at: float, tally: Tally) -> None:
    reader, writer = await asyncio.open_connection(config.host, config.port)
    try:
        while True:
            started = time.perf_counter()
            if started >= stop_at:
                return
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(content_length(head))
            finished = time.perf_counter()
            if started < warmup_until:
                tally.warmup_requests += 1
                continue
            status = int(head[9:12])
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            if status == 200:
                tally.latencies.append(finished - started)
            else:
                tally.errors += 1
    finally:
        writer.close()


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values)) - 1))
    return sorted_values[rank]


async def run(config: Config) -> dict[str, Any]:
    request = build_request(config)
    tally = Tally()
    start = time.perf_counter()
    warmup_until = start + config.warmup
    stop_at = warmup_until + config.duration
    await asyncio.gather(
        *(connection_loop(config, request, warmup_until, stop_at, tally) for _ in range(config.connections))
    )
    # Requests started before `stop_at` finish a little after it: count the real measured span.
    elapsed = max(time.perf_counter() - warmup_until, 1e-9)
    latencies = sorted(tally.latencies)
    return {
        "requests": len(latencies),
        "errors": tally.errors,
        "total_requests": tally.warmup_requests + len(latencies) + tally.errors,
        "statuses": {str(code): count for code, count in sorted(tally.statuses.items())},
        "elapsed_s": elapsed,
        "rps": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }


def main() -> None:
    config = Config(**json.load(sys.stdin))
    try:
        import uvloop
    except ImportError:  # plain asyncio works, only at a higher cost per request
        result = asyncio.run(run(config))
    else:
        result = uvloop.run(run(config))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
