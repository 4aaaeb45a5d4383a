from collections.abc import Iterator

import numpy as np
import pytest

from tests.standins.openai import OpenAIStandIn
from tests.standins.server import serve
from vocalis.config import Settings
from vocalis.kit.outbound import Outbound
from vocalis.knowledge.embeddings import EmbeddingError, LocalEmbedder, OpenAIEmbedder

KEY = "sk-test-standin"
# The stand-in listens on 127.0.0.1, which outbound requests may not reach unless allowed.
ALLOWED = Outbound(Settings(secret_key="k" * 40, outbound_allowed_hosts=["127.0.0.1"]), "tenant")


@pytest.fixture(scope="module")
def openai() -> Iterator[tuple[OpenAIStandIn, str]]:
    standin = OpenAIStandIn(KEY)
    with serve(standin.app) as url:
        yield standin, f"{url}/v1"


async def test_local_vectors_are_normalised_and_meaningful() -> None:
    vectors = np.array(
        await LocalEmbedder().embed(
            ["When do you open on Saturday?", "Our salon opens at nine on weekends.", "Parking is free."]
        )
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


async def test_local_embedding_is_stable_whatever_the_batch() -> None:
    alone = np.array(await LocalEmbedder().embed(["a short question"]))
    batched = np.array(await LocalEmbedder().embed(["x " * 200, "a short question", "y"]))
    assert np.allclose(alone[0], batched[1], atol=1e-4)


async def test_openai_embeddings_over_the_wire(openai: tuple[OpenAIStandIn, str]) -> None:
    standin, url = openai
    embedder = OpenAIEmbedder(
        outbound=ALLOWED, base_url=url, api_key=KEY, model="text-embedding-3-small", dimension=1536
    )
    vectors = await embedder.embed(["hello world", "goodbye world"])
    assert [len(v) for v in vectors] == [1536, 1536]
    assert standin.requests[-1] == {
        "model": "text-embedding-3-small",
        "input": ["hello world", "goodbye world"],
        "encoding_format": "float",
    }


async def test_openai_errors_become_embedding_errors(openai: tuple[OpenAIStandIn, str]) -> None:
    standin, url = openai
    wrong_key = OpenAIEmbedder(
        outbound=ALLOWED, base_url=url, api_key="sk-wrong", model="text-embedding-3-small", dimension=1536
    )
    with pytest.raises(EmbeddingError, match=r"^Embedding provider answered 401 at http://127\.0\.0\.1:\d+/v1$"):
        await wrong_key.embed(["x"])  # the provider's words go to the log only
    unreachable = OpenAIEmbedder(outbound=ALLOWED, base_url="http://127.0.0.1:9", api_key=KEY, model="m", dimension=3)
    with pytest.raises(EmbeddingError, match="unreachable"):
        await unreachable.embed(["x"])
    standin.fail_with = 500
    try:
        embedder = OpenAIEmbedder(
            outbound=ALLOWED, base_url=url, api_key=KEY, model="text-embedding-3-small", dimension=1536
        )
        with pytest.raises(EmbeddingError, match="500"):
            await embedder.embed(["x"])
    finally:
        standin.fail_with = None


async def test_embeddings_go_through_the_outbound_guard(openai: tuple[OpenAIStandIn, str]) -> None:
    _, url = openai
    guarded = Outbound(Settings(secret_key="k" * 40, outbound_allowed_hosts=[]), "tenant")
    embedder = OpenAIEmbedder(
        outbound=guarded, base_url=url, api_key=KEY, model="text-embedding-3-small", dimension=1536
    )
    with pytest.raises(EmbeddingError, match="does not call"):
        await embedder.embed(["x"])
