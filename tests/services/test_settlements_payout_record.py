"""A payout's whole record: what the off-ramp is asked (the payout's id as idempotency key, its
amount, currency and destination) with a lease taken first; on success the reference, the time,
the posting out to the payouts account and the system's event; on a failure the reason, the next
try after the backoff, or the money back when the tries are spent. A retry reserves again on the
same payout and escrow, and a stuck payout with no tries left is failed by the timer."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from escrows import services
from escrows.models import (
    AccountKind,
    ActorKind,
    Event,
    LedgerEntry,
    LedgerTransaction,
    MockOffRampPayout,
    Settlement,
    SettlementStatus,
    TransactionKind,
)
from escrows.providers import PayoutResult
from escrows.selectors import balances_for_user
from escrows.services import settlements as settlements_module
from tests.helpers import assert_ledger_invariants, at, fund, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db

LEASE = timedelta(seconds=300)


@pytest.fixture(autouse=True)
def _timings(settings):
    settings.ESCROW_SETTLEMENT_MAX_ATTEMPTS = 3
    settings.ESCROW_SETTLEMENT_BACKOFF_SECONDS = 30
    settings.ESCROW_SETTLEMENT_BACKOFF_MAX_SECONDS = 3600
    settings.ESCROW_SETTLEMENT_LEASE_SECONDS = 300


def _near(value, expected):
    return value is not None and abs(value - expected) < timedelta(seconds=5)


def _scheduled(seller, buyer, destination, capture):
    """A released stage's payout, scheduled and not yet tried."""
    escrow = make_escrow(
        seller,
        parts=(30_000, 70_000),
        buyer=buyer,
        settlement_method="OFF_RAMP_MOCK",
        settlement_destination=destination,
    )
    fund(escrow, buyer)
    with capture(execute=False):
        services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    return escrow, Settlement.objects.get(escrow=escrow)


class _OffRamp:
    """Answers as told and remembers what it was asked and what the payout row held then."""

    def __init__(self, answer, during=None):
        self.answer, self.during, self.calls, self.rows = answer, during, [], []

    def payout(self, **asked):
        self.calls.append(asked)
        row = Settlement.objects.get(public_id=asked["idempotency_key"])
        self.rows.append((row.status, row.attempts, row.next_attempt_at))
        if self.during:
            self.during(row)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.fixture
def off_ramp(monkeypatch):
    def install(answer, during=None):
        spy = _OffRamp(answer, during)
        monkeypatch.setattr(settlements_module, "off_ramp", lambda: spy)
        return spy

    return install


def test_a_paid_payout_is_asked_once_under_a_lease_and_recorded(
    seller, buyer, off_ramp, django_capture_on_commit_callbacks
):
    escrow, settlement = _scheduled(seller, buyer, "bank-1", django_capture_on_commit_callbacks)
    spy = off_ramp(PayoutResult(ok=True, reference="po_123"))
    outcome = services.settlement_process(settlement_id=settlement.pk)
    assert outcome == services.SettlementOutcome(SettlementStatus.PAID, retry_in=None)
    assert spy.calls == [
        {
            "idempotency_key": settlement.public_id,
            "amount": 30_000,
            "currency": "USD",
            "destination": "bank-1",
        }
    ]
    ((status, attempts, lease),) = spy.rows
    assert (status, attempts) == (SettlementStatus.PROCESSING, 1)
    assert _near(lease, timezone.now() + LEASE)
    paid = refresh(settlement)
    assert (paid.status, paid.provider_reference, paid.last_error, paid.attempts) == ("PAID", "po_123", "", 1)
    assert _near(paid.paid_at, timezone.now())
    posting = LedgerTransaction.objects.get(kind=TransactionKind.PAYOUT_PAID)
    assert (posting.escrow_id, posting.settlement_id, posting.currency) == (escrow.pk, settlement.pk, "USD")
    entries = {
        (e.account.kind, e.account.owner_id): e.amount
        for e in LedgerEntry.objects.filter(transaction=posting)
    }
    assert entries == {
        (AccountKind.PAYOUT_CLEARING, seller.pk): -30_000,
        (AccountKind.EXTERNAL_PAYOUTS, None): 30_000,
    }
    event = Event.objects.get(kind="settlement.paid")
    assert (
        event.actor_id,
        event.actor_kind,
        event.customer_id,
        event.escrow_id,
        event.settlement_id,
        event.from_status,
        event.to_status,
        event.details,
    ) == (
        None,
        ActorKind.SYSTEM,
        seller.pk,
        escrow.pk,
        settlement.pk,
        "PROCESSING",
        "PAID",
        {"reference": "po_123"},
    )
    assert balances_for_user(seller)["USD"] == {"available": 0, "in_flight": 0}
    assert_ledger_invariants()


