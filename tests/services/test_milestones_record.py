"""Delivering and releasing leave an exact record: the times written, each event in full (kind,
actor, statuses, details: the audit trail and the webhook payload), the ledger rows, and each
refusal's message and code as a client sees them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import Forbidden, InvalidRequest, InvalidState
from escrows import ledger, services
from escrows.models import (
    Escrow,
    EscrowStatus,
    Event,
    LedgerEntry,
    LedgerTransaction,
    Milestone,
    MilestoneStatus,
)
from escrows.selectors import wallet_balance
from escrows.services import EscrowTerms, MilestoneInput
from tests.factories import UserFactory
from tests.helpers import _dispute, assert_ledger_invariants, at, fund, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db


def record(event):
    return {
        "kind": event.kind,
        "escrow": event.escrow_id,
        "milestone": event.milestone_id,
        "actor": event.actor_id,
        "actor_kind": event.actor_kind,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "details": event.details,
    }


def records(escrow, *kinds):
    return [record(e) for e in Event.objects.filter(escrow=escrow, kind__in=kinds).order_by("id")]


def refusal(exc_type, call):
    with pytest.raises(exc_type) as exc:
        call()
    return exc.value.message, exc.value.code


def delivered(m):
    m.__dict__["status"] = MilestoneStatus.COMPLETED  # the FSM field refuses a plain assignment
    return m


def released(escrow, m, *, actor, actor_kind, reason, payee):
    return {
        "kind": "milestone.released",
        "escrow": escrow.pk,
        "milestone": m.pk,
        "actor": actor,
        "actor_kind": actor_kind,
        "from_status": m.status,
        "to_status": "RELEASED",
        "details": {"index": m.index, "amount": m.amount, "payee": payee.customer_id, "reason": reason},
    }


def test_a_delivery_writes_its_proof_time_and_event(seller, buyer):
    escrow = make_escrow(seller, inspection_period=timedelta(days=3))
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    now = timezone.now()
    with at(now):
        services.milestone_complete(
            milestone=first, by=seller, completed_by="w" * 210, proof="p" * 600, proof_uri="https://x.test/p"
        )
    first = refresh(first)
    assert (
        first.status,
        first.completed_by,
        first.completion_proof,
        first.completion_proof_uri,
        first.completed_at,
        first.review_deadline,
    ) == (MilestoneStatus.COMPLETED, "w" * 200, "p" * 600, "https://x.test/p", now, now + timedelta(days=3))
    assert records(escrow, "milestone.completed") == [
        {
            "kind": "milestone.completed",
            "escrow": escrow.pk,
            "milestone": first.pk,
            "actor": seller.pk,
            "actor_kind": "user",
            "from_status": "PENDING",
            "to_status": "COMPLETED",
            "details": {
                "index": 0,
                "completedBy": "w" * 200,
                "proof": "p" * 500,
                "proofUri": "https://x.test/p",
                "reviewDeadline": (now + timedelta(days=3)).isoformat(),
            },
        }
    ]


def test_the_buyers_release_writes_its_time_ledger_rows_and_events(seller, buyer):
    escrow = make_escrow(seller, parts=(30_000, 70_000))
    fund(escrow, buyer)
    first, second = milestones(escrow)
    now = timezone.now()
    with at(now):
        services.milestone_release(milestone=first, by=buyer)
    assert refresh(first).released_at == now
    assert refresh(first).refunded_at is None
    release = LedgerTransaction.objects.get(kind="RELEASE", milestone=first)
    assert release.escrow_id == escrow.pk
    assert sorted(LedgerEntry.objects.filter(transaction=release).values_list("amount", flat=True)) == [
        -30_000,
        30_000,
    ]
    services.milestone_release(milestone=second, by=buyer)
    closed = refresh(escrow)
    assert closed.status == EscrowStatus.COMPLETED
    assert closed.closed_at is not None
    assert records(escrow, "milestone.released", "escrow.completed") == [
        released(escrow, first, actor=buyer.pk, actor_kind="user", reason="", payee=seller),
        released(escrow, second, actor=buyer.pk, actor_kind="user", reason="", payee=seller),
        {
            "kind": "escrow.completed",
            "escrow": escrow.pk,
            "milestone": None,
            "actor": buyer.pk,
            "actor_kind": "user",
            "from_status": "OPENED",
            "to_status": "COMPLETED",
            "details": {},
        },
    ]
    assert_ledger_invariants()


def test_a_stage_paid_to_its_own_payee_names_them(seller, buyer):
    payee = UserFactory(email="payee@example.test")
    escrow = services.escrow_create(
        seller=seller,
        terms=EscrowTerms(title="x", currency="USD", amount=100_000),
        milestones=[MilestoneInput(amount=40_000, payee=payee), MilestoneInput(amount=60_000)],
    )
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    services.milestone_release(milestone=first, by=buyer)
    assert records(escrow, "milestone.released") == [
        released(escrow, first, actor=buyer.pk, actor_kind="user", reason="", payee=payee)
    ]


def test_a_release_credits_the_sellers_balance_the_lock_read(seller, buyer, monkeypatch):
    """The seller's main account comes with the escrow's row lock, whichever way the buyer
    releases (the page's release or the API's confirm): a release looks up only another payee's
    account, never the seller's again."""
    payee = UserFactory(email="payee@example.test")
    escrow = services.escrow_create(
        seller=seller,
        terms=EscrowTerms(title="x", currency="USD", amount=100_000),
        milestones=[
            MilestoneInput(amount=30_000),
            MilestoneInput(amount=40_000),
            MilestoneInput(amount=30_000, payee=payee),
        ],
    )
    fund(escrow, buyer)
    ledger.customer_account(seller, "USD")  # the seller has a balance already
    first, second, third = milestones(escrow)
    looked_up = []
    real = ledger._account

    def recording(kind, currency, owner=None):
        looked_up.append(owner)
        return real(kind, currency, owner)

    monkeypatch.setattr(ledger, "_account", recording)
    services.milestone_release(milestone=first, by=buyer)
    services.milestone_confirm(escrow_id=escrow.public_id, milestone_id=second.public_id, by=buyer)
    services.milestone_release(milestone=third, by=buyer)
    assert seller not in looked_up
    assert payee in looked_up
    assert (wallet_balance(seller, "USD"), wallet_balance(payee, "USD")) == (70_000, 30_000)
    assert_ledger_invariants()


