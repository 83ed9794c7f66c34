"""Request changes: the buyer sends a delivered stage back with a note. It is in progress again,
its review clock stops, the round is counted, no money moves; the seller delivers again and a
fresh review period starts. Every refusal leaves everything as it was."""

from datetime import timedelta

import pytest
from django.core.management import call_command

from core.errors import Forbidden, InvalidRequest, InvalidState, NotFound
from escrows import services
from escrows.models import CHANGES_NOTE_MAX, Escrow, EscrowStatus, Event, Milestone, MilestoneStatus
from tests.helpers import (
    assert_ledger_invariants,
    at,
    fund,
    ledger_fingerprint,
    make_escrow,
    milestones,
    refresh,
)

pytestmark = pytest.mark.django_db


def _money() -> tuple:
    """The ledger and the escrows: what sending a stage back must not change."""
    return ledger_fingerprint()[:4]


def _snapshot(m: Milestone) -> tuple:
    fresh = refresh(m)
    return (
        ledger_fingerprint(),
        Event.objects.count(),
        fresh.status,
        fresh.changes_requested_count,
        fresh.changes_requested_note,
        fresh.review_deadline,
        fresh.completion_proof,
    )


def test_the_buyer_sends_a_delivered_stage_back_with_a_note(delivered, buyer):
    services.milestone_review_extend(milestone=delivered, by=buyer)
    before = _money()
    now = delivered.completed_at + timedelta(hours=2)
    with at(now):
        sent_back = services.milestone_request_changes(
            milestone=delivered, by=buyer, note="  The logo is the old one.  "
        )
    m = refresh(delivered)
    assert sent_back.status == m.status == MilestoneStatus.PENDING
    assert (m.changes_requested_count, m.changes_requested_note) == (1, "The logo is the old one.")
    assert m.changes_requested_at == now
    # The clock stopped: nothing to release, remind or extend until it is delivered again.
    assert (m.review_deadline, m.review_extended_at, m.reminder_sent_at) == (None, None, None)
    # The delivery sent back leaves the stage...
    assert (m.completed_at, m.completed_by, m.completion_proof, m.completion_proof_uri) == (None, "", "", "")
    # ...and no money moves.
    assert _money() == before
    assert_ledger_invariants()
    event = Event.objects.get(kind="milestone.changes_requested")
    assert (event.actor, event.milestone, event.from_status, event.to_status) == (
        buyer,
        m,
        MilestoneStatus.COMPLETED,
        MilestoneStatus.PENDING,
    )
    assert event.details == {
        "index": 0,
        "milestone": m.public_id,
        "round": 1,
        "note": "The logo is the old one.",
        "requestedBy": "buyer",
        "held": 30_000,
        "completedBy": "",
        "proof": "done",
        "proofUri": "",
    }


def test_the_delivery_sent_back_is_kept_whole_in_the_event(funded, seller, buyer):
    first = milestones(funded)[0]
    proof = "x" * 900  # longer than the delivery event keeps
    services.milestone_complete(
        milestone=first, by=seller, completed_by="Sam", proof=proof, proof_uri="https://example.test/v1"
    )
    services.milestone_request_changes(milestone=first, by=buyer, note="Needs dark mode")
    details = Event.objects.get(kind="milestone.changes_requested").details
    assert (details["completedBy"], details["proof"], details["proofUri"]) == (
        "Sam",
        proof,
        "https://example.test/v1",
    )


def test_redelivery_starts_a_fresh_review_clock_and_counts_the_rounds(delivered, seller, buyer, settings):
    settings.ESCROW_REVIEW_EXTENSION = timedelta(days=7)
    services.milestone_review_extend(milestone=delivered, by=buyer)
    start = delivered.completed_at
    with at(start + timedelta(days=3)):
        services.milestone_request_changes(milestone=delivered, by=buyer, note="Round one")
    redelivered_at = start + timedelta(days=5)
    with at(redelivered_at):
        services.milestone_complete(milestone=refresh(delivered), by=seller, proof="fixed")
    m = refresh(delivered)
    assert m.status == MilestoneStatus.COMPLETED and m.completion_proof == "fixed"
    assert m.completed_at == redelivered_at
    assert m.review_deadline == redelivered_at + m.escrow.inspection_period
    # The new round has its own extension.
    assert m.review_extended_at is None and m.reminder_sent_at is None
    services.milestone_review_extend(milestone=m, by=buyer)
    assert refresh(m).review_deadline == redelivered_at + m.escrow.inspection_period + timedelta(days=7)
    with at(start + timedelta(days=6)):
        services.milestone_request_changes(milestone=refresh(m), by=buyer, note="Round two")
    m = refresh(m)
    assert (m.changes_requested_count, m.changes_requested_note) == (2, "Round two")
    rounds = Event.objects.filter(kind="milestone.changes_requested").order_by("id")
    assert [(e.details["round"], e.details["note"], e.details["proof"]) for e in rounds] == [
        (1, "Round one", "done"),
        (2, "Round two", "fixed"),
    ]