def test_a_paid_or_failed_payout_is_not_asked_again(
    seller, buyer, off_ramp, django_capture_on_commit_callbacks
):
    _, settlement = _scheduled(seller, buyer, "bank-1", django_capture_on_commit_callbacks)
    off_ramp(PayoutResult(ok=True, reference="po_1"))
    services.settlement_process(settlement_id=settlement.pk)
    spy = off_ramp(PayoutResult(ok=True, reference="po_2"))
    assert services.settlement_process(settlement_id=settlement.pk) == services.SettlementOutcome("PAID")
    assert spy.calls == []
    assert refresh(settlement).provider_reference == "po_1"
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    with django_capture_on_commit_callbacks(execute=False):
        refused = services.wallet_withdraw(
            customer=seller, amount=2_000, currency="USD", destination="iban-9"
        )
    spy = off_ramp(PayoutResult(ok=False, error="Destination rejected", retryable=False))
    assert services.settlement_process(settlement_id=refused.pk) == services.SettlementOutcome("FAILED")
    assert services.settlement_process(settlement_id=refused.pk) == services.SettlementOutcome("FAILED")
    assert len(spy.calls) == 1
    assert refresh(refused).attempts == 1


def test_a_payout_under_someone_elses_lease_is_left_to_them(
    seller, buyer, off_ramp, django_capture_on_commit_callbacks
):
    _, settlement = _scheduled(seller, buyer, "bank-1", django_capture_on_commit_callbacks)
    lease_end = timezone.now() + timedelta(seconds=60)
    Settlement.objects.filter(pk=settlement.pk).update(
        status=SettlementStatus.PROCESSING, attempts=1, next_attempt_at=lease_end
    )
    spy = off_ramp(PayoutResult(ok=True, reference="po_1"))
    assert services.settlement_process(settlement_id=settlement.pk) == services.SettlementOutcome(
        "PROCESSING"
    )
    assert spy.calls == []
    held = refresh(settlement)
    assert (held.status, held.attempts, held.next_attempt_at) == ("PROCESSING", 1, lease_end)


@pytest.mark.parametrize("lease_end", [timedelta(seconds=-1), None])
def test_a_payout_whose_lease_ended_is_taken_over(
    seller, buyer, off_ramp, django_capture_on_commit_callbacks, lease_end
):
    _, settlement = _scheduled(seller, buyer, "bank-1", django_capture_on_commit_callbacks)
    Settlement.objects.filter(pk=settlement.pk).update(
        status=SettlementStatus.PROCESSING,
        attempts=1,
        next_attempt_at=None if lease_end is None else timezone.now() + lease_end,
    )
    spy = off_ramp(PayoutResult(ok=True, reference="po_1"))
    assert services.settlement_process(settlement_id=settlement.pk).status == "PAID"
    assert len(spy.calls) == 1 and spy.rows[0][1] == 2
    assert refresh(settlement).attempts == 2


def test_a_lease_ending_this_instant_has_ended(seller, buyer, off_ramp, django_capture_on_commit_callbacks):
    _, settlement = _scheduled(seller, buyer, "bank-1", django_capture_on_commit_callbacks)
    now = timezone.now()
    Settlement.objects.filter(pk=settlement.pk).update(
        status=SettlementStatus.PROCESSING, attempts=1, next_attempt_at=now
    )
    spy = off_ramp(PayoutResult(ok=True, reference="po_1"))
    with at(now):
        assert services.settlement_process(settlement_id=settlement.pk).status == "PAID"
    assert len(spy.calls) == 1