def test_the_buyer_may_release_a_stage_early_on_an_escrow_that_releases_on_proof(seller, buyer):
    escrow = make_escrow(seller, parts=(30_000, 70_000), auto_release_on_proof=True)
    fund(escrow, buyer)
    first, second = milestones(escrow)
    services.milestone_release(milestone=first, by=buyer)  # not delivered yet
    assert [m.status for m in milestones(escrow)] == ["RELEASED", "PENDING"]
    assert records(escrow, "milestone.released") == [
        released(escrow, first, actor=buyer.pk, actor_kind="user", reason="", payee=seller)
    ]
    services.milestone_complete(milestone=second, by=seller, proof="b")
    assert [m.status for m in milestones(escrow)] == ["RELEASED", "RELEASED"]
    assert refresh(escrow).status == EscrowStatus.COMPLETED
    assert_ledger_invariants()


def test_auto_release_on_proof_is_the_systems_and_says_so(seller, buyer):
    escrow = make_escrow(seller, parts=(30_000, 50_000, 20_000), auto_release_on_proof=True)
    fund(escrow, buyer)
    first, second, third = milestones(escrow)
    services.milestone_complete(milestone=first, by=seller, proof="a")
    services.milestone_complete(milestone=second, by=seller, proof="b")
    # The third is not delivered: the releases stop before it.
    assert [m.status for m in milestones(escrow)] == ["RELEASED", "RELEASED", "PENDING"]
    # Each was delivered (COMPLETED) when it was released.
    first, second = delivered(first), delivered(second)
    assert records(escrow, "milestone.released") == [
        released(
            escrow, first, actor=None, actor_kind="system", reason="auto-release on proof", payee=seller
        ),
        released(
            escrow, second, actor=None, actor_kind="system", reason="auto-release on proof", payee=seller
        ),
    ]
    assert refresh(escrow).status == EscrowStatus.OPENED
    assert_ledger_invariants()


def test_stages_delivered_before_payment_release_when_the_buyer_pays(seller, buyer):
    escrow = make_escrow(seller, parts=(30_000, 70_000), buyer=buyer, auto_release_on_proof=True)
    first, second = milestones(escrow)
    services.milestone_complete(milestone=first, by=seller, proof="a")
    services.milestone_complete(milestone=second, by=seller, proof="b")
    assert [m.status for m in milestones(escrow)] == ["COMPLETED", "COMPLETED"]
    fund(escrow, buyer)
    assert [m.status for m in milestones(escrow)] == ["RELEASED", "RELEASED"]
    closed = Event.objects.get(escrow=escrow, kind="escrow.completed")
    assert (closed.actor_id, closed.actor_kind) == (None, "system")
    reasons = list(
        Event.objects.filter(escrow=escrow, kind="milestone.released").values_list(
            "details__reason", flat=True
        )
    )
    assert reasons == ["auto-release on proof", "auto-release on proof"]
    assert_ledger_invariants()


