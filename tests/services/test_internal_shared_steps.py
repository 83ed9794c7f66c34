"""The steps every service shares, each with an exact record: one hand-over of events per
transaction, never failing a done change; who an event says acted; the times a settled
milestone carries by how it settled; how an escrow closes after its last milestone; a payout
scheduled only for the seller's money; where a refund goes back to."""

from datetime import timedelta
from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone

from core.errors import InsufficientFunds, NotFound
from escrows import services
from escrows.models import (
    AccountKind,
    DisputeOutcome,
    Escrow,
    EscrowStatus,
    Event,
    LedgerEntry,
    LedgerTransaction,
    Milestone,
    MilestoneStatus,
    Settlement,
)
from escrows.services import EscrowTerms, MilestoneInput, _internal
from escrows.tasks import settlement_process_task
from tests.factories import UserFactory
from tests.helpers import assert_ledger_invariants, at, fund, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db


def dispatch_hooks(callbacks):
    return [c for c in callbacks if c is _internal._dispatch_events_after_commit]


def postings(transaction_row):
    return sorted(
        (e.account.kind, e.account.owner_id, e.amount)
        for e in LedgerEntry.objects.filter(transaction=transaction_row).select_related("account")
    )


# -- events handed to the dispatcher ------------------------------------------------------------


def test_one_hand_over_per_transaction_however_many_events(seller, buyer, django_capture_on_commit_callbacks):
    escrow = make_escrow(seller, parts=(30_000, 70_000), buyer=buyer)
    fund(escrow, buyer)
    first, second = milestones(escrow)
    services.milestone_release(milestone=first, by=buyer)
    with django_capture_on_commit_callbacks() as callbacks:
        # The last release writes two events: the milestone's and the escrow's.
        services.milestone_release(milestone=second, by=buyer)
    assert (
        Event.objects.filter(escrow=escrow, kind__in=["milestone.released", "escrow.completed"]).count() == 3
    )
    assert len(dispatch_hooks(callbacks)) == 1


