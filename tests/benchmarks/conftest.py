import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A short temporary directory: PostgreSQL's socket path (inside the data dir) must stay under ~100 characters."""
    path = Path(tempfile.mkdtemp(prefix="vb-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run_benchmark(module: str, arguments: list[str], scratch: Path, timeout: float) -> str:
    """Run `python -m benchmarks.<module>` with its work dir under `scratch` (so its removal can be checked)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("VOCALIS_")}
    env["TMPDIR"] = str(scratch)
    completed = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *arguments],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def assert_cleaned_up(scratch: Path) -> None:
    """The benchmark removed its work dir and stopped its PostgreSQL."""
    assert list(scratch.glob("vocalis-bench-*")) == []
    leftovers = [
        process.pid
        for process in psutil.process_iter(["name", "cmdline"])
        if process.info["name"] == "postgres" and str(scratch) in " ".join(process.info["cmdline"] or [])
    ]
    assert leftovers == []
