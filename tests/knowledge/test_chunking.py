import itertools

import pytest

from vocalis.knowledge.chunking import chunk_sections, chunk_text, counting_tokenizer
from vocalis.knowledge.parsing import Section

TEXT = " ".join(f"Sentence {i} talks about extraordinary appointments and cancellations." for i in range(200))


def _tokens(text: str) -> int:
    return len(counting_tokenizer().encode(text, add_special_tokens=False).ids)


def test_chunks_respect_the_size_and_never_split_words() -> None:
    chunks = chunk_text(TEXT, 60, 10)
    assert len(chunks) > 10
    words = set(TEXT.split())
    for chunk in chunks:
        assert chunk.token_count <= 60
        assert _tokens(chunk.text) == chunk.token_count
        assert set(chunk.text.split()) <= words, "a word was cut"


def test_neighbouring_chunks_overlap() -> None:
    chunks = chunk_text(TEXT, 60, 15)
    for first, second in itertools.pairwise(chunks):
        tail = first.text.split()[-3:]
        assert " ".join(tail) in second.text


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