def test_events_of_a_savepoint_get_their_own_hand_over(seller, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        _internal._event("note.one", by=seller)
        _internal._event("note.two", by=seller)
        with transaction.atomic():
            _internal._event("note.three", by=seller)
    assert len(dispatch_hooks(callbacks)) == 2


def test_the_dispatch_runs_after_the_commit_and_its_failure_never_fails_the_change(
    seller, buyer, django_capture_on_commit_callbacks
):
    escrow = make_escrow(seller)
    with mock.patch("escrows.tasks.enqueue_event_dispatch") as enqueue:
        with django_capture_on_commit_callbacks(execute=True):
            services.wallet_topup(customer=buyer, amount=escrow.total_charge, currency="USD")
        assert enqueue.call_count == 1
        enqueue.side_effect = RuntimeError("broker down")
        with django_capture_on_commit_callbacks(execute=True):
            services.escrow_fund(escrow=escrow, by=buyer)
        assert enqueue.call_count == 2
    assert refresh(escrow).status == EscrowStatus.OPENED


def test_who_an_event_says_acted(seller):
    staff = UserFactory(email="staff@example.test", is_staff=True)
    assert [
        (e.actor_id, e.actor_kind, e.details)
        for e in (
            _internal._event("a", by=seller),
            _internal._event("b", by=staff),
            _internal._event("c", by=None),
            _internal._event("d", by=staff, actor_kind="system", details={"x": 1}),
        )
    ] == [
        (seller.pk, "user", {}),
        (staff.pk, "admin", {}),
        (None, "system", {}),
        (staff.pk, "system", {"x": 1}),
    ]


def test_an_escrow_that_is_gone_is_not_found():
    with pytest.raises(NotFound) as exc:
        _internal._lock_escrow(Escrow(pk=987_654))
    assert exc.value.message == "Escrow not found"
    with pytest.raises(NotFound) as exc:
        _internal._lock_escrow(Escrow(pk=987_654), with_seller_account=True)
    assert exc.value.message == "Escrow not found"


def test_a_milestone_of_another_escrow_is_not_found(seller, buyer):
    escrow, other = make_escrow(seller, buyer=buyer), make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    with pytest.raises(NotFound) as exc:
        services.milestone_release(milestone=Milestone(pk=milestones(other)[0].pk, escrow=escrow), by=buyer)
    assert exc.value.message == "Milestone not found"


def test_the_milestones_read_are_kept_on_the_locked_escrow(seller):
    escrow = _internal._lock_escrow(make_escrow(seller))
    read = _internal._milestones(escrow)
    assert [m.index for m in read] == [0, 1, 2]
    assert escrow.loaded_milestones == read
    assert all(m.escrow is escrow for m in read)


# -- a settled milestone's times -------------------------------------------------------------


@pytest.mark.parametrize(
    "outcome, status, released, refunded",
    [
        (DisputeOutcome.RELEASE, "RELEASED", True, False),
        (DisputeOutcome.REFUND, "REFUNDED", False, True),
        (DisputeOutcome.SPLIT, "SPLIT", True, True),
    ],
)
def test_a_settled_milestone_carries_the_times_of_how_it_settled(
    seller, buyer, outcome, status, released, refunded
):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    escrow = _internal._lock_escrow(escrow)
    first = _internal._milestones(escrow)[0]
    moment = timezone.now() - timedelta(hours=1)
    _internal._settle_milestone(escrow, first, outcome, by=buyer, at=moment, details={"why": "test"})
    stored = Milestone.objects.get(pk=first.pk)
    assert (stored.status, stored.released_at, stored.refunded_at) == (
        status,
        moment if released else None,
        moment if refunded else None,
    )
    event = Event.objects.get(milestone=first, kind=f"milestone.{status.lower()}")
    assert (event.actor_id, event.from_status, event.to_status, event.details) == (
        buyer.pk,
        "PENDING",
        status,
        {"why": "test"},
    )


def test_a_settlement_without_a_time_records_none(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    escrow = _internal._lock_escrow(escrow)
    first = _internal._milestones(escrow)[0]
    _internal._settle_milestone(escrow, first, DisputeOutcome.SPLIT, by=None, at=None, details={})
    stored = Milestone.objects.get(pk=first.pk)
    assert (stored.status, stored.released_at, stored.refunded_at) == ("SPLIT", None, None)
    assert Event.objects.get(milestone=first).actor_kind == "system"


# -- closing after the last milestone ------------------------------------------------------------


@pytest.mark.parametrize(
    "disputed, settled, status",
    [
        (False, ["RELEASED", "REFUNDED"], "COMPLETED"),
        (False, ["REFUNDED", "SPLIT"], "COMPLETED"),
        (False, ["REFUNDED", "REFUNDED"], "REFUNDED"),
        (True, ["REFUNDED", "RELEASED"], "COMPLETED"),
        (True, ["SPLIT", "REFUNDED"], "COMPLETED"),
        (True, ["REFUNDED", "REFUNDED"], "REFUNDED"),
    ],
)
def test_the_escrow_closes_by_what_its_milestones_became(seller, buyer, disputed, settled, status):
    escrow = make_escrow(seller, parts=(30_000, 70_000), buyer=buyer)
    fund(escrow, buyer)
    if disputed:
        Escrow.objects.filter(pk=escrow.pk).update(status=EscrowStatus.DISPUTED)
    for m, to in zip(milestones(escrow), settled, strict=True):
        Milestone.objects.filter(pk=m.pk).update(status=to)
    escrow = _internal._lock_escrow(escrow)
    before = escrow.status
    now = timezone.now()
    with at(now):
        _internal._close_after_last(escrow, _internal._milestones(escrow), by=buyer)
    closed = refresh(escrow)
    assert (closed.status, closed.closed_at) == (status, now)
    event = Event.objects.get(escrow=escrow, kind=f"escrow.{status.lower()}")
    assert (event.actor_id, event.from_status, event.to_status, event.details) == (
        buyer.pk,
        before,
        status,
        {},
    )


# -- payouts -----------------------------------------------------------------------------------


def test_only_the_sellers_money_goes_out_by_the_escrows_method(
    seller, buyer, django_capture_on_commit_callbacks
):
    payee = UserFactory(email="payee@example.test")
    escrow = services.escrow_create(
        seller=seller,
        buyer=buyer,
        terms=EscrowTerms(
            title="x",
            currency="USD",
            amount=100_000,
            settlement_method="OFF_RAMP_MOCK",
            settlement_destination="iban-7",
        ),
        milestones=[MilestoneInput(amount=40_000, payee=payee), MilestoneInput(amount=60_000)],
    )
    fund(escrow, buyer)
    first, second = milestones(escrow)
    services.milestone_release(milestone=first, by=buyer)
    assert not Settlement.objects.exists()
    now = timezone.now()
    with (
        mock.patch("escrows.broker.publish") as publish,
        django_capture_on_commit_callbacks(execute=True),
        at(now),
    ):
        services.milestone_release(milestone=second, by=buyer)
    settlement = Settlement.objects.get()
    assert (
        settlement.customer_id,
        settlement.amount,
        settlement.currency,
        settlement.method,
        settlement.destination,
        settlement.escrow_id,
        settlement.milestone_id,
        settlement.next_attempt_at,
        settlement.status,
    ) == (seller.pk, 60_000, "USD", "OFF_RAMP_MOCK", "iban-7", escrow.pk, second.pk, now, "SCHEDULED")
    assert mock.call(settlement_process_task, (settlement.pk,)) in publish.call_args_list
    reserve = LedgerTransaction.objects.get(kind="PAYOUT_RESERVE")
    assert (reserve.escrow_id, reserve.settlement_id, reserve.currency) == (escrow.pk, settlement.pk, "USD")
    assert postings(reserve) == sorted(
        [(AccountKind.CUSTOMER_MAIN, seller.pk, -60_000), (AccountKind.PAYOUT_CLEARING, seller.pk, 60_000)]
    )
    scheduled = Event.objects.get(kind="settlement.scheduled")
    assert (
        scheduled.actor_id,
        scheduled.customer_id,
        scheduled.escrow_id,
        scheduled.settlement_id,
        scheduled.from_status,
        scheduled.to_status,
        scheduled.details,
    ) == (
        buyer.pk,
        seller.pk,
        escrow.pk,
        settlement.pk,
        "",
        "SCHEDULED",
        {
            "amount": 60_000,
            "currency": "USD",
            "destination": "iban-7",
        },
    )
    assert_ledger_invariants()


def test_a_payout_fails_the_enqueue_without_failing_the_release(
    seller, buyer, django_capture_on_commit_callbacks
):
    escrow = make_escrow(
        seller,
        parts=(30_000, 70_000),
        buyer=buyer,
        settlement_method="OFF_RAMP_MOCK",
        settlement_destination="x",
    )
    fund(escrow, buyer)
    with (
        mock.patch("escrows.services._internal._enqueue_settlement", side_effect=RuntimeError("down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    assert refresh(milestones(escrow)[0]).status == MilestoneStatus.RELEASED
    assert Settlement.objects.get().status == "SCHEDULED"


def test_nothing_to_pay_out_schedules_nothing(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer, settlement_method="OFF_RAMP_MOCK", settlement_destination="x")
    escrow = _internal._lock_escrow(escrow)
    _internal._schedule_payout(escrow, payee=seller, amount=0, milestone=None, by=buyer)
    assert not Settlement.objects.exists()


def test_a_payout_is_only_reserved_from_money_that_is_there(buyer):
    services.wallet_topup(customer=buyer, amount=500, currency="USD")
    with pytest.raises(InsufficientFunds):
        services.wallet_withdraw(customer=buyer, amount=501, currency="USD", destination="iban-1")
    assert not Settlement.objects.exists()
    services.wallet_withdraw(customer=buyer, amount=500, currency="USD", destination="iban-1")
    assert Settlement.objects.get().amount == 500


# -- where a refund goes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source, kind, owner",
    [("WALLET", AccountKind.CUSTOMER_MAIN, "buyer"), ("CARD", AccountKind.EXTERNAL_REFUNDS, None)],
)
def test_a_refund_goes_back_the_way_the_money_came(seller, buyer, source, kind, owner):
    escrow = make_escrow(seller, buyer=buyer)
    if source == "WALLET":
        fund(escrow, buyer)
    else:
        services.escrow_fund(escrow=escrow, by=buyer, source="CARD", card_token="tok_visa")
    services.milestone_refund(milestone=milestones(escrow)[0], by=seller)
    refund = LedgerTransaction.objects.get(kind="REFUND")
    assert postings(refund) == sorted(
        [(AccountKind.ESCROW_HOLD, None, -30_000), (kind, buyer.pk if owner else None, 30_000)]
    )
    assert_ledger_invariants()
