"""Cursor pagination for API lists: stable under inserts and no COUNT(*) over big tables."""

from rest_framework.pagination import CursorPagination


class CreatedCursorPagination(CursorPagination):
    """Newest first; ``id`` breaks ties between rows created in the same microsecond."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
