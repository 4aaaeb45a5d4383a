"""Reading an upload's multipart body as a stream, within the upload limits.

FastAPI would read and spool a whole multipart body before the route's checks ran, so the upload route reads its
body itself, and only once the caller may upload there (see `service.add_files`). Parsing as the bytes arrive stops
at the first file over `max_upload_file_bytes` or past `max_upload_files`, without reading the rest.
"""

import codecs
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header

from vocalis.config import Settings
from vocalis.kit.errors import InvalidInput, PayloadTooLarge

FIELD = "files"

# How the route documents the body it reads itself (FastAPI's `openapi_extra`).
OPENAPI_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        FIELD: {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "One or more files",
                        }
                    },
                    "required": [FIELD],
                }
            }
        },
    }
}


@dataclass(frozen=True)
class IncomingFile:
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: str | None = None
    filename: str | None = None
    data: bytearray = field(default_factory=bytearray)


class _Reader:
    """python-multipart callbacks that keep the parts named `files` and skip every other part's data."""

    def __init__(self, settings: Settings, charset: str) -> None:
        self.max_files = settings.max_upload_files
        self.max_bytes = settings.max_upload_file_bytes
        self.charset = charset
        self.files: list[IncomingFile] = []
        self.part = _Part()
        self.header_name = bytearray()
        self.header_value = bytearray()
        self.finished = False

    def on_part_begin(self) -> None:
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.part.headers[bytes(self.header_name).lower()] = bytes(self.header_value)
        self.header_name.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.part.headers.get(b"content-disposition"))
        self.part.name = self._decode(options.get(b"name"))
        self.part.filename = self._decode(options.get(b"filename"))
        if self.part.name == FIELD and len(self.files) >= self.max_files:
            raise InvalidInput(f"At most {self.max_files} files per upload", details={"field": FIELD})

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part.name != FIELD:
            return
        self.part.data += data[start:end]
        if len(self.part.data) > self.max_bytes:
            name = self.part.filename or "A file"
            raise PayloadTooLarge(
                f"{name} is larger than {self.max_bytes} bytes",
                details={"filename": self.part.filename, "max_bytes": self.max_bytes},
            )

    def on_part_end(self) -> None:
        if self.part.name == FIELD:
            content_type = self._decode(self.part.headers.get(b"content-type"))
            self.files.append(IncomingFile(self.part.filename, content_type, bytes(self.part.data)))

    def on_end(self) -> None:
        self.finished = True

    def _decode(self, value: bytes | None) -> str | None:
        if value is None:
            return None
        try:
            return value.decode(self.charset)
        except UnicodeDecodeError:
            return value.decode("latin-1")


async def read_files(content_type: str | None, body: AsyncIterator[bytes], settings: Settings) -> list[IncomingFile]:
    """The files of a multipart/form-data body sent in the field `files`, read as they arrive."""
    media_type, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if media_type != b"multipart/form-data" or not boundary:
        raise InvalidInput(f"Send the files as multipart/form-data in the field '{FIELD}'", details={"field": FIELD})
    charset = params.get(b"charset", b"utf-8").decode("latin-1")
    try:
        charset = codecs.lookup(charset).name
    except LookupError:
        charset = "latin-1"
    reader = _Reader(settings, charset)
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": reader.on_part_begin,
            "on_header_field": reader.on_header_field,
            "on_header_value": reader.on_header_value,
            "on_header_end": reader.on_header_end,
            "on_headers_finished": reader.on_headers_finished,
            "on_part_data": reader.on_part_data,
            "on_part_end": reader.on_part_end,
            "on_end": reader.on_end,
        },
    )
    try:
        async for chunk in body:
            parser.write(chunk)
    except FormParserError as exc:
        raise InvalidInput("The multipart body is malformed", details={"field": FIELD}) from exc
    if not reader.finished:
        raise InvalidInput("The multipart body ended before its closing boundary", details={"field": FIELD})
    return reader.files
