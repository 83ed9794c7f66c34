"""core.compiled: a query compiled once answers every later call exactly as the ORM would
(same rows, related objects, annotations, converted values), and refuses a query whose
sentinels do not come out as parameters. Compiled statements run on PostgreSQL only (elsewhere
they are the plain ORM: tests/test_hot_statements.py), so these tests need it."""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, OuterRef, Q
from django.db.models.signals import pre_save
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import APIKey
from accounts.services import api_key_create
from core.compiled import SENTINEL_PK, CompiledInsert, CompiledQuery, CompiledUpdate, hot_cursor
from escrows import ledger, services
from escrows.api.common import APIKeyAuthentication
from escrows.models import Escrow, Event, Milestone
from tests.helpers import fund, make_escrow

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _compiled(settings):
    if connection.vendor != "postgresql":
        pytest.skip("statements run compiled on PostgreSQL only: set DATABASE_URL to a PostgreSQL database")
    settings.HOT_STATEMENTS = True


def _fields(obj):
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def test_rows_equal_the_orms_for_every_call(seller, buyer):
    escrows = [make_escrow(seller, buyer=buyer), make_escrow(seller, parts=(1_00, 2_00))]
    query = CompiledQuery(lambda pk: Milestone.objects.filter(escrow_id=pk).order_by("index"), SENTINEL_PK)
    for escrow in escrows * 2:  # compiled on the first call, reused after
        got = query.all(escrow.pk)
        want = list(Milestone.objects.filter(escrow_id=escrow.pk).order_by("index"))
        assert [_fields(m) for m in got] == [_fields(m) for m in want]
        assert all(not m._state.adding for m in got)
    assert query.all(SENTINEL_PK + 1) == []


def test_select_related_constants_and_annotations(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    seller_account = ledger.customer_account(seller, "USD")  # created on first use
    query = CompiledQuery(
        lambda pk: (
            Escrow.objects.select_related("seller", "buyer", "hold_account")
            .annotate(
                seller_account_id=ledger.customer_account_id(OuterRef("seller_id"), OuterRef("currency"))
            )
            .filter(pk=pk)
        ),
        SENTINEL_PK,
    )
    with transaction.atomic():
        got = query.first(escrow.pk)
    assert got.seller.email == seller.email and got.buyer.email == buyer.email
    assert got.hold_account.pk == ledger.hold_account(escrow).pk
    assert got.seller_account_id == seller_account.pk
    assert got.metadata == escrow.metadata and got.inspection_period == escrow.inspection_period
    stranger_escrow = make_escrow(buyer)  # the buyer sells here: another row, another seller
    with transaction.atomic():
        other = query.first(stranger_escrow.pk)
    assert other.seller.email == buyer.email and other.buyer is None
    assert other.seller_account_id == ledger.customer_account(buyer, "USD").pk  # topped up


def test_string_sentinels_and_the_api_key_lookup(seller):
    _, key = api_key_create(user=seller, name="k")
    now = timezone.now()
    with transaction.atomic():  # the lookup alone, without the last-use write in its statement
        found, recorded = APIKeyAuthentication().find_key(key, now)
    assert found.user == seller and not recorded
    with pytest.raises(APIKey.DoesNotExist):
        APIKeyAuthentication().find_key(key[:-1] + ("x" if key[-1] != "x" else "y"), now)
    APIKey.objects.filter(pk=found.pk).update(revoked=True)
    with pytest.raises(APIKey.DoesNotExist):
        APIKeyAuthentication().find_key(key, now)


def test_a_sentinel_that_is_not_a_parameter_is_refused(seller):
    make_escrow(seller)
    query = CompiledQuery(lambda pk: Escrow.objects.filter(pk=1), SENTINEL_PK)
    with pytest.raises(ImproperlyConfigured):
        query.all(1)
    with pytest.raises(TypeError):
        CompiledQuery(lambda a: Escrow.objects.filter(pk=a), SENTINEL_PK).all()


def test_services_see_the_locked_escrows_milestones(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    first = Milestone.objects.filter(escrow=escrow).order_by("index").first()
    released = services.milestone_release(milestone=first, by=buyer)
    loaded = released.escrow.loaded_milestones
    assert [m.status for m in loaded] == ["RELEASED", "PENDING", "PENDING"]
    assert all(m.escrow is released.escrow for m in loaded)


def test_values_rows_with_a_datetime_parameter_equal_the_orms(seller, buyer):
    made = [make_escrow(seller, buyer=buyer) for _ in range(4)]
    pivot = made[2]

    def build(user, created_at, pk):
        return (
            Escrow.objects.filter(Q(seller_id=user) | Q(buyer_id=user))
            .filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk))
            .order_by("-created_at", "-id")
            .values("pk", "created_at", "metadata", seller_email=F("seller__email"))
        )

    query = CompiledQuery(build, SENTINEL_PK, datetime(1901, 1, 1, tzinfo=UTC), SENTINEL_PK - 1)
    for user in (seller, buyer, seller):
        got = query.values_rows(user.pk, pivot.created_at, pivot.pk)
        assert got == list(build(user.pk, pivot.created_at, pivot.pk))
        assert [r["pk"] for r in got] == [made[1].pk, made[0].pk]
    with pytest.raises(TypeError):
        query.all(seller.pk, pivot.created_at, pivot.pk)


