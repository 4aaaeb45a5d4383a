"""Knowledge benchmark: ingestion throughput, search latency at 10k and 100k chunks, HNSW recall, retrieval quality.

    python -m benchmarks.knowledge [--documents N] [--real-chunks N] [--sizes 10000,100000] [--queries N]
                                   [--businesses N] [--questions-per-business N] [--noise SIGMA] [--seed N]

Everything runs in this process against an embedded PostgreSQL (pgvector) in a temporary directory, migrated like
production, with the platform's own code: `ingestion.ingest` for documents, `service.retrieve` (hybrid) and
`service._search` (vector, keyword) for searches, `repository.vector_search` for recall. The text is generated
(`benchmarks._knowledge_corpus`: fictional businesses, seeded).

1. Ingestion: generated multi-page PDFs and text files go through the whole pipeline (sandboxed parse process,
   chunking, the offline MiniLM model, storage), one document at a time, then as many at a time as the job worker
   runs; each document's per-stage timings give the share of each stage.
2. Search latency: a knowledge base is filled to each size. The offline model embeds about 40 texts/s on a small
   machine, so only `--real-chunks` chunks are embedded for real (the ingested ones, then generated passages); the
   others are synthetic: a real chunk's vector plus Gaussian noise, re-normalised, with generated text of their own,
   loaded in bulk (COPY, with `to_tsvector` computed by PostgreSQL as in `replace_chunks`). Each query runs in every
   mode, in turn, in a transaction of its own; vector and hybrid latencies include embedding the query.
3. HNSW recall@10 at each size against the exact search (the same query with index scans off), for several
   `hnsw.ef_search` values (with the plan PostgreSQL picks at each: a large ef_search can make it scan instead).
4. Retrieval quality: recall@5 and MRR@5 of labelled caller questions over a knowledge base of business passages,
   for hybrid, vector-only and keyword-only search; again at the end, when the chunks table also holds the large
   knowledge base.

Goals (from the issue): `retrieve` well under 50 ms for a 10,000-chunk knowledge base; recall@10 >= 0.95 at
100,000 chunks; hybrid beats both vector-only and keyword-only search.
"""

import argparse
import asyncio
import hashlib
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import numpy as np
import onnxruntime
import psycopg
from loguru import logger
from pgvector import Vector
from pgvector.psycopg import register_vector_async
from sqlalchemy import event, select, text
from tests.knowledge.files import pdf

from benchmarks import _knowledge_corpus as corpus
from benchmarks._machine import cpu_model, load_average
from vocalis.auth.permissions import Permission
from vocalis.auth.principal import Principal
from vocalis.config import Settings
from vocalis.database import migrate
from vocalis.kit.db import ALL_TENANTS, Database, libpq_url
from vocalis.kit.embedded_postgres import EmbeddedPostgres
from vocalis.kit.storage import LocalStorage
from vocalis.knowledge import repository, service
from vocalis.knowledge.chunking import counting_tokenizer
from vocalis.knowledge.embeddings import LOCAL_DIMENSION, LOCAL_MAX_TOKENS, LOCAL_MODEL, LocalEmbedder
from vocalis.knowledge.ingestion import ingest
from vocalis.knowledge.repository import Hit
from vocalis.knowledge.schemas import KnowledgeBaseCreate
from vocalis.models.knowledge import Chunk, Document, DocumentStatus, KnowledgeBase
from vocalis.models.user import Role
from vocalis.tenants import service as tenants
from vocalis.users.schemas import UserCreate

