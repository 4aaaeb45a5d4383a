"""Smoke test of `python -m benchmarks.api`: it starts both servers, produces its figures, and cleans up after itself.

The run is tiny (a fraction of a second per target), so the figures prove only that measuring works, not how fast.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_RUN = ["--duration", "0.3", "--warmup", "0.1", "--rounds", "1", "--logins", "2", "--connections", "2"]
NUMBER = r"(\d+(?:\.\d+)?)"


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A short temporary directory: PostgreSQL's socket path (inside the data dir) must stay under ~100 characters."""
    path = Path(tempfile.mkdtemp(prefix="vb-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_benchmark_runs_and_reports_figures(scratch: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("VOCALIS_")}
    env["TMPDIR"] = str(scratch)  # the benchmark makes its data dir here, so its removal can be checked
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.api", *TINY_RUN],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=55,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    output = completed.stdout

    for label in (r"GET /bare \(bare FastAPI\)", r"GET /api/v1/auth/me"):
        row = re.search(rf"^{label}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER} us", output, re.MULTILINE)
        assert row, output
        rps, p50, p99, _ = (float(value) for value in row.groups())
        assert rps > 0 and 0 < p50 <= p99, row.group(0)
    login = re.search(rf"^POST login \(x2, serial\)\s+-\s+{NUMBER}\s+{NUMBER}\s+{NUMBER} ms", output, re.MULTILINE)
    assert login and float(login.group(1)) > 0, output

    summary = re.search(
        rf"^auth/me at {NUMBER}x bare throughput \(goal >= 0.5: (met|MISSED)\); "
        rf"login p50 {NUMBER} ms, {NUMBER} ms CPU per login \(goal < 50 ms: (met|MISSED)\)$",
        output,
        re.MULTILINE,
    )
    assert summary, output
    assert float(summary.group(1)) > 0
    assert "2 keep-alive connections" in output and "log level INFO" in output

    # Nothing left behind: the temporary data dir is gone and its PostgreSQL stopped.
    assert list(scratch.glob("vocalis-bench-*")) == []
    leftovers = [
        process.pid
        for process in psutil.process_iter(["name", "cmdline"])
        if process.info["name"] == "postgres" and str(scratch) in " ".join(process.info["cmdline"] or [])
    ]
    assert leftovers == []
