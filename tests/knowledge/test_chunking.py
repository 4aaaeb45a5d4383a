import itertools

import pytest

from vocalis.knowledge.chunking import TextChunk, chunk_sections, chunk_text, counting_tokenizer
from vocalis.knowledge.parsing import Section

TEXT = " ".join(f"Sentence {i} talks about extraordinary appointments and cancellations." for i in range(200))


def _ids(text: str) -> list[int]:
    ids: list[int] = counting_tokenizer().encode(text, add_special_tokens=False).ids
    return ids


def _tokens(text: str) -> int:
    return len(_ids(text))


def _spans(chunks: list[TextChunk]) -> list[tuple[int, int]]:
    """Where each chunk lies in TEXT: all but the last hold a numbered sentence, so each is found exactly once."""
    starts = []
    for chunk in chunks[:-1]:
        assert TEXT.count(chunk.text) == 1
        starts.append(TEXT.index(chunk.text))
    # The last one may be a bare sentence tail, found in every sentence; it ends the text.
    assert TEXT.endswith(chunks[-1].text)
    starts.append(len(TEXT) - len(chunks[-1].text))
    return [(start, start + len(chunk.text)) for start, chunk in zip(starts, chunks, strict=True)]


def test_chunks_respect_the_size_and_never_split_words() -> None:
    chunks = chunk_text(TEXT, 60, 10)
    assert len(chunks) > 10
    words = set(TEXT.split())
    for chunk in chunks:
        assert chunk.token_count <= 60
        assert _tokens(chunk.text) == chunk.token_count
        assert set(chunk.text.split()) <= words, "a word was cut"


@pytest.mark.parametrize("overlap", [1, 10, 15, 30])
def test_neighbouring_chunks_share_the_configured_overlap(overlap: int) -> None:
    chunks = chunk_text(TEXT, 60, overlap)
    assert len(chunks) > 10
    longest_word = max(_tokens(word) for word in TEXT.split())
    spans = _spans(chunks)
    for index, (first, second) in enumerate(itertools.pairwise(chunks)):
        first_end, second_start = spans[index][1], spans[index + 1][0]
        shared = _tokens(TEXT[second_start:first_end]) if second_start < first_end else 0
        # The configured overlap, plus at most the rest of a word when the cut steps back to its start.
        assert overlap <= shared < overlap + longest_word
        # Token for token, the next chunk starts with the tail of this one.
        assert _ids(first.text)[-shared:] == _ids(second.text)[:shared]


def test_no_overlap_means_neighbouring_chunks_share_nothing() -> None:
    chunks = chunk_text(TEXT, 60, 0)
    assert len(chunks) > 10
    for (_, first_end), (second_start, _) in itertools.pairwise(_spans(chunks)):
        # The next chunk starts where this one ends, past the space between them.
        assert TEXT[first_end:second_start] == " "


def test_the_whole_text_is_covered() -> None:
    chunks = chunk_text(TEXT, 50, 0)
    assert " ".join(chunk.text for chunk in chunks).split() == TEXT.split()


def test_a_word_longer_than_a_chunk_is_cut_rather_than_lost() -> None:
    long_word = "x" * 3000
    chunks = chunk_text(f"start {long_word} end", 20, 5)
    assert chunks[0].text.startswith("start")
    assert chunks[-1].text.endswith("end")


def test_chunks_never_span_pages_and_keep_their_page() -> None:
    sections = [Section("page one " * 100, 1), Section("page two " * 100, 2), Section("short", 3)]
    chunks = chunk_sections(sections, 50, 5)
    assert {chunk.page for chunk in chunks} == {1, 2, 3}
    assert all(("one" in c.text) != ("two" in c.text) for c in chunks if c.page in (1, 2))


def test_short_records_are_packed_together() -> None:
    rows = [Section(f"name: item {i}; price: {i}") for i in range(30)]
    chunks = chunk_sections(rows, 400, 60)
    assert len(chunks) == 1
    assert "item 0" in chunks[0].text and "item 29" in chunks[0].text


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (10, 10), (10, -1)])
def test_bad_settings_are_refused(size: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        chunk_sections([Section("text")], size, overlap)