def test_the_timer_does_not_release_a_stage_sent_back(delivered, buyer):
    deadline = delivered.review_deadline
    services.milestone_request_changes(milestone=delivered, by=buyer, note="Not yet")
    with at(deadline + timedelta(days=30)):
        call_command("process_due")
        assert services.milestone_auto_release(milestone=refresh(delivered)) is None
    m = refresh(delivered)
    assert m.status == MilestoneStatus.PENDING and m.released_at is None
    assert not Event.objects.filter(
        kind__in=("milestone.released", "milestone.review_reminder_sent")
    ).exists()


def test_a_withdrawn_dispute_leaves_a_stage_sent_back_undelivered(delivered, buyer):
    """dispute_withdraw puts a stage back by its delivery time: one sent back has none."""
    services.milestone_request_changes(milestone=delivered, by=buyer, note="Fix it")
    dispute = services.dispute_open(
        escrow=delivered.escrow, by=buyer, reason="Taking too long", milestone=refresh(delivered)
    )
    services.dispute_withdraw(dispute=dispute, by=buyer)
    m = refresh(delivered)
    assert m.status == MilestoneStatus.PENDING and m.review_deadline is None


def test_sending_back_keeps_a_part_already_released(delivered, seller, buyer):
    services.milestone_release_part(milestone=delivered, by=buyer, amount=10_000)
    before = _money()
    services.milestone_request_changes(milestone=refresh(delivered), by=buyer, note="Finish it")
    m = refresh(delivered)
    assert (m.status, m.released_part) == (MilestoneStatus.PENDING, 10_000)
    assert _money() == before
    assert Event.objects.get(kind="milestone.changes_requested").details["held"] == 20_000
    # Delivered again, the rest releases and the stage settles; the books balance.
    services.milestone_complete(milestone=m, by=seller, proof="finished")
    services.milestone_release_part(milestone=refresh(m), by=buyer, amount=20_000)
    assert refresh(m).status == MilestoneStatus.RELEASED
    assert_ledger_invariants()


# -- refusals: nothing changes -------------------------------------------------------------------


def test_the_seller_may_not_send_their_own_delivery_back(delivered, seller):
    snapshot = _snapshot(delivered)
    with pytest.raises(Forbidden) as exc:
        services.milestone_request_changes(milestone=delivered, by=seller, note="Hmm")
    assert exc.value.message == "Only the buyer can request changes to a delivered milestone"
    assert _snapshot(delivered) == snapshot


def test_a_stranger_is_told_there_is_no_such_escrow(delivered, stranger):
    snapshot = _snapshot(delivered)
    with pytest.raises(NotFound) as exc:
        services.milestone_request_changes(milestone=delivered, by=stranger, note="Hmm")
    assert exc.value.message == "Escrow not found"
    assert _snapshot(delivered) == snapshot


@pytest.mark.parametrize(
    ("note", "code", "message"),
    [
        ("", "note_required", "Say what needs to change"),
        ("   \n ", "note_required", "Say what needs to change"),
        ("x" * (CHANGES_NOTE_MAX + 1), "note_too_long", "The note is too long: at most 2,000 characters"),
    ],
)
def test_a_note_is_required_and_bounded(delivered, buyer, note, code, message):
    snapshot = _snapshot(delivered)
    with pytest.raises(InvalidRequest) as exc:
        services.milestone_request_changes(milestone=delivered, by=buyer, note=note)
    assert (exc.value.code, exc.value.message, exc.value.field) == (code, message, "note")
    assert _snapshot(delivered) == snapshot


def test_a_note_of_the_longest_length_is_taken(delivered, buyer):
    note = "y" * CHANGES_NOTE_MAX
    services.milestone_request_changes(milestone=delivered, by=buyer, note=f" {note} ")
    assert refresh(delivered).changes_requested_note == note