def test_an_unreachable_off_ramp_is_one_failed_try_retried_after_the_backoff(
    seller, buyer, off_ramp, django_capture_on_commit_callbacks
):
    _, settlement = _scheduled(seller, buyer, "bank-1", django_capture_on_commit_callbacks)
    off_ramp(ConnectionError("off-ramp unreachable"))
    outcome = services.settlement_process(settlement_id=settlement.pk)
    assert outcome == services.SettlementOutcome(SettlementStatus.SCHEDULED, retry_in=timedelta(seconds=30))
    retried = refresh(settlement)
    assert (retried.status, retried.attempts, retried.last_error) == (
        "SCHEDULED",
        1,
        "ConnectionError: off-ramp unreachable",
    )
    assert _near(retried.next_attempt_at, timezone.now() + timedelta(seconds=30))
    assert not LedgerTransaction.objects.filter(kind=TransactionKind.PAYOUT_RETURN).exists()
    assert balances_for_user(seller)["USD"] == {"available": 0, "in_flight": 30_000}
    # The second try waits twice as long.
    outcome = services.settlement_process(settlement_id=settlement.pk)
    assert outcome.retry_in == timedelta(seconds=60)


def test_the_last_try_fails_the_payout_and_gives_the_money_back(
    seller, buyer, off_ramp, django_capture_on_commit_callbacks
):
    escrow, settlement = _scheduled(seller, buyer, "bank-1", django_capture_on_commit_callbacks)
    error = "e" * 2500
    off_ramp(PayoutResult(ok=False, error=error, retryable=True))
    statuses = [services.settlement_process(settlement_id=settlement.pk) for _ in range(3)]
    assert [o.status for o in statuses] == ["SCHEDULED", "SCHEDULED", "FAILED"]
    assert statuses[-1].retry_in is None
    failed = refresh(settlement)
    assert (failed.status, failed.attempts, failed.next_attempt_at, failed.last_error) == (
        "FAILED",
        3,
        None,
        "e" * 2000,
    )
    assert balances_for_user(seller)["USD"] == {"available": 30_000, "in_flight": 0}
    event = Event.objects.get(kind="settlement.failed")
    assert (event.actor_id, event.actor_kind, event.escrow_id, event.details) == (
        None,
        ActorKind.SYSTEM,
        escrow.pk,
        {"error": "e" * 2000},
    )
    assert_ledger_invariants()


def test_a_payout_paid_after_a_failed_try_forgets_the_error(
    seller, buyer, off_ramp, django_capture_on_commit_callbacks
):
    _, settlement = _scheduled(seller, buyer, "bank-1", django_capture_on_commit_callbacks)
    off_ramp(PayoutResult(ok=False, error="Off-ramp temporarily unavailable", retryable=True))
    services.settlement_process(settlement_id=settlement.pk)
    assert refresh(settlement).last_error == "Off-ramp temporarily unavailable"
    off_ramp(PayoutResult(ok=True, reference="po_9"))
    services.settlement_process(settlement_id=settlement.pk)
    assert (refresh(settlement).status, refresh(settlement).last_error) == ("PAID", "")


def test_a_payout_settled_by_someone_else_during_the_call_is_left_as_they_left_it(
    seller, buyer, off_ramp, django_capture_on_commit_callbacks
):
    _, settlement = _scheduled(seller, buyer, "bank-1", django_capture_on_commit_callbacks)

    def settled_elsewhere(row):
        Settlement.objects.filter(pk=row.pk).update(
            status=SettlementStatus.PAID, provider_reference="po_other"
        )

    off_ramp(PayoutResult(ok=True, reference="po_mine"), during=settled_elsewhere)
    assert services.settlement_process(settlement_id=settlement.pk) == services.SettlementOutcome("PAID")
    assert refresh(settlement).provider_reference == "po_other"
    assert not LedgerTransaction.objects.filter(kind=TransactionKind.PAYOUT_PAID).exists()
    assert not Event.objects.filter(kind="settlement.paid").exists()


def test_a_payout_is_never_tried_inside_another_transaction(
    seller, buyer, off_ramp, django_capture_on_commit_callbacks
):
    # Its row lock would be held while the off-ramp answers.
    _, settlement = _scheduled(seller, buyer, "bank-1", django_capture_on_commit_callbacks)
    spy = off_ramp(PayoutResult(ok=True, reference="po_1"))
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        services.settlement_process(settlement_id=settlement.pk)
    assert spy.calls == []
    assert (refresh(settlement).status, refresh(settlement).attempts) == (SettlementStatus.SCHEDULED, 0)


