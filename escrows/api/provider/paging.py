"""Payluk's page-numbered lists: `page` (from 1, default 1) and `limit` (default 10, at most
100) in the query, and the answer's `data` as {data: [...], pagination: {count, pages,
isLastPage, nextPage, previousPage}}. Dates to filter by (`fromDate`, `toDate`) are days,
YYYY-MM-DD, both included."""

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request

from core.errors import InvalidRequest

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
MAX_PAGE = 1_000_000


def _whole_number(request: Request, name: str, default: int, highest: int) -> int:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    # isascii: "²" is a digit to isdigit() but not to int().
    if not (value.isascii() and value.isdigit() and len(value) <= 7) or not 1 <= int(value) <= highest:
        raise InvalidRequest(f"{name} must be a whole number from 1 to {highest}", field=name)
    return int(value)


@dataclass(frozen=True)
class Page:
    number: int
    limit: int

    @classmethod
    def of(cls, request: Request) -> "Page":
        return cls(
            number=_whole_number(request, "page", 1, MAX_PAGE),
            limit=_whole_number(request, "limit", DEFAULT_LIMIT, MAX_LIMIT),
        )

    def answer(self, queryset: QuerySet[Any], shape: Callable[[Sequence[Any]], list[Any]]) -> dict[str, Any]:
        """One page of `queryset` (ordered), each row shaped by `shape` (given the whole page at
        once, so it can read what the rows need in one query), and where the other pages are."""
        count = queryset.count()
        pages = max(1, -(-count // self.limit))
        start = (self.number - 1) * self.limit
        rows = list(queryset[start : start + self.limit]) if start < count else []
        return {
            "data": shape(rows),
            "pagination": {
                "count": count,
                "pages": pages,
                "isLastPage": self.number >= pages,
                "nextPage": self.number + 1 if self.number < pages else None,
                "previousPage": self.number - 1 if self.number > 1 else None,
            },
        }


def day_range(request: Request) -> tuple[datetime | None, datetime | None]:
    """`fromDate` and `toDate` as the start of the first day and the end of the last one."""
    bounds: list[datetime | None] = []
    for name in ("fromDate", "toDate"):
        value = request.query_params.get(name)
        if not value:
            bounds.append(None)
            continue
        try:
            day = date.fromisoformat(value) if len(value) == 10 else None
        except ValueError:
            day = None
        if day is None:
            raise InvalidRequest(f"{name} must be a date as YYYY-MM-DD", field=name)
        start = timezone.make_aware(datetime.combine(day, time.min))
        bounds.append(start if name == "fromDate" else start + timedelta(days=1))
    since, until = bounds
    if since is not None and until is not None and since >= until:
        raise InvalidRequest("fromDate must not be after toDate", field="fromDate")
    return since, until


PAGE_PARAMETERS = [
    OpenApiParameter("page", int, description="Page number, from 1 (default 1)"),
    OpenApiParameter("limit", int, description=f"Rows a page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})"),
]
DATE_PARAMETERS = [
    OpenApiParameter("fromDate", str, description="From this day (YYYY-MM-DD), included"),
    OpenApiParameter("toDate", str, description="Up to this day (YYYY-MM-DD), included"),
]


def paged(name: str, item: Any) -> Any:
    """The schema of a page of `item`s (a copy of it: a field belongs to one parent)."""
    return inline_serializer(
        name,
        {
            "data": serializers.ListField(child=copy.deepcopy(item)),
            "pagination": inline_serializer(
                f"{name}Pagination",
                {
                    "count": serializers.IntegerField(),
                    "pages": serializers.IntegerField(),
                    "isLastPage": serializers.BooleanField(),
                    "nextPage": serializers.IntegerField(allow_null=True),
                    "previousPage": serializers.IntegerField(allow_null=True),
                },
            ),
        },
    )