def test_an_undelivered_stage_cannot_be_sent_back(funded, buyer):
    first = milestones(funded)[0]
    snapshot = _snapshot(first)
    with pytest.raises(InvalidState) as exc:
        services.milestone_request_changes(milestone=first, by=buyer, note="Hurry up")
    assert exc.value.code == "not_in_review"
    assert _snapshot(first) == snapshot


def test_a_stage_sent_back_cannot_be_sent_back_again_before_redelivery(delivered, buyer):
    services.milestone_request_changes(milestone=delivered, by=buyer, note="Once")
    snapshot = _snapshot(delivered)
    with pytest.raises(InvalidState) as exc:
        services.milestone_request_changes(milestone=refresh(delivered), by=buyer, note="Twice")
    assert exc.value.code == "not_in_review"
    assert _snapshot(delivered) == snapshot


def test_a_released_stage_cannot_be_sent_back(delivered, buyer):
    services.milestone_release(milestone=delivered, by=buyer)
    snapshot = _snapshot(delivered)
    with pytest.raises(InvalidState) as exc:
        services.milestone_request_changes(milestone=refresh(delivered), by=buyer, note="Too late")
    assert exc.value.code == "not_in_review"
    assert _snapshot(delivered) == snapshot


def test_a_disputed_stage_cannot_be_sent_back(delivered, buyer):
    services.dispute_open(escrow=delivered.escrow, by=buyer, reason="Broken", milestone=delivered)
    snapshot = _snapshot(delivered)
    with pytest.raises(InvalidState) as exc:
        services.milestone_request_changes(milestone=refresh(delivered), by=buyer, note="Fix")
    assert exc.value.code == "milestone_disputed"
    assert _snapshot(delivered) == snapshot


def test_no_sending_back_once_the_review_period_is_over(delivered, buyer):
    snapshot = _snapshot(delivered)
    with at(delivered.review_deadline), pytest.raises(InvalidState) as exc:
        services.milestone_request_changes(milestone=delivered, by=buyer, note="Late")
    assert exc.value.code == "review_ended"
    assert _snapshot(delivered) == snapshot


def test_no_sending_back_on_a_closed_escrow(delivered, seller, buyer):
    services.escrow_refund(escrow=delivered.escrow, by=seller)
    snapshot = _snapshot(delivered)
    with pytest.raises(InvalidState) as exc:
        services.milestone_request_changes(milestone=refresh(delivered), by=buyer, note="Fix")
    assert exc.value.code == "escrow_closed"
    assert _snapshot(delivered) == snapshot


def test_no_sending_back_a_stage_delivered_before_payment(seller, buyer):
    # The payment-intents API lets the seller deliver before the buyer pays.
    escrow = make_escrow(seller, buyer=buyer)
    first = milestones(escrow)[0]
    services.milestone_complete(milestone=first, by=seller, proof="early")
    snapshot = _snapshot(first)
    with pytest.raises(InvalidState) as exc:
        services.milestone_request_changes(milestone=refresh(first), by=buyer, note="Fix")
    assert exc.value.code == "not_funded"
    assert _snapshot(first) == snapshot


def test_the_rule_answers_the_page_without_a_note(delivered):
    m = refresh(delivered)
    now = m.completed_at + timedelta(minutes=1)
    assert m.changes_request_refusal("buyer", now) is None
    assert m.changes_request_refusal("seller", now)[0] == "not_buyer"
    assert m.changes_request_refusal(None, now)[0] == "not_buyer"
    assert m.changes_request_refusal("buyer", m.review_deadline)[0] == "review_ended"
    assert m.changes_request_refusal("buyer", now, note="")[0] == "note_required"
    Escrow.objects.filter(pk=m.escrow_id).update(status=EscrowStatus.COMPLETED)
    assert refresh(m).changes_request_refusal("buyer", now)[0] == "not_open"


def test_fund_then_send_back_moves_no_money(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    services.milestone_complete(milestone=first, by=seller, proof="v1")
    services.milestone_request_changes(milestone=first, by=buyer, note="v2 please")
    services.milestone_complete(milestone=refresh(first), by=seller, proof="v2")
    services.milestone_release(milestone=refresh(first), by=buyer)
    assert refresh(first).status == MilestoneStatus.RELEASED
    assert_ledger_invariants()