# -- retry by a person, and the timer giving up ----------------------------------------------------


def test_a_retry_reserves_again_on_the_same_payout_and_escrow(
    seller, buyer, django_capture_on_commit_callbacks
):
    escrow, settlement = _scheduled(seller, buyer, "reject-me", django_capture_on_commit_callbacks)
    services.settlement_process(settlement_id=settlement.pk)
    assert refresh(settlement).status == SettlementStatus.FAILED
    with django_capture_on_commit_callbacks(execute=False):
        services.settlement_retry(settlement=settlement, by=seller)
    reserve = LedgerTransaction.objects.filter(kind=TransactionKind.PAYOUT_RESERVE).order_by("pk").last()
    assert (reserve.escrow_id, reserve.settlement_id, reserve.currency) == (escrow.pk, settlement.pk, "USD")
    assert balances_for_user(seller)["USD"] == {"available": 0, "in_flight": 30_000}
    assert_ledger_invariants()


def test_a_broker_failure_after_the_retry_commits_does_not_fail_it(
    seller, monkeypatch, django_capture_on_commit_callbacks
):
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    with django_capture_on_commit_callbacks(execute=False):
        settlement = services.wallet_withdraw(
            customer=seller, amount=2_000, currency="USD", destination="reject-me"
        )
    services.settlement_process(settlement_id=settlement.pk)
    assert refresh(settlement).status == SettlementStatus.FAILED

    def broker_down(pk):
        raise ConnectionError("broker down")

    monkeypatch.setattr(settlements_module, "_enqueue_settlement", broker_down)
    with django_capture_on_commit_callbacks(execute=True) as handed_over:
        retried = services.settlement_retry(settlement=settlement, by=seller)
    assert handed_over, "the payout is handed to the broker after commit"
    assert retried.status == SettlementStatus.SCHEDULED
    assert refresh(settlement).status == SettlementStatus.SCHEDULED


def _stuck(seller, capture, *, attempts, status=SettlementStatus.SCHEDULED):
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    with capture(execute=False):
        settlement = services.wallet_withdraw(
            customer=seller, amount=2_000, currency="USD", destination="bank"
        )
    Settlement.objects.filter(pk=settlement.pk).update(attempts=attempts, status=status)
    return settlement


def test_a_scheduled_payout_with_no_tries_left_is_failed_by_the_timer(
    seller, django_capture_on_commit_callbacks
):
    settlement = _stuck(seller, django_capture_on_commit_callbacks, attempts=3)
    given_up = services.settlement_give_up_stuck(settlement=settlement)
    assert given_up is not None and given_up.pk == settlement.pk
    failed = refresh(settlement)
    assert (failed.status, failed.next_attempt_at) == (SettlementStatus.FAILED, None)
    assert balances_for_user(seller)["USD"] == {"available": 5_000, "in_flight": 0}
    returned = LedgerTransaction.objects.get(kind=TransactionKind.PAYOUT_RETURN)
    assert returned.settlement_id == settlement.pk
    event = Event.objects.get(kind="settlement.failed")
    assert (event.actor_kind, event.customer_id, event.settlement_id, event.from_status, event.to_status) == (
        ActorKind.SYSTEM,
        seller.pk,
        settlement.pk,
        "SCHEDULED",
        "FAILED",
    )
    assert_ledger_invariants()


@pytest.mark.parametrize(
    ("attempts", "status"),
    [(2, SettlementStatus.SCHEDULED), (3, SettlementStatus.PROCESSING)],
)
def test_the_timer_leaves_a_payout_with_tries_left_or_not_waiting(
    seller, django_capture_on_commit_callbacks, attempts, status
):
    settlement = _stuck(seller, django_capture_on_commit_callbacks, attempts=attempts, status=status)
    assert services.settlement_give_up_stuck(settlement=settlement) is None
    assert refresh(settlement).status == status
    assert not LedgerTransaction.objects.filter(kind=TransactionKind.PAYOUT_RETURN).exists()
    assert not MockOffRampPayout.objects.exists()