TOP_K = 5
RECALL_K = 10
NOISE_SIGMA = 0.03  # per dimension: the noise vector's norm is about 0.6 (a unit vector's is 1)
EF_SEARCH_VALUES = (40, 100, 200, 400, 800, 1000)  # 1000: pgvector's maximum
LATENCY_GOAL_MS = 50.0
RECALL_GOAL = 0.95
GOAL_SIZE = 10_000
CHUNKS_PER_DOCUMENT = 1000  # synthetic chunks per document row
LOAD_BATCH = 5000
WARMUP_QUERIES = 5
MODES = ("vector", "keyword", "hybrid")
DIMENSION = LOCAL_DIMENSION


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.knowledge", description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=36, help="documents ingested (2 in 3 are PDFs)")
    parser.add_argument(
        "--real-chunks", type=int, default=2000, help="chunks of the large knowledge base embedded for real"
    )
    parser.add_argument("--sizes", default="10000,100000", help="knowledge base sizes (chunks), comma-separated")
    parser.add_argument("--queries", type=int, default=100, help="queries per mode and size, and for recall")
    parser.add_argument(
        "--businesses", type=int, default=25, help=f"businesses of the labelled corpus (1-{len(corpus.KINDS)})"
    )
    parser.add_argument("--questions-per-business", type=int, default=6, help="labelled questions per business")
    parser.add_argument(
        "--noise", type=float, default=NOISE_SIGMA, help="standard deviation per dimension of the synthetic noise"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    try:
        args.sizes = sorted({int(size.replace("_", "")) for size in args.sizes.split(",") if size.strip()})
    except ValueError:
        parser.error("--sizes must be comma-separated numbers")
    if args.documents < 1 or args.real_chunks < 1 or args.queries < 1 or not args.sizes:
        parser.error("--documents, --real-chunks, --queries must be >= 1 and --sizes not empty")
    if args.sizes[0] < args.real_chunks:
        parser.error("every size must be at least --real-chunks")
    if not 1 <= args.businesses <= len(corpus.KINDS) or not 1 <= args.questions_per_business <= len(corpus.TOPICS):
        parser.error(f"--businesses must be 1-{len(corpus.KINDS)}, --questions-per-business 1-{len(corpus.TOPICS)}")
    return args


# Set-up


@dataclass
class Bench:
    database: Database
    storage: LocalStorage
    settings: Settings
    url: str  # libpq form, for COPY
    tenant_id: uuid.UUID
    embedder: LocalEmbedder = field(default_factory=LocalEmbedder)

    async def new_base(self, name: str) -> KnowledgeBase:
        """A knowledge base with the defaults of the API (offline model, default chunking)."""
        principal = Principal(self.tenant_id, frozenset({Permission.KNOWLEDGE_WRITE}), role=Role.OWNER)
        async with self.database.transaction(self.tenant_id) as session:
            return await service.create_base(session, principal, self.settings, KnowledgeBaseCreate(name=name))

    async def new_document(
        self, base: KnowledgeBase, title: str, fmt: str, data: bytes, *, store: bool = True, chunks: int = 0
    ) -> uuid.UUID:
        """A pending document with its file stored, as an upload makes it (`store=False`: a row for bulk chunks)."""
        document_id = uuid.uuid4()
        key = f"tenants/{self.tenant_id}/documents/{document_id}"
        if store:
            await self.storage.put(key, data)
        async with self.database.transaction(self.tenant_id) as session:
            session.add(
                Document(
                    id=document_id,
                    tenant_id=self.tenant_id,
                    knowledge_base_id=base.id,
                    title=title,
                    filename=f"{title}.{fmt}",
                    format=fmt,
                    content_type=None,
                    size_bytes=len(data),
                    content_hash=hashlib.sha256(data or document_id.bytes).hexdigest(),
                    storage_key=key,
                    status=DocumentStatus.PENDING if store else DocumentStatus.READY,
                    attempts=0,
                    chunk_count=chunks,
                    timings={},
                )
            )
        return document_id


@contextmanager
def temporary_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="vocalis-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


async def create_tenant(database: Database) -> uuid.UUID:
    owner = UserCreate(email="bench-user@example.com", username="bench_user", password="bench-password-123")
    async with database.transaction(ALL_TENANTS) as session:
        tenant, _ = await tenants.create_with_owner(session, name="Benchmark", owner=owner, plan="enterprise")
        return tenant.id


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def unit(vectors: np.ndarray[Any, np.dtype[np.float32]]) -> np.ndarray[Any, np.dtype[np.float32]]:
    norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    result: np.ndarray[Any, np.dtype[np.float32]] = (vectors / norms).astype(np.float32)
    return result


# 1. Ingestion


@dataclass(frozen=True)
class SourceFile:
    title: str
    fmt: str
    data: bytes


@dataclass(frozen=True)
class Ingested:
    fmt: str
    pages: int  # PDF pages (text files have none)
    chunks: int
    tokens: int
    seconds: float  # the ingest() call
    timings: dict[str, int]  # the document's per-stage milliseconds


@dataclass(frozen=True)
class IngestionRun:
    label: str
    documents: list[Ingested]
    wall_s: float  # all documents, start to end

    def row(self, label: str, fmt: str | None = None) -> "IngestionRow":
        chosen = [d for d in self.documents if fmt is None or d.fmt == fmt]
        stages: dict[str, int] = {}
        for document in chosen:
            for stage, ms in document.timings.items():
                stages[stage] = stages.get(stage, 0) + int(ms)
        return IngestionRow(
            label=label,
            documents=len(chosen),
            pages=sum(d.pages for d in chosen),
            chunks=sum(d.chunks for d in chosen),
            tokens=sum(d.tokens for d in chosen),
            # One format alone: its documents' own times (they ran one at a time); all: start to end.
            wall_s=self.wall_s if fmt is None else sum(d.seconds for d in chosen),
            busy_s=sum(d.seconds for d in chosen),
            stages_ms=stages,
        )


@dataclass(frozen=True)
class IngestionRow:
    label: str
    documents: int
    pages: int
    chunks: int
    tokens: int
    wall_s: float
    busy_s: float  # the documents' ingest() times, summed
    stages_ms: dict[str, int]  # summed over the documents


def source_files(rng: random.Random, count: int) -> list[SourceFile]:
    files = []
    for index in range(count):
        if index % 3 < 2:
            pages = corpus.handbook_pages(rng, rng.randint(3, 8), 4)
            files.append(SourceFile(f"handbook-{index:03d}", "pdf", pdf(pages)))
        else:
            paragraphs = corpus.handbook_pages(rng, rng.randint(12, 24), 2)
            files.append(SourceFile(f"notes-{index:03d}", "txt", "\n\n".join(paragraphs).encode()))
    return files


async def run_ingestion(
    bench: Bench, base: KnowledgeBase, files: Sequence[SourceFile], concurrency: int, label: str
) -> IngestionRun:
    document_ids = [await bench.new_document(base, file.title, file.fmt, file.data) for file in files]
    durations: dict[uuid.UUID, float] = {}
    slots = asyncio.Semaphore(concurrency)

    async def one(document_id: uuid.UUID) -> None:
        async with slots:
            started = time.perf_counter()
            await ingest(bench.database, bench.storage, bench.settings, document_id)
            durations[document_id] = time.perf_counter() - started

    started = time.perf_counter()
    await asyncio.gather(*(one(document_id) for document_id in document_ids))
    wall = time.perf_counter() - started
    async with bench.database.transaction(bench.tenant_id) as session:
        documents = (await session.scalars(select(Document).where(Document.id.in_(document_ids)))).all()
    failed = [f"{d.title}: {d.error}" for d in documents if d.status != DocumentStatus.READY]
    if failed:
        raise RuntimeError(f"Ingestion failed: {failed}")
    records = [
        Ingested(
            fmt=d.format,
            pages=(d.page_count or 0) if d.format == "pdf" else 0,
            chunks=d.chunk_count,
            tokens=d.token_count,
            seconds=durations[d.id],
            timings={stage: int(ms) for stage, ms in d.timings.items()},
        )
        for d in documents
    ]
    return IngestionRun(label, records, wall)


# 2. Bulk chunks and search latency


@dataclass
class Pool:
    """The really embedded chunks the synthetic ones are made from."""

    texts: list[str]
    vectors: np.ndarray[Any, np.dtype[np.float32]]
    ingested: int  # how many of them came out of the ingestion run
    embed_s: float  # time to embed the others


@dataclass(frozen=True)
class Load:
    rows: int
    seconds: float
    mean_cosine: float  # synthetic vector . its source vector


async def real_pool(bench: Bench, base: KnowledgeBase, rng: random.Random, count: int) -> Pool:
    async with bench.database.transaction(bench.tenant_id) as session:
        rows = (
            await session.execute(
                select(Chunk.content, Chunk.embedding)
                .where(Chunk.knowledge_base_id == base.id)
                .order_by(Chunk.document_id, Chunk.ordinal)
            )
        ).all()
    texts = [content for content, _ in rows][:count]
    vectors = [np.asarray(embedding, dtype=np.float32) for _, embedding in rows][:count]
    ingested = len(texts)
    extra = [corpus.handbook_pages(rng, 1, rng.randint(2, 3))[0] for _ in range(count - ingested)]
    started = time.perf_counter()
    embedded = await bench.embedder.embed(extra) if extra else []
    embed_s = time.perf_counter() - started
    texts += extra
    vectors += [np.asarray(vector, dtype=np.float32) for vector in embedded]
    return Pool(texts, np.vstack(vectors), ingested, embed_s)


def synthetic_text(rng: random.Random) -> str:
    """Like a page of a business's handbook: 6-10 passages about one business."""
    return corpus.handbook_pages(rng, 1, rng.randint(6, 10))[0]


async def bulk_insert(
    bench: Bench, base: KnowledgeBase, texts: Sequence[str], vectors: np.ndarray[Any, np.dtype[np.float32]]
) -> float:
    """Insert chunks with COPY into a staging table, then INSERT ... SELECT computing `search_vector` as
    `replace_chunks` does. Returns the seconds taken (HNSW and GIN index maintenance included)."""
    documents: list[tuple[uuid.UUID, int]] = []
    for begin in range(0, len(texts), CHUNKS_PER_DOCUMENT):
        size = min(CHUNKS_PER_DOCUMENT, len(texts) - begin)
        documents.append(
            (
                await bench.new_document(base, f"bulk-{uuid.uuid4().hex[:8]}", "txt", b"", store=False, chunks=size),
                begin,
            )
        )
    rows = [
        (document_id, ordinal, texts[begin + ordinal], vectors[begin + ordinal])
        for document_id, begin in documents
        for ordinal in range(min(CHUNKS_PER_DOCUMENT, len(texts) - begin))
    ]
    started = time.perf_counter()
    async with await psycopg.AsyncConnection.connect(bench.url) as connection:
        await register_vector_async(connection)
        await connection.execute(
            "CREATE TEMP TABLE staging (document_id uuid, ordinal int, content text, token_count int, embedding vector)"
        )
        for begin in range(0, len(rows), LOAD_BATCH):
            async with connection.cursor() as cursor:
                async with cursor.copy("COPY staging FROM STDIN WITH (FORMAT BINARY)") as copy:
                    copy.set_types(["uuid", "int4", "text", "int4", "vector"])
                    for document_id, ordinal, content, vector in rows[begin : begin + LOAD_BATCH]:
                        # Token counts are estimated (1.3 per word): nothing measured here reads them.
                        await copy.write_row(
                            (document_id, ordinal, content, round(len(content.split()) * 1.3), Vector(vector))
                        )
                await cursor.execute(
                    "INSERT INTO chunks (id, tenant_id, knowledge_base_id, document_id, ordinal, content, "
                    "token_count, page, embedding_dimension, embedding, search_vector) "
                    "SELECT gen_random_uuid(), %(tenant)s, %(base)s, document_id, ordinal, content, token_count, "
                    "NULL, %(dimension)s, embedding, to_tsvector('english'::regconfig, content) FROM staging",
                    {"tenant": bench.tenant_id, "base": base.id, "dimension": DIMENSION},
                )
                await cursor.execute("TRUNCATE staging")
            await connection.commit()
        await connection.set_autocommit(True)
        await connection.execute("VACUUM ANALYZE chunks")
    return time.perf_counter() - started


async def grow(
    bench: Bench, base: KnowledgeBase, pool: Pool, start: int, target: int, rng: random.Random, noise: float
) -> Load:
    """Add chunks to `base` until it holds `target`: the pool's real ones first, then synthetic ones."""
    real = pool.texts[start:target]
    count = target - start - len(real)
    np_rng = np.random.default_rng(rng.randrange(2**32))
    sources = np_rng.integers(0, len(pool.texts), count)
    noisy = unit(pool.vectors[sources] + np_rng.normal(0.0, noise, (count, DIMENSION)).astype(np.float32))
    cosine = float(np.mean(np.sum(noisy * pool.vectors[sources], axis=1))) if count else 1.0
    texts = [*real, *(synthetic_text(rng) for _ in range(count))]
    vectors = np.vstack([pool.vectors[start : start + len(real)], noisy]) if count else pool.vectors[start:target]
    seconds = await bulk_insert(bench, base, texts, vectors)
    return Load(len(texts), seconds, cosine)


async def timed_search(bench: Bench, base_ids: list[uuid.UUID], query: str, mode: str) -> tuple[float, list[Hit]]:
    """One search in short transactions of its own, as an API request makes it."""
    started = time.perf_counter()
    if mode == "hybrid":
        hits = await service.retrieve(bench.database, bench.settings, bench.tenant_id, base_ids, query, TOP_K)
    else:
        async with bench.database.transaction(bench.tenant_id) as session:
            bases = await repository.bases(session, bench.tenant_id, base_ids)
        hits = await service._search(bench.database, bench.tenant_id, bench.settings, bases, query, TOP_K, mode)
    return (time.perf_counter() - started) * 1000, hits


async def query_embedding_ms(bench: Bench, query: str) -> float:
    started = time.perf_counter()
    await bench.embedder.embed([query])
    return (time.perf_counter() - started) * 1000


@dataclass(frozen=True)
class Latencies:
    size: int
    load: Load
    samples: dict[str, list[float]]  # mode -> ms per query ("embedding": the query embedding alone)
    matches: list[int]  # chunks matching each query's keyword search (any word)


async def measure_latency(
    bench: Bench, base: KnowledgeBase, queries: Sequence[str], size: int, load: Load
) -> Latencies:
    modes = list(MODES)
    for query in queries[:WARMUP_QUERIES]:
        for mode in modes:
            await timed_search(bench, [base.id], query, mode)
    samples: dict[str, list[float]] = {mode: [] for mode in ["embedding", *modes]}
    matches = [await keyword_matches(bench, base, query) for query in queries]
    for index, query in enumerate(queries):
        samples["embedding"].append(await query_embedding_ms(bench, query))
        shift = index % len(modes)  # rotate the order, so drift hits every mode alike
        for mode in modes[shift:] + modes[:shift]:
            samples[mode].append((await timed_search(bench, [base.id], query, mode))[0])
    return Latencies(size, load, samples, matches)


async def keyword_matches(bench: Bench, base: KnowledgeBase, query: str) -> int:
    """How many chunks keyword_search ranks for `query` (those containing any of its words)."""
    async with bench.database.transaction(bench.tenant_id) as session:
        count = await session.scalar(
            text(
                "SELECT count(*) FROM chunks WHERE knowledge_base_id = :base AND search_vector @@ "
                "replace(plainto_tsquery('english'::regconfig, :query)::text, '&', '|')::tsquery"
            ),
            {"base": base.id, "query": query},
        )
    return int(count or 0)


async def vector_plan(bench: Bench, base: KnowledgeBase, query_vector: list[float], limit: int = TOP_K) -> list[str]:
    """EXPLAIN of the exact statement `repository.vector_search` sends, with its settings."""
    captured: list[tuple[str, Any]] = []

    def capture(connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if "<=>" in statement:
            captured.append((statement, parameters))

    engine = bench.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        async with bench.database.transaction(bench.tenant_id) as session:
            await repository.vector_search(session, bench.tenant_id, [base.id], DIMENSION, query_vector, limit)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    statement, parameters = captured[-1]
    async with bench.database.transaction(bench.tenant_id) as session:
        await session.execute(text(f"SET LOCAL hnsw.ef_search = {max(repository.HNSW_EF_SEARCH, limit)}"))
        await session.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
        connection = await session.connection()
        result = await connection.exec_driver_sql("EXPLAIN " + statement, parameters)
        return [str(row[0]) for row in result]


def plan_summary(plan: list[str]) -> str:
    """The plan line that reads the chunks table's vectors (or the first line)."""
    for line in plan:
        if "ix_chunks_embedding" in line or " on chunks" in line:
            return line.strip().lstrip("-> ").split("  (cost")[0]
    return plan[0].strip() if plan else "(no plan)"


# 3. Recall


@dataclass(frozen=True)
class RecallPoint:
    size: int
    ef_search: int | None  # None: the exact scan
    plan: str  # "HNSW", or "scan" when the planner does not use the index (the search is then exact)
    recall: float  # share of the exact top 10 found
    top1: float  # share of queries whose nearest chunk is found
    similarity_lost: float  # mean cosine similarity of the exact top 10 minus the found top 10
    p50_ms: float  # the vector_search call (no query embedding)


async def top_chunks(bench: Bench, base: KnowledgeBase, vector: list[float], exact: bool) -> tuple[list[Hit], float]:
    """`repository.vector_search` for the top RECALL_K; `exact`: with index scans off (a scan and a sort)."""
    started = time.perf_counter()
    async with bench.database.transaction(bench.tenant_id) as session:
        if exact:
            await session.execute(text("SET LOCAL enable_indexscan = off"))
        hits = await repository.vector_search(session, bench.tenant_id, [base.id], DIMENSION, vector, RECALL_K)
    return hits, (time.perf_counter() - started) * 1000


async def measure_recall(
    bench: Bench, base: KnowledgeBase, size: int, vectors: Sequence[list[float]]
) -> list[RecallPoint]:
    exact: list[list[Hit]] = []
    exact_ms: list[float] = []
    for vector in vectors:
        hits, ms = await top_chunks(bench, base, vector, exact=True)
        exact.append(hits)
        exact_ms.append(ms)
    points = [RecallPoint(size, None, "scan", 1.0, 1.0, 0.0, statistics.median(exact_ms))]
    current = repository.HNSW_EF_SEARCH
    try:
        for ef_search in sorted({*EF_SEARCH_VALUES, current}):
            repository.HNSW_EF_SEARCH = ef_search  # read by vector_search at each call
            plan = await vector_plan(bench, base, vectors[0], RECALL_K)
            if not any("ix_chunks_embedding" in line for line in plan):
                # The planner scans at this ef_search: vector_search is the exact search, timed above.
                points.append(replace(points[0], ef_search=ef_search))
                continue
            found, top1, lost, durations = 0, 0, 0.0, []
            for vector, truth in zip(vectors, exact, strict=True):
                hits, ms = await top_chunks(bench, base, vector, exact=False)
                durations.append(ms)
                ids = {hit.chunk_id for hit in hits}
                found += len(ids & {hit.chunk_id for hit in truth})
                top1 += bool(truth) and truth[0].chunk_id in ids
                if truth:
                    lost += statistics.fmean(h.score for h in truth) - sum(h.score for h in hits) / len(truth)
            total = sum(len(truth) for truth in exact)
            points.append(
                RecallPoint(
                    size,
                    ef_search,
                    "HNSW",
                    found / total if total else 1.0,
                    top1 / len(vectors),
                    lost / len(vectors),
                    statistics.median(durations),
                )
            )
    finally:
        repository.HNSW_EF_SEARCH = current
    return points


# 4. Retrieval quality


@dataclass(frozen=True)
class Quality:
    mode: str
    recall: float  # answer in the top TOP_K
    mrr: float  # 1 / rank of the answer within the top TOP_K, else 0
    recall_named: float  # over questions naming the business
    recall_kind: float  # over questions naming only its kind
    p50_ms: float


async def store_labelled(bench: Bench, base: KnowledgeBase, passages: Sequence[corpus.Passage]) -> dict[uuid.UUID, int]:
    """Store the passages as chunks (one document per business) with `replace_chunks`; chunk id -> passage."""
    vectors = await bench.embedder.embed([p.text for p in passages])
    tokenizer = counting_tokenizer()
    by_business: dict[str, list[tuple[corpus.Passage, list[float]]]] = {}
    for item, vector in zip(passages, vectors, strict=True):
        by_business.setdefault(item.business, []).append((item, vector))
    chunk_passage: dict[uuid.UUID, int] = {}
    for business, items in by_business.items():
        body = "\n\n".join(item.text for item, _ in items).encode()
        document_id = await bench.new_document(base, business, "txt", body)
        rows = [
            {
                "ordinal": ordinal,
                "content": item.text,
                "token_count": len(tokenizer.encode(item.text, add_special_tokens=False).ids),
                "page": None,
                "embedding_dimension": DIMENSION,
                "embedding": vector,
            }
            for ordinal, (item, vector) in enumerate(items)
        ]
        async with bench.database.transaction(bench.tenant_id) as session:
            document = await repository.lock_document(session, document_id)
            assert document is not None
            await repository.replace_chunks(session, document, rows)
            document.status = DocumentStatus.READY
            document.chunk_count = len(rows)
        async with bench.database.transaction(bench.tenant_id) as session:
            stored = await session.execute(select(Chunk.id, Chunk.ordinal).where(Chunk.document_id == document_id))
            for chunk_id, ordinal in stored:
                chunk_passage[chunk_id] = items[ordinal][0].number
    return chunk_passage


async def measure_quality(
    bench: Bench, base: KnowledgeBase, questions: Sequence[corpus.Question], chunk_passage: dict[uuid.UUID, int]
) -> list[Quality]:
    ranks: dict[str, list[int | None]] = {mode: [] for mode in MODES}
    durations: dict[str, list[float]] = {mode: [] for mode in MODES}
    for question in questions:
        for mode in MODES:
            ms, hits = await timed_search(bench, [base.id], question.text, mode)
            answers = [
                rank for rank, hit in enumerate(hits, start=1) if chunk_passage.get(hit.chunk_id) == question.passage
            ]
            ranks[mode].append(answers[0] if answers else None)
            durations[mode].append(ms)

    def share(mode: str, named: bool | None) -> float:
        chosen = [r for r, q in zip(ranks[mode], questions, strict=True) if named is None or q.names_business == named]
        return sum(r is not None for r in chosen) / len(chosen) if chosen else float("nan")

    return [
        Quality(
            mode=mode,
            recall=share(mode, None),
            mrr=sum(1 / r for r in ranks[mode] if r is not None) / len(questions),
            recall_named=share(mode, True),
            recall_kind=share(mode, False),
            p50_ms=statistics.median(durations[mode]),
        )
        for mode in MODES
    ]


# Report


@dataclass
class Results:
    machine: list[str] = field(default_factory=list)
    load_before: str = ""
    ingestion: list[IngestionRun] = field(default_factory=list)
    files: list[SourceFile] = field(default_factory=list)
    pool: Pool | None = None
    latencies: list[Latencies] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)
    recall: list[RecallPoint] = field(default_factory=list)
    recall_queries: int = 0
    quality: list[Quality] = field(default_factory=list)
    quality_crowded: list[Quality] = field(default_factory=list)
    crowded_plan: list[str] = field(default_factory=list)
    labelled: tuple[int, int, int] = (0, 0, 0)  # businesses, passages, questions
    chunk_size: tuple[int, int] = (0, 0)


async def describe_machine(bench: Bench) -> list[str]:
    async with bench.database.transaction(bench.tenant_id) as session:
        server = str(await session.scalar(text("SHOW server_version")))
        vector = str(await session.scalar(text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")))
    return [
        f"Vocalis knowledge benchmark on {os.cpu_count()} CPUs ({cpu_model()}; {platform.machine()}, "
        f"{platform.system()} {platform.release()}), Python {platform.python_version()}",
        f"PostgreSQL {server.split()[0]} (embedded) with pgvector {vector}; embeddings: {LOCAL_MODEL} on "
        f"onnxruntime {onnxruntime.__version__} (2 threads)",
    ]


def percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def quality_verdict(quality: Sequence[Quality]) -> tuple[str, bool]:
    by_mode = {q.mode: q for q in quality}
    hybrid = by_mode["hybrid"]
    others = [by_mode["vector"], by_mode["keyword"]]
    beats = all(hybrid.recall > o.recall and hybrid.mrr > o.mrr for o in others)
    return ("met" if beats else "MISSED"), beats


def report(args: argparse.Namespace, results: Results) -> str:
    lines = [*results.machine]
    lines.append(f"Load average (1, 5, 15 min) before: {results.load_before}, after: {load_average()}")
    businesses, passages, questions = results.labelled
    lines.append(
        f"Text: generated (benchmarks/_knowledge_corpus.py, seed {args.seed}): fictional businesses' hours, prices, "
        "policies, places and staff"
    )

    # 1. Ingestion
    serial, concurrent = results.ingestion
    rows = [
        serial.row(f"{serial.label}, PDF", "pdf"),
        serial.row(f"{serial.label}, text", "txt"),
        serial.row(f"{serial.label}, all"),
        concurrent.row(f"{concurrent.label}, all"),
    ]
    everything = rows[2]
    pdfs = rows[0].documents
    size, overlap = results.chunk_size
    lines += [
        "",
        f"1. Ingestion through ingestion.ingest: {everything.documents} documents ({pdfs} PDFs of 3-8 pages, "
        f"{everything.documents - pdfs} text files), chunk size {size} / overlap {overlap} tokens",
        f"{'run':<20}{'docs':>6}{'pages':>7}{'chunks':>8}{'wall s':>8}{'pages/s':>9}{'chunks/s':>10}"
        f"{'parse':>7}{'chunk':>7}{'embed':>7}{'store':>7}",
    ]
    for row in rows:
        stages = [
            percent(row.stages_ms.get(f"{stage}_ms", 0) / 1000, row.busy_s)
            for stage in ("parse", "chunk", "embed", "store")
        ]
        pages = f"{row.pages / row.wall_s:>9.2f}" if row.pages else f"{'-':>9}"
        lines.append(
            f"{row.label:<20}{row.documents:>6}{row.pages or '-':>7}{row.chunks:>8}{row.wall_s:>8.1f}{pages}"
            f"{row.chunks / row.wall_s:>10.2f}" + "".join(f"{s:>7}" for s in stages)
        )
    embed_s = everything.stages_ms.get("embed_ms", 0) / 1000
    lines += [
        "Stage columns: share of the documents' own ingest() time (parse includes reading the file and the parse "
        "process's start); the rest is claiming and committing. Chunks average "
        f"{everything.tokens / max(everything.chunks, 1):.0f} tokens (the model reads the first "
        f"{LOCAL_MAX_TOKENS}); embedding ran at {everything.chunks / embed_s if embed_s else 0:.1f} chunks/s.",
    ]

    # 2. Latency
    pool = results.pool
    assert pool is not None
    generated = len(pool.texts) - pool.ingested
    rate = generated / pool.embed_s if pool.embed_s else 0.0
    lines += [
        "",
        f"2. Search latency, top {TOP_K}, {len(results.latencies[0].samples['hybrid'])} caller questions per row, "
        "each in its own transaction; vector and hybrid include embedding the query",
        f"   {len(pool.texts):,} chunks embedded for real ({pool.ingested} from ingestion, "
        f"{generated} generated passages at {rate:.1f}/s); "
        f"the rest are SYNTHETIC: a real vector + N(0, {args.noise:g}^2) noise per dimension, re-normalised "
        f"(cosine to its source {results.latencies[-1].load.mean_cosine:.2f}), with generated text",
        f"{'chunks':>9}  {'mode':<34}{'p50 ms':>8}{'p95 ms':>8}",
    ]
    labels = {
        "embedding": "query embedding alone",
        "vector": "vector",
        "keyword": "keyword (full text)",
        "hybrid": "hybrid (service.retrieve)",
    }
    for latency in results.latencies:
        for mode, label in labels.items():
            values = latency.samples[mode]
            lines.append(
                f"{latency.size:>9,}  {label:<34}{statistics.median(values):>8.1f}{percentile(values, 0.95):>8.1f}"
            )
    loads = "; ".join(
        f"to {lat.size:,}: {lat.load.rows:,} rows in {lat.load.seconds:.1f} s "
        f"({lat.load.rows / lat.load.seconds:,.0f}/s)"
        for lat in results.latencies
    )
    lines.append(
        f"Bulk load (COPY + INSERT with to_tsvector, HNSW and GIN kept up to date, then VACUUM ANALYZE): {loads}"
    )
    largest = results.latencies[-1]
    uses_index = any("ix_chunks_embedding_384" in line for line in results.plan)
    lines.append(
        f"EXPLAIN of vector_search at {largest.size:,} chunks: {plan_summary(results.plan)} "
        f"({'uses' if uses_index else 'does NOT use'} the HNSW index)"
    )
    lines.append(
        "Keyword search ranks every chunk holding any query word: "
        + "; ".join(
            f"median {statistics.median(lat.matches):,.0f} of {lat.size:,} chunks "
            f"({100 * statistics.median(lat.matches) / lat.size:.0f}%)"
            for lat in results.latencies
        )
        + " per query"
    )

    # 3. Recall
    current = next(p for p in results.recall if p.size == largest.size and p.ef_search == repository.HNSW_EF_SEARCH)
    lines += [
        "",
        f"3. HNSW recall@{RECALL_K} vs exact search (the same vector_search with index scans off), "
        f"{results.recall_queries} queries; iterative scan relaxed_order, index m=16, ef_construction=64",
        f"{'chunks':>9}{'ef_search':>11}{'plan':>6}{'recall@10':>11}{'top-1 found':>13}{'similarity lost':>17}"
        f"{'p50 ms':>9}",
    ]
    for point in results.recall:
        name = "exact" if point.ef_search is None else str(point.ef_search)
        mark = "  (current)" if point.ef_search == repository.HNSW_EF_SEARCH else ""
        lines.append(
            f"{point.size:>9,}{name:>11}{point.plan:>6}{point.recall:>11.3f}{point.top1:>13.3f}"
            f"{point.similarity_lost:>17.4f}{point.p50_ms:>9.1f}{mark}"
        )
    exact_ms = next(p.p50_ms for p in results.recall if p.size == largest.size and p.ef_search is None)
    lines.append(
        "plan: what the planner chose at that ef_search (scan: the index is not used, the search is the exact "
        "one, figures copied from the exact row). top-1 found: the exact nearest chunk is among the 10 returned; "
        "similarity lost: mean cosine similarity of the exact top 10 minus that of the returned 10. At "
        f"{largest.size:,} chunks vector_search (ef_search {current.ef_search}, {current.plan}) takes "
        f"{current.p50_ms / exact_ms:.2f}x the exact scan's time."
    )
    if current.recall >= RECALL_GOAL:
        lines.append(f"The current ef_search = {current.ef_search} reaches the goal (>= {RECALL_GOAL}).")
    else:
        enough = [
            p for p in results.recall if p.size == largest.size and p.ef_search is not None and p.recall >= RECALL_GOAL
        ]
        lines.append(
            f"Below the goal with ef_search = {current.ef_search} at {largest.size:,} chunks: "
            + (
                f"ef_search = {enough[0].ef_search} reaches it (recall {enough[0].recall:.3f}, p50 "
                f"{enough[0].p50_ms:.1f} ms): HNSW_EF_SEARCH in knowledge/repository.py."
                if enough
                else "no ef_search tried reaches it."
            )
        )
    lines.append(
        f"Synthetic vectors are noisy copies of real ones (about {largest.size // len(pool.texts)} per real chunk "
        "at the largest size): a query's exact top 10 are then near-equidistant copies, a hard case for HNSW, so "
        "these recalls are likely lower than real embeddings would give."
    )

    # 4. Quality
    lines += [
        "",
        f"4. Retrieval quality: {passages} passages of {businesses} businesses (one knowledge base), "
        f"{questions} labelled caller questions in their own words",
        f"{'mode':<10}{'recall@5':>10}{'MRR@5':>8}{'named':>8}{'kind':>8}{'p50 ms':>8}"
        f"{'crowded recall@5':>18}{'p50 ms':>8}",
    ]
    crowded = {q.mode: q for q in results.quality_crowded}
    for q in results.quality:
        c = crowded[q.mode]
        lines.append(
            f"{q.mode:<10}{q.recall:>10.3f}{q.mrr:>8.3f}{q.recall_named:>8.3f}{q.recall_kind:>8.3f}{q.p50_ms:>8.1f}"
            f"{c.recall:>18.3f}{c.p50_ms:>8.1f}"
        )
    lines.append(
        'named, kind: recall@5 of the questions naming the business, of those naming only its kind ("the '
        'dentist"); crowded: the same questions once the chunks table also holds the '
        f"{largest.size:,}-chunk knowledge base "
        f"(vector plan: {plan_summary(results.crowded_plan)})"
    )

    # Summary
    goal = next((lat for lat in results.latencies if lat.size == GOAL_SIZE), results.latencies[0])
    hybrid = goal.samples["hybrid"]
    p50, p95 = statistics.median(hybrid), percentile(hybrid, 0.95)
    verdict, _ = quality_verdict(results.quality)
    by_mode = {q.mode: q for q in results.quality}
    total_s = everything.busy_s
    lines += [
        "",
        f"retrieve p50 {p50:.1f} ms, p95 {p95:.1f} ms at {goal.size:,} chunks "
        f"(goal < {LATENCY_GOAL_MS:.0f} ms: {'met' if p95 < LATENCY_GOAL_MS else 'MISSED'}); "
        f"HNSW recall@10 {current.recall:.3f} at {largest.size:,} chunks "
        f"(goal >= {RECALL_GOAL}: {'met' if current.recall >= RECALL_GOAL else 'MISSED'}); "
        f"recall@5 hybrid {by_mode['hybrid'].recall:.2f} vs vector {by_mode['vector'].recall:.2f}, "
        f"keyword {by_mode['keyword'].recall:.2f} (goal: hybrid beats both: {verdict}); "
        f"ingestion {everything.chunks / everything.wall_s:.1f} chunks/s, "
        f"embedding {percent(embed_s, total_s)} of the time",
    ]
    return "\n".join(lines)


# Run


async def measure(args: argparse.Namespace, url: str, work: Path, out: IO[str]) -> None:
    rng = random.Random(args.seed)
    settings = Settings(
        _env_file=None,
        environment="test",
        data_dir=work / "data",
        database_url=url,
        secret_key="benchmark-signing-key-" + "x" * 32,
    )
    database = Database.connect(url)
    try:
        tenant_id = await create_tenant(database)
        bench = Bench(database, LocalStorage(settings.files_dir), settings, libpq_url(url), tenant_id)
        results = Results(load_before=load_average())
        results.machine = await describe_machine(bench)
        await bench.embedder.embed(["warm-up"])  # loads the model

        # 4 (first): quality, while the table holds only this knowledge base
        _, passages, questions = corpus.labelled_corpus(args.seed, args.businesses, args.questions_per_business)
        results.labelled = (args.businesses, len(passages), len(questions))
        labelled = await bench.new_base("labelled")
        results.chunk_size = (labelled.chunk_size, labelled.chunk_overlap)
        chunk_passage = await store_labelled(bench, labelled, passages)
        results.quality = await measure_quality(bench, labelled, questions, chunk_passage)

        # 1. Ingestion
        results.files = source_files(rng, args.documents)
        serial_base = await bench.new_base("ingestion")
        results.ingestion.append(await run_ingestion(bench, serial_base, results.files, 1, "1 at a time"))
        concurrency = settings.worker_concurrency
        results.ingestion.append(
            await run_ingestion(
                bench,
                await bench.new_base("ingestion-2"),
                results.files,
                concurrency,
                f"{concurrency} at a time",
            )
        )

        # 2. Latency at each size, 3. recall at the largest
        pool = await real_pool(bench, serial_base, rng, args.real_chunks)
        results.pool = pool
        queries = [questions[i % len(questions)].text for i in range(args.queries)]
        large = await bench.new_base("large")
        held = 0
        query_vectors = await bench.embedder.embed(queries)
        results.recall_queries = len(query_vectors)
        for size in args.sizes:
            load = await grow(bench, large, pool, held, size, rng, args.noise)
            held = size
            results.latencies.append(await measure_latency(bench, large, queries, size, load))
            results.recall += await measure_recall(bench, large, size, query_vectors)
        results.plan = await vector_plan(bench, large, query_vectors[0])

        # 4 (again): quality with the large knowledge base in the same table
        results.quality_crowded = await measure_quality(bench, labelled, questions, chunk_passage)
        [question_vector] = await bench.embedder.embed([questions[0].text])
        results.crowded_plan = await vector_plan(bench, labelled, question_vector)
        print(report(args, results), file=out, flush=True)
    finally:
        await database.dispose()


def run(args: argparse.Namespace, out: IO[str]) -> None:
    logger.disable("vocalis")  # one line per ingested document otherwise
    with temporary_dir() as work:
        server = EmbeddedPostgres(work / "pg")
        try:
            server.start()
            url = server.create_database("vocalis_bench")
            migrate(url)
            asyncio.run(measure(args, url, work, out))
        finally:
            server.stop()


def main(argv: Sequence[str] | None = None) -> None:
    run(parse_args(argv), sys.stdout)


if __name__ == "__main__":
    main()