# -- writes (CompiledInsert, CompiledUpdate) and prepared statements ----------------------------


def test_a_compiled_insert_stores_what_create_would(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    insert = CompiledInsert(Event)
    for n in range(2):  # compiled on the first call, reused after
        event = insert.create(
            Event(
                kind="test.kind",
                escrow=escrow,
                actor=buyer,
                details={"n": n, "payee": "cus_x"},
                to_status="X",
            )
        )
        assert event.pk is not None and not event._state.adding
        stored = Event.objects.get(pk=event.pk)
        assert _fields(stored) == _fields(event)
        assert stored.details == {"n": n, "payee": "cus_x"} and stored.created_at is not None
        assert stored.public_id.startswith("evt_") and stored.dispatched_at is None


def test_a_compiled_update_writes_only_its_fields(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    first = Milestone.objects.filter(escrow=escrow).order_by("index").first()
    first.title = "changed in memory only"
    first.release()
    first.released_at = timezone.now()
    CompiledUpdate(Milestone, "status", "released_at").save(first)
    stored = Milestone.objects.get(pk=first.pk)
    assert stored.status == "RELEASED" and stored.released_at == first.released_at
    assert stored.title != "changed in memory only"
    # auto_now fields are refreshed as the ORM's save refreshes them.
    before = Escrow.objects.get(pk=escrow.pk).updated_at
    CompiledUpdate(Escrow, "updated_at").save(escrow)
    assert Escrow.objects.get(pk=escrow.pk).updated_at > before


def test_a_compiled_update_of_a_missing_row_fails(seller):
    escrow = make_escrow(seller)
    escrow.pk = SENTINEL_PK
    with pytest.raises(DatabaseError):
        CompiledUpdate(Escrow, "updated_at").save(escrow)


def test_save_receivers_get_the_orms_save(seller):
    escrow = make_escrow(seller)
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.kind)

    pre_save.connect(receiver, sender=Event, weak=False)
    try:
        CompiledInsert(Event).create(Event(kind="with.receiver", escrow=escrow))
    finally:
        pre_save.disconnect(receiver, sender=Event)
    assert seen == ["with.receiver"]
    assert Event.objects.filter(kind="with.receiver").exists()


def _release_escrows_prepared(settings, seller, buyer, count: int) -> Escrow:
    """`count` escrows funded and released in full with the hot statements prepared (on
    PostgreSQL; the test is skipped elsewhere); returns the last."""
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's: set DATABASE_URL to a PostgreSQL database")
    settings.DB_PREPARE_HOT = True
    for _ in range(count):
        escrow = make_escrow(seller, buyer=buyer)
        fund(escrow, buyer)
        for m in Milestone.objects.filter(escrow=escrow).order_by("index"):
            services.milestone_release(milestone=m, by=buyer)
    return escrow


@pytest.mark.postgres
def test_a_release_runs_its_hot_statements_prepared(seller, buyer, settings):
    escrow = _release_escrows_prepared(settings, seller, buyer, 1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    for fragment in (
        'INSERT INTO "escrows_event"',  # CompiledInsert
        'UPDATE "escrows_milestone" SET "status" = $1, "released_at" = $2',  # CompiledUpdate
        'UPDATE "escrows_escrow" SET "status" = $1, "closed_at" = $2',
        "INSERT INTO escrows_ledgertransaction",  # ledger.post
        'FOR UPDATE OF "escrows_escrow"',  # the escrow lock (CompiledQuery)
    ):
        assert any(fragment in s for s in prepared), fragment
    assert Escrow.objects.get(pk=escrow.pk).status == "COMPLETED"


@pytest.mark.postgres
def test_prepared_statements_keep_one_generic_plan(seller, buyer, settings):
    """PostgreSQL planned the ledger posting afresh on every call (its arrays of unknown length
    made the generic plan look dearer than a custom one): the connections force the generic
    plan."""
    # 3 fundings and 9 releases: past the 5 custom plans PostgreSQL tries first.
    _release_escrows_prepared(settings, seller, buyer, 3)
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone()[0] == "force_generic_plan"
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%INSERT INTO escrows_ledgertransaction%"],
        )
        plans = cursor.fetchall()
    assert plans and sum(g for g, _ in plans) >= 12
    assert sum(c for _, c in plans) == 0


# -- the shared preparing cursor (hot_cursor on PostgreSQL) -----------------------------------


def _postgres_with_prepare(settings):
    if connection.vendor != "postgresql":
        pytest.skip("the preparing cursor is PostgreSQL's: set DATABASE_URL to a PostgreSQL database")
    settings.DB_PREPARE_HOT = True


@pytest.mark.postgres
def test_hot_statements_share_one_cursor_and_a_nested_one_gets_its_own(settings):
    _postgres_with_prepare(settings)
    assert not connection.queries_logged
    with hot_cursor() as first:
        first.execute("SELECT %s::int", [1])
        assert first.fetchone() == (1,)
        with hot_cursor() as nested:
            assert nested is not first
            nested.execute("SELECT %s::int", [2])
            assert nested.fetchone() == (2,)
        assert nested.closed and not first.closed
    with hot_cursor() as again:
        assert again is first
        again.execute("SELECT %s::int", [3])
        assert again.fetchone() == (3,)


@pytest.mark.postgres
def test_the_shared_cursor_translates_errors_and_refuses_a_broken_transaction(seller, settings):
    _postgres_with_prepare(settings)
    insert = CompiledInsert(Event)
    event = insert.create(Event(kind="once", public_id="evt_dup_hot_cursor", actor_kind="SYSTEM"))
    with pytest.raises(TransactionManagementError), transaction.atomic():
        with pytest.raises(IntegrityError):  # django.db's, not psycopg's
            insert.create(Event(kind="twice", public_id=event.public_id, actor_kind="SYSTEM"))
        # The transaction is broken now: the next hot statement is refused, as Django refuses.
        connection.needs_rollback = True
        with hot_cursor() as cursor:
            cursor.execute("SELECT 1")
    # And the connection works again after the rollback.
    with hot_cursor() as cursor:
        cursor.execute("SELECT %s::int", [4])
        assert cursor.fetchone() == (4,)


@pytest.mark.postgres
def test_observed_queries_go_through_djangos_cursor(seller, buyer, settings):
    """While queries are captured (query-count tests) or wrapped, every hot statement is seen."""
    _postgres_with_prepare(settings)
    seen: list[str] = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper), hot_cursor() as cursor:
        cursor.execute("SELECT %s::int AS wrapped", [5])
    assert seen == ["SELECT %s::int AS wrapped"]
    with CaptureQueriesContext(connection) as captured, hot_cursor() as cursor:
        cursor.execute("SELECT %s::int AS captured", [6])
    assert len(captured.captured_queries) == 1
    assert "SELECT %s::int AS captured" in captured.captured_queries[0]["sql"]
