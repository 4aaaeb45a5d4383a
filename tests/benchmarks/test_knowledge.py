"""Smoke test of `python -m benchmarks.knowledge`: it ingests, searches, measures recall and quality, reports every
figure, and cleans up after itself.

The run is tiny (a few documents, knowledge bases of hundreds of chunks), so the figures prove only that measuring
works, not how fast or how good search is.
"""

import re
from pathlib import Path

from tests.benchmarks.conftest import assert_cleaned_up, run_benchmark

TINY_RUN = [
    "--documents",
    "3",
    "--real-chunks",
    "40",
    "--sizes",
    "300,3000",
    "--queries",
    "8",
    "--businesses",
    "4",
    "--questions-per-business",
    "3",
]
NUMBER = r"(\d+(?:\.\d+)?)"


def test_benchmark_runs_and_reports_figures(scratch: Path) -> None:
    output = run_benchmark("knowledge", TINY_RUN, scratch, timeout=85)

    # 1. Ingestion: every row has its throughput and stage shares.
    for label in ("1 at a time, PDF", "1 at a time, text", "1 at a time, all", "2 at a time, all"):
        row = re.search(
            rf"^{label}\s+(\d+)\s+(\d+|-)\s+(\d+)\s+{NUMBER}\s+({NUMBER}|-)\s+{NUMBER}\s+\d+%", output, re.M
        )
        assert row, output
        assert int(row.group(3)) > 0 and float(row.group(4)) > 0, row.group(0)
    assert re.search(r"^1 at a time, all\s+3\s+\d+\s+\d+", output, re.M), output

    # 2. Latency: p50 <= p95 for every mode at both sizes, the synthetic vectors said so, the plan shown.
    for size in ("300", "3,000"):
        for label in (
            "query embedding alone",
            "vector",
            r"keyword \(full text\)",
            r"hybrid \(service\.retrieve\)",
        ):
            row = re.search(rf"^\s+{size}\s+{label}\s+{NUMBER}\s+{NUMBER}$", output, re.M)
            assert row, (label, output)
            p50, p95 = (float(value) for value in row.groups())
            assert 0 < p50 <= p95, row.group(0)
    assert "40 chunks embedded for real" in output and "SYNTHETIC" in output
    assert re.search(
        r"^EXPLAIN of vector_search at 3,000 chunks: .+ \((uses|does NOT use) the HNSW index\)$", output, re.M
    )

    # 3. Recall at both sizes: the exact row, then each ef_search tried, the current one marked.
    rows = re.findall(
        rf"^\s+([\d,]+)\s+(exact|\d+)\s+(scan|HNSW)\s+{NUMBER}\s+{NUMBER}\s+(-?{NUMBER})\s+{NUMBER}(  \(current\))?$",
        output,
        re.M,
    )
    assert [(size, ef) for size, ef, *_ in rows] == [
        (size, ef) for size in ("300", "3,000") for ef in ("exact", "40", "100", "200", "400", "800", "1000")
    ], output
    for _, ef, plan, recall, top1, _, _, p50, current in rows:
        assert 0 <= float(recall) <= 1 and 0 <= float(top1) <= 1 and float(p50) > 0
        assert (ef == "exact") <= (plan == "scan") and bool(current) == (ef == "100")

    # 4. Quality of each mode, on 4 businesses' 40 passages and 12 questions.
    assert "40 passages of 4 businesses (one knowledge base), 12 labelled caller questions" in output
    for mode in ("hybrid", "vector", "keyword"):
        row = re.search(
            rf"^{mode}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}$", output, re.M
        )
        assert row, (mode, output)
        recall, mrr = float(row.group(1)), float(row.group(2))
        assert 0 <= mrr <= recall <= 1, row.group(0)

    summary = re.search(
        rf"^retrieve p50 {NUMBER} ms, p95 {NUMBER} ms at 300 chunks \(goal < 50 ms: (met|MISSED)\); "
        rf"HNSW recall@10 {NUMBER} at 3,000 chunks \(goal >= 0.95: (met|MISSED)\); "
        rf"recall@5 hybrid {NUMBER} vs vector {NUMBER}, keyword {NUMBER} \(goal: hybrid beats both: (met|MISSED)\); "
        rf"ingestion {NUMBER} chunks/s, embedding \d+% of the time$",
        output,
        re.M,
    )
    assert summary, output
    assert re.search(r"^Vocalis knowledge benchmark on \d+ CPUs", output, re.M)

    # Nothing left behind: the temporary work dir is gone and its PostgreSQL stopped.
    assert_cleaned_up(scratch)
