"""Token-aware chunking: windows of about `size` tokens with `overlap`, cut only between words.

Tokens are counted with the embedding model's tokenizer, so a chunk's size is what the model sees.
"""

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tokenizers import Tokenizer

from vocalis.knowledge.parsing import Section

TOKENIZER_FILE = Path(__file__).parent / "data" / "minilm-tokenizer.json"


@dataclass(frozen=True)
class TextChunk:
    text: str
    token_count: int
    page: int | None


@cache
def counting_tokenizer() -> Tokenizer:
    """The WordPiece tokenizer, without truncation or padding, for counting and cutting."""
    tokenizer = Tokenizer.from_file(str(TOKENIZER_FILE))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def chunk_sections(sections: list[Section], size: int, overlap: int) -> list[TextChunk]:
    """Chunk each run of sections on the same page; chunks never span pages, so each keeps its page number."""
    if size < 1 or not 0 <= overlap < size:
        raise ValueError("chunk size must be positive and overlap smaller than it")
    chunks: list[TextChunk] = []
    run: list[Section] = []
    for section in [*sections, None]:
        if run and (section is None or section.page != run[0].page):
            chunks.extend(chunk_text("\n".join(s.text for s in run), size, overlap, run[0].page))
            run = []
        if section is not None:
            run.append(section)
    return chunks


def chunk_text(text: str, size: int, overlap: int, page: int | None = None) -> list[TextChunk]:
    offsets = [
        span for span in counting_tokenizer().encode(text, add_special_tokens=False).offsets if span[1] > span[0]
    ]
    total = len(offsets)

    def word_start(index: int, floor: int) -> int:
        # Step back while token `index` continues the word of token `index - 1` (no gap between them).
        while index > floor + 1 and offsets[index][0] == offsets[index - 1][1]:
            index -= 1
        return index

    chunks: list[TextChunk] = []
    start = 0
    while start < total:
        end = min(start + size, total)
        if end < total:
            boundary = word_start(end, start)
            # A single "word" longer than the window (a URL, a hash) is cut where the window ends.
            end = boundary if boundary > start + 1 or offsets[boundary][0] != offsets[boundary - 1][1] else end
        chunks.append(TextChunk(text[offsets[start][0] : offsets[end - 1][1]], end - start, page))
        if end >= total:
            break
        start = word_start(max(end - overlap, start + 1), start)
    return chunks
