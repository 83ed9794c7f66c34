"""GET /v1/escrow/list: scoped to the acting customer, newest first, keyset pages that neither
skip nor repeat, bad parameters are 400s, and a page costs the same queries at any data size."""

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, Q
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from escrows.api.provider.escrow_list import FETCH_SIZES
from escrows.models import Escrow
from tests.api.conftest import client_for
from tests.helpers import make_escrow

URL = "/v1/escrow/list"


@pytest.fixture(autouse=True)
def _no_throttle(settings):
    settings.API_RATE_LIMIT = "10000/min"


def _busiest() -> User:
    top = Escrow.objects.values("seller").annotate(n=Count("id")).order_by("-n").first()
    return User.objects.get(pk=top["seller"])


def test_pages_walk_every_escrow_of_the_customer_once_newest_first(db, seller, buyer, stranger):
    mine = [make_escrow(seller, buyer=buyer).public_id for _ in range(5)]
    make_escrow(stranger)  # not the seller's: never listed
    api = client_for(seller)
    seen, cursor = [], None
    while True:
        r = api.get(URL, {"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.content
        body = r.json()["data"]
        seen += [e["id"] for e in body["escrows"]]
        assert all(len(e["milestones"]) == 3 for e in body["escrows"])
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert seen == list(reversed(mine))
    buying = client_for(buyer).get(URL, {"role": "buying"}).json()["data"]["escrows"]
    assert [e["id"] for e in buying] == list(reversed(mine))
    assert client_for(buyer).get(URL, {"role": "selling"}).json()["data"]["escrows"] == []


@pytest.mark.parametrize(
    "params", [{"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"role": "admin"}, {"cursor": "abc"}]
)
def test_bad_parameters_are_400s(db, seller, params):
    r = client_for(seller).get(URL, params)
    assert r.status_code == 400
    assert r.json()["status"] == 400


def test_unauthenticated_is_401(db):
    from rest_framework.test import APIClient

    assert APIClient().get(URL).status_code == 401


def test_a_page_of_50_costs_the_same_queries_at_any_data_size(db):
    counts = []
    for size in (20, 200):
        call_command("generate_data", escrows=size, customers=4, seed=size, stdout=io.StringIO())
        user = _busiest()
        api = client_for(user)
        with CaptureQueriesContext(connection) as ctx:
            r = api.get(URL, {"limit": 50})
        assert r.status_code == 200
        n = Escrow.objects.filter(Q(seller=user) | Q(buyer=user)).count()
        assert len(r.json()["data"]["escrows"]) == min(n, 50)
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1] <= 8, counts


@pytest.mark.parametrize("role", ["all", "selling", "buying"])
def test_both_sides_interleave_newest_first_across_pages(db, seller, buyer, stranger, role):
    """ "all" merges the customer's selling and buying escrows (two keyset scans on PostgreSQL):
    walking the pages gives exactly the ORM's order, with no escrow skipped or repeated."""
    for i in range(7):  # the seller sells to the buyer, and buys from the stranger, in turns
        make_escrow(seller, buyer=buyer) if i % 2 else make_escrow(stranger, buyer=seller)
    make_escrow(stranger, buyer=buyer)  # the seller's in no way
    where = {
        "all": Q(seller=seller) | Q(buyer=seller),
        "selling": Q(seller=seller),
        "buying": Q(buyer=seller),
    }
    want = list(
        Escrow.objects.filter(where[role]).order_by("-created_at", "-id").values_list("public_id", flat=True)
    )
    api = client_for(seller)
    seen, cursor = [], None
    while True:
        r = api.get(URL, {"limit": 2, "role": role, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.content
        seen += [e["id"] for e in r.json()["data"]["escrows"]]
        cursor = r.json()["data"]["nextCursor"]
        if cursor is None:
            break
    assert seen == want and len(want) == {"all": 7, "selling": 3, "buying": 4}[role]


@pytest.mark.postgres
def test_pages_of_any_size_share_one_prepared_milestone_statement(db, seller, settings):
    """An IN list per number of escrows on the page made a prepared statement per page size (up
    to 51 per connection, crowding psycopg's cache of 100); `= ANY` of an array is one."""
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's: set DATABASE_URL to a PostgreSQL database")
    settings.DB_PREPARE_HOT = True
    for _ in range(4):
        make_escrow(seller)
    api = client_for(seller)
    for limit in (1, 2, 3, 4):
        body = api.get(URL, {"limit": limit}).json()["data"]
        assert [len(e["milestones"]) for e in body["escrows"]] == [3] * limit
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s",
            ['%FROM "escrows_milestone"%'],
        )
        statements = [row[0] for row in cursor.fetchall()]
    assert any('"escrows_milestone"."escrow_id" = ANY(' in s for s in statements), statements
    assert not any('"escrows_milestone"."escrow_id" IN (' in s for s in statements), statements


@pytest.mark.postgres
def test_any_limit_reads_through_one_of_a_few_page_statements(db, seller, buyer, settings):
    """Django writes LIMIT as a literal: a page statement per limit made up to 100 prepared
    statements per role and cursor. Limits share the few fetch sizes, and pages stay exact."""
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's: set DATABASE_URL to a PostgreSQL database")
    settings.DB_PREPARE_HOT = True
    want = [make_escrow(seller, buyer=buyer).public_id for _ in range(12)][::-1]
    api = client_for(seller)
    for limit in (1, 5, 9, 10, 11, 19, 21, 49, 50, 51, 99, 100):
        seen, cursor = [], None
        while True:
            r = api.get(URL, {"limit": limit, **({"cursor": cursor} if cursor else {})})
            assert r.status_code == 200, r.content
            page = r.json()["data"]["escrows"]
            assert 1 <= len(page) <= limit
            seen += [e["id"] for e in page]
            cursor = r.json()["data"]["nextCursor"]
            if cursor is None:
                break
        assert seen == want, limit
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s",
            ['%FROM "escrows_escrow"%'],
        )
        pages = [row[0] for row in cursor.fetchall()]
    # First page and after a cursor, for each of the fetch sizes the limits fell in.
    assert 0 < len(pages) <= 2 * len(FETCH_SIZES), pages