def test_a_lapsed_review_is_released_by_the_system_in_full(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    services.milestone_complete(milestone=first, by=seller, proof="a")
    Milestone.objects.filter(pk=first.pk).update(review_deadline=timezone.now() - timedelta(minutes=1))
    first = refresh(first)
    assert services.milestone_auto_release(milestone=first).pk == first.pk
    assert records(escrow, "milestone.released") == [
        released(
            escrow, first, actor=None, actor_kind="system", reason="inspection period lapsed", payee=seller
        )
    ]


def test_the_refusals_of_delivery_and_release_are_told_exactly(seller, buyer):
    escrow = make_escrow(seller, parts=(30_000, 50_000, 20_000))
    first, second, third = milestones(escrow)
    assert refusal(InvalidRequest, lambda: services.milestone_complete(milestone=second, by=seller)) == (
        "Previous milestone (index 0) must be completed first",
        "invalid_request",
    )
    services.milestone_complete(milestone=first, by=seller)
    fund(escrow, buyer)
    services.milestone_complete(milestone=second, by=seller)
    assert refusal(InvalidRequest, lambda: services.milestone_release(milestone=second, by=buyer)) == (
        "Previous milestone (index 0) must be released first",
        "invalid_request",
    )
    _dispute(first)
    assert refusal(InvalidState, lambda: services.milestone_release(milestone=first, by=buyer)) == (
        "Milestone 0 is disputed; it is frozen until the dispute is resolved",
        "milestone_disputed",
    )


def test_an_unfunded_or_closed_escrow_releases_nothing(seller, buyer):
    escrow = make_escrow(seller, parts=(30_000, 70_000), buyer=buyer)
    first, second = milestones(escrow)
    assert refusal(InvalidState, lambda: services.milestone_release(milestone=first, by=buyer)) == (
        "This escrow is not funded yet",
        "not_funded",
    )
    fund(escrow, buyer)
    services.milestone_release(milestone=first, by=buyer)
    Escrow.objects.filter(pk=escrow.pk).update(status=EscrowStatus.DISPUTED)
    assert refusal(InvalidState, lambda: services.milestone_release(milestone=second, by=buyer)) == (
        "This escrow is disputed; milestones are frozen until it is resolved",
        "disputed",
    )
    Escrow.objects.filter(pk=escrow.pk).update(status=EscrowStatus.COMPLETED)
    assert refusal(InvalidState, lambda: services.milestone_release(milestone=second, by=buyer)) == (
        "This escrow is completed",
        "escrow_closed",
    )
    assert refusal(InvalidRequest, lambda: services.milestone_release(milestone=first, by=buyer)) == (
        "Milestone already released",
        "invalid_request",
    )
    Milestone.objects.filter(pk=second.pk).update(status=MilestoneStatus.REFUNDED)
    assert refusal(InvalidState, lambda: services.milestone_release(milestone=second, by=buyer)) == (
        "Milestone was refunded",
        "invalid_state",
    )
    assert refusal(InvalidState, lambda: services.milestone_complete(milestone=second, by=seller)) == (
        "Milestone was refunded",
        "invalid_state",
    )


def test_the_standard_confirmation_is_recorded_in_full(seller, buyer):
    escrow = services.escrow_create(
        seller=seller,
        buyer=buyer,
        terms=EscrowTerms(title="Logo", currency="USD", amount=40_000, settlement_type="STANDARD"),
        milestones=[],
    )
    fund(escrow, buyer)
    now = timezone.now()
    with at(now):
        services.escrow_confirm_delivery(escrow=escrow, by=buyer)
    assert refresh(escrow).closed_at == now
    release = LedgerTransaction.objects.get(kind="RELEASE", escrow=escrow)
    assert sorted(LedgerEntry.objects.filter(transaction=release).values_list("amount", flat=True)) == [
        -40_000,
        40_000,
    ]
    assert records(escrow, "escrow.completed") == [
        {
            "kind": "escrow.completed",
            "escrow": escrow.pk,
            "milestone": None,
            "actor": buyer.pk,
            "actor_kind": "user",
            "from_status": "OPENED",
            "to_status": "COMPLETED",
            "details": {},
        }
    ]


def test_a_delivery_without_proof_records_none_and_only_the_seller_delivers(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    first = milestones(escrow)[0]
    with pytest.raises(Forbidden) as exc:
        services.milestone_complete(milestone=first, by=buyer)
    assert exc.value.message == "Only the seller can mark a milestone delivered"
    services.milestone_complete(milestone=first, by=seller)
    first = refresh(first)
    assert (first.completed_by, first.completion_proof, first.completion_proof_uri) == ("", "", "")
    details = Event.objects.get(kind="milestone.completed").details
    assert (details["completedBy"], details["proof"], details["proofUri"]) == ("", "", "")
