"""Smoke test of `python -m benchmarks.api`: it starts both servers, produces its figures, and cleans up after itself.

The run is tiny (a fraction of a second per target), so the figures prove only that measuring works, not how fast.
"""

import re
from pathlib import Path

from tests.benchmarks.conftest import assert_cleaned_up, run_benchmark

TINY_RUN = ["--duration", "0.3", "--warmup", "0.1", "--rounds", "1", "--logins", "2", "--connections", "2"]
NUMBER = r"(\d+(?:\.\d+)?)"


def test_benchmark_runs_and_reports_figures(scratch: Path) -> None:
    output = run_benchmark("api", TINY_RUN, scratch, timeout=55)

    for label in (r"GET /bare \(bare FastAPI\)", r"GET /api/v1/auth/me"):
        row = re.search(rf"^{label}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER} us", output, re.MULTILINE)
        assert row, output
        rps, p50, p99, _ = (float(value) for value in row.groups())
        assert rps > 0 and 0 < p50 <= p99, row.group(0)
    login = re.search(rf"^POST login \(x2, serial\)\s+-\s+{NUMBER}\s+{NUMBER}\s+{NUMBER} ms", output, re.MULTILINE)
    assert login and float(login.group(1)) > 0, output

    summary = re.search(
        rf"^/api/v1/auth/me at {NUMBER}x bare throughput \(goal >= 0.5: (met|MISSED)\); "
        rf"login p50 {NUMBER} ms, {NUMBER} ms CPU per login \(goal < 50 ms: (met|MISSED)\)$",
        output,
        re.MULTILINE,
    )
    assert summary, output
    assert float(summary.group(1)) > 0
    assert "2 keep-alive connections" in output and "log level INFO" in output

    # Nothing left behind: the temporary data dir is gone and its PostgreSQL stopped.
    assert_cleaned_up(scratch)
