"""Turning uploaded files into text sections, in a child process that can be killed.

Parsers meet hostile input (zip bombs in DOCX, PDFs that loop or exhaust memory, binary garbage named .txt), so
`parse_isolated` runs them in a separate Python process with a memory limit and a time limit: whatever the file
does, the worker survives and the document fails with a reason.
"""

import asyncio
import csv
import io
import json
import re
import resource
import sys
import zipfile
from dataclasses import asdict, dataclass

# Format -> (file extensions, content types).
FORMATS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "pdf": ((".pdf",), ("application/pdf",)),
    "docx": ((".docx",), ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",)),
    "txt": ((".txt", ".text"), ("text/plain",)),
    "md": ((".md", ".markdown"), ("text/markdown", "text/x-markdown")),
    "html": ((".html", ".htm"), ("text/html", "application/xhtml+xml")),
    "csv": ((".csv",), ("text/csv", "application/csv")),
}
ACCEPTED_EXTENSIONS = sorted(ext for extensions, _ in FORMATS.values() for ext in extensions)

MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_COMPRESSION_RATIO = 200
PARSE_TIMEOUT_SECONDS = 60.0
PARSE_MEMORY_BYTES = 1536 * 1024 * 1024


class ParseError(Exception):
    """The file cannot be read as its format; the message is shown to the user."""


@dataclass(frozen=True)
class Section:
    text: str
    page: int | None = None


def detect_format(filename: str | None, content_type: str | None) -> str | None:
    """The format by file extension, else by content type; None when it is not one we accept."""
    name = (filename or "").lower()
    for fmt, (extensions, _) in FORMATS.items():
        if name.endswith(extensions):
            return fmt
    media_type = (content_type or "").split(";")[0].strip().lower()
    for fmt, (_, content_types) in FORMATS.items():
        if media_type in content_types:
            return fmt
    return None


def decode_text(data: bytes) -> str:
    """Decode a text file (UTF-8/16 with or without BOM, else Windows-1252); refuse binary data."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\x00" in data[:65536]:
        raise ParseError("The file is not text (it contains binary data)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    sample = text[:65536]
    control = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f") + sample.count("\ufffd")
    if sample and control / len(sample) > 0.05:
        raise ParseError("The file is not text (too many control or undecodable characters)")
    return text


def _parse_pdf(data: bytes) -> list[Section]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ParseError("The PDF is encrypted")
        return [Section(page.extract_text() or "", number) for number, page in enumerate(reader.pages, start=1)]
    except PdfReadError as exc:
        raise ParseError(f"The PDF cannot be read: {exc}") from exc


def _check_zip(data: bytes) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ParseError("The DOCX file is not a valid Office document") from exc
    total = 0
    for member in archive.infolist():
        total += member.file_size
        if member.compress_size and member.file_size / member.compress_size > MAX_COMPRESSION_RATIO:
            raise ParseError("The DOCX file expands too much when unpacked (a zip bomb?)")
    if total > MAX_UNCOMPRESSED_BYTES:
        raise ParseError("The DOCX file is too large when unpacked")


def _parse_docx(data: bytes) -> list[Section]:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    _check_zip(data)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises many kinds on malformed packages
        raise ParseError(f"The DOCX file cannot be read: {exc}") from exc
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            if block.text.strip():
                lines.append(block.text)
        elif isinstance(block, Table):
            for row in block.rows:
                cells = [cell.text.strip() for cell in row.cells]
                lines.append(" | ".join(cells))
    return [Section("\n".join(lines))]


def _parse_html(data: bytes) -> list[Section]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(decode_text(data), "lxml")
    for hidden in soup(["script", "style", "noscript", "template", "svg", "head", "iframe", "object"]):
        hidden.decompose()
    return [Section(soup.get_text("\n"))]


_MARKDOWN_RULES = [
    (re.compile(r"```.*?\n(.*?)```", re.S), r"\1"),  # fenced code: keep the code
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images: keep alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links: keep the text
    (re.compile(r"^[ \t]{0,3}#{1,6}[ \t]*", re.M), ""),  # heading marks
    (re.compile(r"^[ \t]{0,3}>[ \t]?", re.M), ""),  # quotes
    (re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1"), r"\2"),  # emphasis and inline code
    (re.compile(r"^[ \t]*[-*+][ \t]+", re.M), ""),  # bullets
    (re.compile(r"^[ \t]*\|?[ \t]*:?-{3,}.*$", re.M), ""),  # table rules
]


def _parse_markdown(data: bytes) -> list[Section]:
    text = decode_text(data)
    for pattern, replacement in _MARKDOWN_RULES:
        text = pattern.sub(replacement, text)
    return [Section(text)]


def _parse_csv(data: bytes) -> list[Section]:
    text = decode_text(data)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = csv.reader(io.StringIO(text), dialect)
    try:
        header = [name.strip() for name in next(rows)]
        records = [
            "; ".join(f"{name}: {value.strip()}" for name, value in zip(header, row, strict=False) if value.strip())
            for row in rows
        ]
    except StopIteration:
        return []
    except csv.Error as exc:
        raise ParseError(f"The CSV file cannot be read: {exc}") from exc
    return [Section("\n".join(record for record in records if record))]


_PARSERS = {
    "pdf": _parse_pdf,
    "docx": _parse_docx,
    "txt": lambda data: [Section(decode_text(data))],
    "md": _parse_markdown,
    "html": _parse_html,
    "csv": _parse_csv,
}

_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def clean(text: str) -> str:
    """Normalise white space and drop control characters, keeping paragraph breaks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or ord(ch) >= 32)
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def parse(data: bytes, fmt: str) -> list[Section]:
    """Parse and clean a file in this process (use `parse_isolated` for untrusted files)."""
    sections = _PARSERS[fmt](data)
    cleaned = [Section(clean(section.text), section.page) for section in sections]
    return [section for section in cleaned if section.text]


async def parse_isolated(data: bytes, fmt: str, *, time_limit: float = PARSE_TIMEOUT_SECONDS) -> list[Section]:
    """Parse in a child process with memory and time limits; raise ParseError with the reason on any failure."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "vocalis.knowledge.parsing",
        fmt,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(data), time_limit)
    except TimeoutError as exc:
        process.kill()
        await process.wait()
        raise ParseError(f"Parsing took longer than {time_limit:.0f} seconds") from exc
    if process.returncode != 0:
        message = stderr.decode("utf-8", errors="replace").strip().splitlines()
        code = process.returncode or 0
        if code == 3 and message:
            raise ParseError(message[-1])
        if code < 0 or "MemoryError" in "".join(message):
            raise ParseError("The parser ran out of memory or crashed on this file")
        raise ParseError("The parser failed on this file")
    return [Section(**item) for item in json.loads(stdout)]


def _child_main() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (PARSE_MEMORY_BYTES, PARSE_MEMORY_BYTES))
    fmt = sys.argv[1]
    try:
        sections = parse(sys.stdin.buffer.read(), fmt)
    except ParseError as exc:
        print(str(exc), file=sys.stderr)
        sys.exit(3)
    json.dump([asdict(section) for section in sections], sys.stdout)


if __name__ == "__main__":
    _child_main()
