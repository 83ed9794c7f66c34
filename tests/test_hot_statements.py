"""HOT_STATEMENTS, the one switch over escrows/hot.py: off, every hot statement runs as the plain
ORM (none sends SQL of its own); on, on PostgreSQL, they run compiled, and the answers are the
same. No module but escrows/hot.py uses the compiled statements."""

import re
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core import compiled
from escrows import hot, services
from escrows.models import Escrow, EscrowStatus
from tests.api.conftest import client_for
from tests.helpers import assert_ledger_invariants, make_escrow, milestones

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[1]


class _Recorder:
    """A cursor that notes each statement it executes."""

    def __init__(self, cursor, sent):
        self._cursor, self._sent = cursor, sent

    def execute(self, sql, params=None):
        self._sent.append(sql)
        return self._cursor.execute(sql, params)

    def __getattr__(self, name):
        return getattr(self._cursor, name)


@pytest.fixture
def hot_sql(monkeypatch):
    """Every statement sent through core.compiled's cursor, the only way a hot statement sends
    SQL of its own."""
    sent: list[str] = []
    real = compiled.hot_cursor

    @contextmanager
    def recording(using="default"):
        with real(using) as cursor:
            yield _Recorder(cursor, sent)

    monkeypatch.setattr(compiled, "hot_cursor", recording)
    monkeypatch.setattr(hot, "hot_cursor", recording)
    return sent


def _busiest_paths(seller, buyer):
    """What the hot statements serve, through the API with keys: a top-up, the pay call, a
    confirm of every milestone (the last closes the escrow), the list with a cursor; and a
    refund of a funded escrow. Returns the statements Django's cursors sent meanwhile."""
    seller_api, buyer_api = client_for(seller), client_for(buyer)
    escrow = make_escrow(seller, buyer=buyer)
    refunded = make_escrow(seller, buyer=buyer, parts=(1_000, 2_000))
    pay_body = {
        "gateway": "WALLET",
        "transactionType": "ESCROW",
        "escrowDetails": {"escrowId": escrow.public_id},
    }
    with CaptureQueriesContext(connection) as captured:
        r = buyer_api.post("/v1/payment/topup", {"amount": 2_000}, format="json")
        assert r.status_code == 200, r.json()
        r = buyer_api.post("/v1/payment/escrow", pay_body, format="json")
        assert r.status_code == 200, r.json()
        for m in milestones(escrow):
            r = buyer_api.post(
                f"/v1/escrow/milestone/confirm/{escrow.public_id}/{m.public_id}", format="json"
            )
            assert r.status_code == 200, r.json()
        first = seller_api.get("/v1/escrow/list", {"limit": 1}).json()["data"]
        rest = seller_api.get("/v1/escrow/list", {"cursor": first["nextCursor"]}).json()["data"]
        assert [e["id"] for e in first["escrows"] + rest["escrows"]] == [refunded.public_id, escrow.public_id]
        services.wallet_topup(customer=buyer, amount=refunded.total_charge, currency="USD")
        services.escrow_fund(escrow=refunded, by=buyer)
        services.escrow_refund(escrow=refunded, by=seller)
    assert Escrow.objects.get(pk=escrow.pk).status == EscrowStatus.COMPLETED
    assert Escrow.objects.get(pk=refunded.pk).status == EscrowStatus.REFUNDED
    assert_ledger_invariants()
    return [q["sql"] for q in captured.captured_queries]


def _sent(statements, pattern):
    return [s for s in statements if re.search(pattern, s.lstrip())]


# Statements of the paths above, as the plain ORM writes them (captured with their values) and as
# the compiled forms do (with %s).
LOCK = r'JOIN "escrows_ledgeraccount" ON \("escrows_escrow"\."id" = "escrows_ledgeraccount"\."escrow_id"\)'
EVENT = r'^INSERT INTO "escrows_event"'
RELEASE = r'^UPDATE "escrows_milestone" SET "status" = [^,]+, "released_at" = [^,]+ WHERE'
CLOSE = r'^UPDATE "escrows_escrow" SET "status" = [^,]+, "closed_at" = [^,]+, "updated_at" = [^,]+ WHERE'
API_KEY = r'FROM "accounts_apikey"'
LIST = r'^\(?SELECT "escrows_escrow"\."id" AS "pk"'
LIST_MILESTONES = r'^SELECT "escrows_milestone"\."escrow_id" AS "escrow_id"'
PLAIN_AND_COMPILED = (LOCK, EVENT, RELEASE, CLOSE, API_KEY, LIST, LIST_MILESTONES)


def test_with_the_switch_off_every_hot_statement_is_the_plain_orms(seller, buyer, settings, hot_sql):
    settings.HOT_STATEMENTS = False
    statements = _busiest_paths(seller, buyer)
    assert hot_sql == []
    # The ORM sent them instead: the locks, the event rows, the release and close saves,
    # the posting as a transaction row and its entries, the key lookups, the list.
    for pattern in PLAIN_AND_COMPILED:
        assert _sent(statements, pattern), pattern
    assert _sent(statements, r'^INSERT INTO "escrows_ledgerentry"')


@pytest.mark.postgres
def test_with_the_switch_on_postgresql_runs_them_compiled(seller, buyer, settings, hot_sql):
    if connection.vendor != "postgresql":
        pytest.skip("statements run compiled on PostgreSQL only: set DATABASE_URL to a PostgreSQL database")
    settings.HOT_STATEMENTS = True
    _busiest_paths(seller, buyer)
    for pattern in (*PLAIN_AND_COMPILED, r"INSERT INTO escrows_ledgertransaction"):
        assert _sent(hot_sql, pattern), pattern


@pytest.mark.postgres
def test_the_api_answers_the_same_either_way(seller, buyer, settings):
    """The list (both roles, every page) and the pay lookup, compiled and plain."""
    if connection.vendor != "postgresql":
        pytest.skip("statements run compiled on PostgreSQL only: set DATABASE_URL to a PostgreSQL database")
    for n in range(3):
        make_escrow(seller, buyer=buyer, parts=(1_000 + n, 2_000))
        make_escrow(buyer, buyer=seller)
    api = client_for(seller)
    token = make_escrow(seller, buyer=buyer).payment_token

    def answers():
        got = [api.get(f"/v1/escrow/milestone/{token}").json()]
        for role in ("all", "selling", "buying"):
            cursor = ""
            while cursor is not None:
                page = api.get("/v1/escrow/list", {"role": role, "limit": 2, "cursor": cursor}).json()
                got.append(page)
                cursor = page["data"]["nextCursor"]
        return got

    settings.HOT_STATEMENTS = True
    compiled_answers = answers()
    settings.HOT_STATEMENTS = False
    assert answers() == compiled_answers
    assert len(compiled_answers) == 1 + 4 + 2 + 2


BYPASS = r"core\.compiled|from core import compiled|hot_cursor|Compiled(Query|Insert|Update)\("


def test_no_module_but_the_hot_statements_list_uses_the_compiled_statements():
    """Every statement that bypasses the ORM is in escrows/hot.py, behind the switch."""
    users = []
    for package in ("accounts", "core", "escrows", "notifications", "webhooks", "escrow_site"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            if re.search(
                r"core\.compiled|from core import compiled|hot_cursor|Compiled(Query|Insert|Update)\(", text
            ):
                users.append(str(path.relative_to(ROOT)))
    assert sorted(users) == ["core/compiled.py", "escrows/hot.py"]
