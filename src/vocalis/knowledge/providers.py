"""Which embedding provider a knowledge base uses, and whether that choice can work on this installation."""

from vocalis.config import Settings
from vocalis.kit.errors import InvalidInput
from vocalis.kit.outbound import Outbound
from vocalis.knowledge.embeddings import (
    LOCAL_DIMENSION,
    LOCAL_MAX_TOKENS,
    LOCAL_MODEL,
    LOCAL_PROVIDER,
    OPENAI_MAX_TOKENS,
    OPENAI_MODELS,
    OPENAI_PROVIDER,
    Embedder,
    EmbeddingError,
    LocalEmbedder,
    OpenAIEmbedder,
)
from vocalis.models.knowledge import KnowledgeBase

DEFAULT_OPENAI_MODEL = "text-embedding-3-small"


def resolve(provider: str, model: str | None, settings: Settings) -> tuple[str, str, int]:
    """(provider, model, dimension) for a requested choice; 422 naming what is missing when it cannot work."""
    if provider == LOCAL_PROVIDER:
        if model not in (None, LOCAL_MODEL):
            raise InvalidInput(f"The local provider has one model: {LOCAL_MODEL}", details={"field": "embedding.model"})
        return LOCAL_PROVIDER, LOCAL_MODEL, LOCAL_DIMENSION
    if provider == OPENAI_PROVIDER:
        if not settings.openai_api_key:
            raise InvalidInput(
                "The openai embedding provider needs VOCALIS_OPENAI_API_KEY (and VOCALIS_OPENAI_BASE_URL for "
                "OpenAI-compatible servers)",
                details={"field": "embedding.provider", "missing": "VOCALIS_OPENAI_API_KEY"},
            )
        chosen = model or DEFAULT_OPENAI_MODEL
        if chosen not in OPENAI_MODELS:
            raise InvalidInput(
                f"Unknown OpenAI embedding model '{chosen}'",
                details={"field": "embedding.model", "accepted": sorted(OPENAI_MODELS)},
            )
        return OPENAI_PROVIDER, chosen, OPENAI_MODELS[chosen]
    raise InvalidInput(f"Unknown embedding provider '{provider}'", details={"field": "embedding.provider"})


def window(provider: str) -> int:
    """How many tokens of a text the provider's models embed."""
    return LOCAL_MAX_TOKENS if provider == LOCAL_PROVIDER else OPENAI_MAX_TOKENS


def embedder_for(base: KnowledgeBase, settings: Settings) -> Embedder:
    if base.embedding_provider == OPENAI_PROVIDER:
        if not settings.openai_api_key:
            raise EmbeddingError("VOCALIS_OPENAI_API_KEY is not set, so this knowledge base cannot embed")
        return OpenAIEmbedder(
            outbound=Outbound(settings, str(base.tenant_id)),
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key,
            model=base.embedding_model,
            dimension=base.embedding_dimension,
        )
    return LocalEmbedder()
