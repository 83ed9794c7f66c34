"""GET /v1/escrow/list: the acting customer's escrows, newest first, 50 a page by default,
each with its milestones. Keyset pagination on (created_at, id), which the
escrow_(seller|buyer)_keyset indexes serve directly, so page 1,000 costs what page 1 does; the
milestones of the whole page come in one query (no query per escrow). Rows are read with
values() and shaped by the same functions as the single-escrow routes (escrow_outputs, which
the page-numbered transactions list shapes its pages with too). The two queries are hot
statements (escrows/hot.py: list_page, LIST_MILESTONES)."""

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from accounts.models import User
from accounts.types import AuthenticatedRequest
from core.errors import InvalidRequest
from escrows import hot

from .base import (
    ERRORS,
    EscrowOutput,
    ProviderAPIView,
    dispute_states,
    envelope,
    escrow_output,
    images_of,
    ok,
)

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
ROLES = ("all", "selling", "buying")
CURSOR = re.compile(r"^(\d{1,19})_(\d{1,19})$")


def _cursor_of(created_at: datetime, pk: int) -> str:
    """Opaque to clients: the last row's creation time (microseconds) and id."""
    delta = created_at - datetime(1970, 1, 1, tzinfo=UTC)
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return f"{micros}_{pk}"


def _parse_cursor(value: str) -> tuple[datetime, int]:
    match = CURSOR.match(value)
    if not match:
        raise InvalidRequest("cursor is not valid; pass nextCursor from the previous page", field="cursor")
    micros, pk = int(match.group(1)), int(match.group(2))
    try:
        created_at = datetime.fromtimestamp(micros // 1_000_000, tz=UTC).replace(
            microsecond=micros % 1_000_000
        )
    except (OverflowError, OSError, ValueError):
        raise InvalidRequest(
            "cursor is not valid; pass nextCursor from the previous page", field="cursor"
        ) from None
    return created_at, pk


# A page reads LIMIT+1 rows for the smallest of these sizes that is >= the client's limit, and
# keeps the first `limit`: Django writes LIMIT as a literal, so a size per limit would make up
# to 100 shapes per role and cursor, each a prepared statement per connection, churning psycopg's
# cache of 100 (and the escrow lock's and ledger's places in it) for clients that vary limit.
FETCH_SIZES = (10, 20, DEFAULT_LIMIT, MAX_LIMIT)


def fetch_size(limit: int) -> int:
    return next(size for size in FETCH_SIZES if size >= limit)


def _limit(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_LIMIT
    # isascii: "²" is a digit to isdigit() but not to int().
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}", field="limit")
    return int(value)


class EscrowList(ProviderAPIView):
    @extend_schema(
        operation_id="provider_escrow_list",
        parameters=[
            OpenApiParameter("role", str, enum=list(ROLES), description="selling, buying or all (default)"),
            OpenApiParameter("limit", int, description=f"1 to {MAX_LIMIT}, default {DEFAULT_LIMIT}"),
            OpenApiParameter("cursor", str, description="nextCursor of the previous page"),
        ],
        responses={
            200: envelope(
                "ProviderEscrowPage",
                inline_serializer(
                    "ProviderEscrowPageData",
                    {
                        "escrows": serializers.ListField(child=EscrowOutput),
                        "nextCursor": serializers.CharField(allow_null=True),
                    },
                ),
            ),
            **ERRORS,
        },
        tags=["escrow-provider"],
        summary="The acting customer's escrows, newest first, with their milestones",
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        role = request.query_params.get("role", "all")
        if role not in ROLES:
            raise InvalidRequest("role must be one of: all, selling, buying", field="role")
        limit = _limit(request.query_params.get("limit"))
        cursor = request.query_params.get("cursor")
        if cursor:
            created_at, pk = _parse_cursor(cursor)
            rows = hot.list_page(role, fetch_size(limit), after=True).values_rows(
                request.user.pk, created_at, pk
            )
        else:
            rows = hot.list_page(role, fetch_size(limit), after=False).values_rows(request.user.pk)
        page, more = rows[:limit], len(rows) > limit
        data: dict[str, Any] = {
            "escrows": escrow_outputs(page, viewer=request.user),
            "nextCursor": _cursor_of(page[-1]["created_at"], page[-1]["pk"]) if more else None,
        }
        return ok("Escrows retrieved successfully", data)


def escrow_outputs(rows: Sequence[dict[str, Any]], *, viewer: User) -> list[dict[str, Any]]:
    """Payluk's escrow objects of a page of rows (hot.escrow_values), each with its milestones
    and pictures: the milestones of the whole page in one query, its pictures in another.
    `viewer`: who asks (`isSeller`)."""
    milestones: dict[int, list[dict[str, Any]]] = {row["pk"]: [] for row in rows}
    if milestones:
        for m in hot.LIST_MILESTONES.values_rows(list(milestones)):
            milestones[m["escrow_id"]].append(m)
    dispute_states(rows)
    images = images_of(rows)
    return [escrow_output(row, milestones[row["pk"]], images.get(row["pk"]), viewer=viewer) for row in rows]
