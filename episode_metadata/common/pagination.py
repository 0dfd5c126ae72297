import re
from typing import cast

from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor
from rest_framework.request import Request

from episode_metadata.common.filters import MAX_BIGINT

# What DRF's cursors are made of; base64 decoding would silently skip anything else.
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


class PageNumberPagination(pagination.PageNumberPagination):
    """`page` and `page_size` (default 20, at most 100); a nonsense page size is a 400."""

    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request: Request) -> int | None:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise ValidationError({self.page_size_query_param: ["A positive integer is required."]})
        return min(size, self.max_page_size)


class IdCursorPagination(pagination.CursorPagination):
    """Newest first by id. A cursor is a row's id, which the list hands out: anything else in
    its place is a 400, where DRF would say 404 or, given a position that is no id, fail in
    the database."""

    ordering = "-id"
    cursor_query_param = "cursor"
    invalid_cursor_message = "Invalid cursor."

    def decode_cursor(self, request: Request) -> Cursor | None:
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is not None and not _BASE64.fullmatch(encoded):
            raise self._invalid()
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise self._invalid() from None
        # DRF's stub has the position an int; decoded from the query, it is text.
        position = cast(str | None, cursor.position) if cursor is not None else None
        if position is not None and not _is_id(position):
            raise self._invalid()
        return cursor

    def _invalid(self) -> ValidationError:
        return ValidationError({self.cursor_query_param: [self.invalid_cursor_message]})


def _is_id(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 19 and 1 <= int(text) <= MAX_BIGINT
