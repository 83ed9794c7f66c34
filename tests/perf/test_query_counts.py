"""Lists and the escrow page read a fixed number of queries whatever the data size: the
counts are measured on a small and on a larger data set and must be equal and at most 8."""

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from escrows import selectors
from escrows.models import Escrow

MAX_QUERIES = 8


def _grow(escrows: int) -> None:
    call_command("generate_data", escrows=escrows, customers=4, seed=escrows, stdout=io.StringIO())


def _busiest_seller():
    top = Escrow.objects.values("seller").annotate(n=Count("id")).order_by("-n").first()
    return User.objects.get(pk=top["seller"])


def _count(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def _list_page(user) -> None:
    rows = list(selectors.escrows_for_user(user, role="selling")[:50])
    for e in rows:
        _ = (e.seller.email, e.buyer.email if e.buyer_id else None)


def _escrow_page(user, public_id: str) -> None:
    escrow = selectors.escrow_get_for_user(user, public_id)
    for m in selectors.milestones_of(escrow):
        _ = m.payee.email if m.payee_id else None
    for ev in selectors.events_of(escrow):
        _ = (ev.actor.email if ev.actor_id else None, ev.milestone.public_id if ev.milestone_id else None)
    selectors.escrow_ledger_summary(escrow)


@pytest.mark.parametrize("page", ["list", "escrow"])
def test_selectors_query_count_does_not_grow_with_data(db, page):
    counts = []
    for size in (12, 120):
        _grow(size)
        seller = _busiest_seller()
        escrow = Escrow.objects.filter(seller=seller).order_by("-id").first()
        if page == "list":
            counts.append(_count(lambda seller=seller: _list_page(seller)))
        else:
            counts.append(_count(lambda seller=seller, e=escrow: _escrow_page(seller, e.public_id)))
    assert counts[0] == counts[1] <= MAX_QUERIES, counts


@pytest.mark.parametrize("page", ["dashboard", "dashboard-page-2", "escrow"])
def test_pages_query_count_does_not_grow_with_data(db, client, page):
    """The pages themselves (session, user, page queries) on generated data of two sizes."""
    counts = []
    for size in (20, 300):
        _grow(size)
        seller = _busiest_seller()
        client.force_login(seller)
        if page == "escrow":
            escrow = Escrow.objects.filter(seller=seller).order_by("-id").first()
            url, params = reverse("escrow_detail", args=[escrow.public_id]), {}
        else:
            url, params = reverse("dashboard"), {"tab": "selling", "page": 2 if page.endswith("2") else 1}
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url, params)
        assert response.status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1] <= MAX_QUERIES, counts
