"""Smoke test of `python -m benchmarks.voice`: it serves the platform, makes real web calls on the offline stack and
with stand-in providers, reports both tables and the summary, and leaves nothing running.

The run is `--quick` (one question per speech stack, one density level of 3 calls for 8 s), so the figures prove
only that measuring works, not how fast the platform is.
"""

import re
from pathlib import Path

import psutil

from tests.benchmarks.conftest import assert_cleaned_up, run_benchmark

NUMBER = r"(\d+(?:\.\d+)?)"
STAGE = r"(\d+|-)"


def processes_of_run(scratch: Path) -> list[str]:
    """Processes still running with the run's TMPDIR: everything it started inherits it (the servers, the client
    processes, Piper children, PostgreSQL)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if process.environ().get("TMPDIR") == str(scratch):
                found.append(" ".join(process.info["cmdline"] or []))
        except psutil.Error:  # gone meanwhile, or not ours to read
            pass
    return found


def test_benchmark_runs_and_reports_figures(scratch: Path) -> None:
    output = run_benchmark("voice", ["--quick"], scratch, timeout=200)

    assert re.search(r"^Vocalis voice benchmark on \d+ CPUs \(.+\), .+ RAM, Python .+, Pipecat \S+", output, re.M)

    # 1. Latency: a row per speech stack, its one question answered, client and server figures, stage medians.
    assert "1 questions each (+1 warm-up, not counted)" in output
    for stack in ("tiny.en/hibari", "base/hibari", "base/piper"):
        row = re.search(
            rf"^{re.escape(stack)}\s+1/1\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}"
            rf"\s+{STAGE}\s+{STAGE}\s+{STAGE}\s+{STAGE}\s+[01]/1\s+{NUMBER}%$",
            output,
            re.M,
        )
        assert row, (stack, output)
        client_p50, client_p95, server_p50, server_p95 = (float(value) for value in row.groups()[:4])
        assert 0 < client_p50 <= client_p95 < 30_000 and 0 < server_p50 <= server_p95 < 30_000, row.group(0)
    warm_up = r"^Warm-up turn, client ms: tiny\.en/hibari (\d+|-), base/hibari (\d+|-), base/piper (\d+|-)$"
    assert re.search(warm_up, output, re.M), output

    # 2. Density: the one level of 3 calls, in one client process, with turns, frames and no errors; then its CPU,
    # memory and event-loop lag.
    row = re.search(
        rf"^\s+3\s+1\s+(\d+)\s+{STAGE}\s+(\d+)\s+{NUMBER}\s+(\d+)\s+{NUMBER}\s+{NUMBER}\s+(\d+)$", output, re.M
    )
    assert row, output
    turns, _, frames, late, glitches, _, opening_late, errors = row.groups()
    assert int(turns) >= 1 and int(frames) > 0 and int(errors) == 0, row.group(0)
    assert 0 <= float(late) <= 100 and 0 <= float(opening_late) <= 100 and int(glitches) >= 0
    resources = re.search(
        rf"^\s+3\s+{NUMBER}%\s+{NUMBER}%\s+(\d+)\s+{NUMBER}%\s+{NUMBER}%\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$",
        output,
        re.M,
    )
    assert resources, output
    server_cpu, per_call, rss, _, _, lag_p99, lag_max, client_p99, client_max = resources.groups()
    assert float(server_cpu) > 0 and float(per_call) > 0 and int(rss) > 0
    assert int(lag_p99) <= int(lag_max) and int(client_p99) <= int(client_max)
    assert "callers per client process, at niceness " in output

    summary = re.search(
        rf"^voice: p50 {NUMBER} ms \(goal < 600: (met|MISSED)\), p95 {NUMBER} ms \(goal < 900: (met|MISSED)\) "
        rf"\(tiny\.en/hibari; base/hibari p50 {NUMBER} ms; base/piper p50 {NUMBER} ms\); "
        rf"(density 3 calls < 1% late \(goal >= 50: MISSED\), {NUMBER}% CPU per call "
        r"\(the highest level tried\)|density: no level < 1% late \(goal >= 50: MISSED\))$",
        output,
        re.M,
    )
    assert summary, output

    # Nothing left behind: the work dir is gone, PostgreSQL, the servers, their Piper and the clients stopped.
    assert_cleaned_up(scratch)
    assert processes_of_run(scratch) == []
