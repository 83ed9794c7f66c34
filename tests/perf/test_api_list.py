"""GET /v1/escrow/list: scoped to the acting customer, newest first, keyset pages that neither
skip nor repeat, bad parameters are 400s, and a page costs the same queries at any data size."""

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, Q
from django.test.utils import CaptureQueriesContext

from accounts.models import User
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
