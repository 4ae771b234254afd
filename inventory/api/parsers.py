"""The CSV request body of the inventory's CSV import (inventory/csv_io.py)."""

from __future__ import annotations

from rest_framework.parsers import BaseParser

from dcpower.api.exceptions import PayloadTooLarge
from inventory import csv_io


def request_body_size(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class CsvParser(BaseParser):
    """A ``text/csv`` body as bytes: the CSV service decodes it and reads its header, so its
    errors (not UTF-8, unknown column, ...) name the file's problem, not the parser's.

    A body over the service's MAX_FILE_BYTES is a 413, refused by its Content-Length before
    anything is read into memory (Django stops reading at the Content-Length, so the read
    below is bounded too).
    """

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        declared = request_body_size(parser_context["request"])
        if declared > csv_io.MAX_FILE_BYTES:
            raise PayloadTooLarge(csv_io.csv_too_large_message(declared))
        content = stream.read(csv_io.MAX_FILE_BYTES + 1)
        if len(content) > csv_io.MAX_FILE_BYTES:
            raise PayloadTooLarge(csv_io.csv_too_large_message(len(content)))
        return content
