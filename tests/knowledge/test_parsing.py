import pytest

from tests.knowledge import files
from vocalis.knowledge.parsing import ParseError, Section, clean, detect_format, parse_isolated


@pytest.mark.parametrize(
    ("filename", "content_type", "expected"),
    [
        ("Prices.PDF", None, "pdf"),
        ("notes.docx", "application/octet-stream", "docx"),
        ("a.txt", None, "txt"),
        ("readme.md", None, "md"),
        ("page.htm", None, "html"),
        ("rows.csv", None, "csv"),
        (None, "text/html; charset=utf-8", "html"),
        ("blob", "text/plain", "txt"),
        ("program.exe", "application/octet-stream", None),
        ("archive.zip", None, None),
    ],
)
def test_formats_are_recognised_by_name_then_type(
    filename: str | None, content_type: str | None, expected: str | None
) -> None:
    assert detect_format(filename, content_type) == expected


async def test_pdf_keeps_page_numbers() -> None:
    data = files.pdf(["Opening hours. We open at nine", "Prices. A haircut costs thirty dollars"])
    sections = await parse_isolated(data, "pdf")
    assert [s.page for s in sections] == [1, 2]
    assert "nine" in sections[0].text
    assert "thirty dollars" in sections[1].text


async def test_docx_keeps_headings_and_tables_as_text() -> None:
    data = files.docx(
        "Returns policy", ["Returns are accepted within 30 days."], [["Item", "Price"], ["Shampoo", "12"]]
    )
    [section] = await parse_isolated(data, "docx")
    assert "Returns policy" in section.text
    assert "within 30 days" in section.text
    assert "Shampoo | 12" in section.text


async def test_html_keeps_only_visible_text() -> None:
    html = b"""<html><head><title>T</title><style>body{color:red}</style></head>
    <body><script>alert('x')</script><h1>Welcome</h1><p>We are open <b>daily</b>.</p><noscript>nojs</noscript></body>
    </html>"""
    [section] = await parse_isolated(html, "html")
    assert "Welcome" in section.text and "We are open" in section.text and "daily" in section.text
    assert "alert" not in section.text and "color" not in section.text and "nojs" not in section.text


async def test_csv_gives_one_record_per_row_with_its_header() -> None:
    data = b"service,price,duration\nHaircut,30,45 min\nColour,80,2 h\n"
    [section] = await parse_isolated(data, "csv")
    assert section.text.splitlines() == [
        "service: Haircut; price: 30; duration: 45 min",
        "service: Colour; price: 80; duration: 2 h",
    ]


async def test_markdown_loses_its_markup() -> None:
    data = b"# Title\n\nSome **bold** and [a link](http://x.example) and `code`.\n\n- item one\n"
    [section] = await parse_isolated(data, "md")
    assert section.text == "Title\n\nSome bold and a link and code.\n\nitem one"


async def test_text_in_other_encodings() -> None:
    [utf16] = await parse_isolated("Café crème".encode("utf-16"), "txt")
    [latin] = await parse_isolated("Café crème".encode("cp1252"), "txt")
    assert utf16.text == latin.text == "Café crème"


async def test_binary_garbage_named_txt_is_refused() -> None:
    with pytest.raises(ParseError, match="not text"):
        await parse_isolated(bytes(range(256)) * 64, "txt")


async def test_a_zip_bomb_in_docx_is_refused() -> None:
    with pytest.raises(ParseError, match=r"expands too much|too large"):
        await parse_isolated(files.zip_bomb_docx(), "docx")


@pytest.mark.parametrize("fmt", ["pdf", "docx"])
async def test_corrupt_files_fail_with_a_reason(fmt: str) -> None:
    with pytest.raises(ParseError):
        await parse_isolated(b"%PDF-1.4\n garbage \x00\x01" * 50, fmt)


async def test_a_parser_that_runs_too_long_is_killed() -> None:
    big = b"a,b,c\n" + b"1,2,3\n" * 2_000_000
    with pytest.raises(ParseError, match="longer than"):
        await parse_isolated(big, "csv", time_limit=0.05)


def test_clean_normalises_white_space_and_drops_control_characters() -> None:
    assert clean("  a\t\tb \x07c\r\n\r\n\r\n\nd  ") == "a b c\n\nd"
    assert Section("x").page is None
