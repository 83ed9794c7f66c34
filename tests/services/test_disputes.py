"""Milestone and whole-escrow disputes through the services: every path, every refusal, and
the ledger invariants after each outcome."""

import hashlib
import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core.errors import Forbidden, InvalidRequest, InvalidState, NotFound
from escrows import services, tasks
from escrows.models import (
    Dispute,
    DisputeStatus,
    EscrowStatus,
    Event,
    LedgerTransaction,
    Milestone,
    MilestoneStatus,
    Settlement,
    TransactionKind,
)
from escrows.selectors import escrow_ledger_summary, wallet_balance
from escrows.services import EscrowTerms, EvidenceInput
from tests.helpers import (
    assert_ledger_invariants,
    at,
    fund,
    ledger_fingerprint,
    make_escrow,
    make_settling_escrow,
    milestones,
    refresh,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_media")]


def standard(seller, amount=80_000):
    return services.escrow_create(
        seller=seller,
        terms=EscrowTerms(title="Laptop", currency="USD", amount=amount, settlement_type="STANDARD"),
        milestones=[],
    )


def open_on(escrow, index, by, **kw):
    return services.dispute_open(
        escrow=escrow, milestone=milestones(escrow)[index], by=by, reason="Late", **kw
    )


# -- open ------------------------------------------------------------------------------------


def test_open_freezes_one_milestone_and_records_the_default(funded, buyer, settings):
    dispute = open_on(
        funded, 1, buyer, evidence=EvidenceInput(text="No staging link", url="https://x.test/a")
    )
    assert dispute.public_id.startswith("dsp_")
    assert (dispute.status, dispute.opener_role, dispute.amount) == (DisputeStatus.OPEN, "buyer", 50_000)
    assert dispute.default_outcome == "split"
    assert (dispute.default_seller_amount, dispute.default_buyer_amount) == (25_000, 25_000)
    assert abs(dispute.deadline - (timezone.now() + settings.ESCROW_DISPUTE_RESOLUTION_PERIOD)) < timedelta(
        minutes=1
    )
    assert refresh(funded).status == EscrowStatus.OPENED
    assert [m.status for m in milestones(funded)] == ["PENDING", "DISPUTED", "PENDING"]
    kinds = list(Event.objects.filter(escrow=funded).values_list("kind", flat=True))
    assert kinds[-3:] == ["milestone.disputed", "dispute.opened", "dispute.evidence_added"]
    assert dispute.evidence.get().url == "https://x.test/a"
    assert_ledger_invariants()


def test_opener_chooses_the_default_outcome(funded, seller):
    d = open_on(
        funded, 0, seller, default_outcome="split", default_seller_amount=20_000, default_buyer_amount=10_000
    )
    assert (d.default_outcome, d.default_seller_amount, d.default_buyer_amount) == ("split", 20_000, 10_000)
    d2 = open_on(funded, 1, seller, default_outcome="release")
    assert (d2.default_seller_amount, d2.default_buyer_amount) == (50_000, 0)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"default_outcome": "keep"}, "outcome"),
        ({"default_outcome": "split", "default_seller_amount": 1, "default_buyer_amount": 1}, "add up"),
        (
            {"default_outcome": "split", "default_seller_amount": -1, "default_buyer_amount": 30_001},
            "negative",
        ),
        ({"evidence": EvidenceInput(url="javascript:alert(1)")}, "url"),
    ],
)
def test_open_refuses_bad_input_and_changes_nothing(funded, buyer, kw, match):
    before = ledger_fingerprint()
    with pytest.raises(InvalidRequest, match=match):
        open_on(funded, 0, buyer, **kw)
    assert ledger_fingerprint() == before and not Dispute.objects.exists()


def test_open_refusals(seller, buyer, stranger, funded):
    unpaid = make_escrow(seller, buyer=buyer)
    with pytest.raises(InvalidState, match="not funded"):
        open_on(unpaid, 0, buyer)
    with pytest.raises(NotFound):
        open_on(funded, 0, stranger)
    with pytest.raises(InvalidRequest, match="one milestone at a time"):
        services.dispute_open(escrow=funded, by=buyer, reason="late")
    open_on(funded, 0, buyer)
    with pytest.raises(InvalidState, match="already disputed"):
        open_on(funded, 0, seller)
    services.milestone_release(milestone=milestones(funded)[1], by=buyer)
    with pytest.raises(InvalidState, match="released"):
        open_on(funded, 1, buyer)
    other = make_escrow(seller)
    fund(other, buyer)
    with pytest.raises(NotFound, match="Milestone"):
        services.dispute_open(escrow=funded, milestone=milestones(other)[0], by=buyer, reason="x")
    std = standard(seller)
    fund(std, buyer)
    with pytest.raises(InvalidRequest, match="no milestones"):
        services.dispute_open(escrow=std, milestone=milestones(funded)[2], by=buyer, reason="x")


def test_other_milestones_stay_releasable_while_one_is_disputed(funded, seller, buyer):
    first, second, third = milestones(funded)
    open_on(funded, 0, buyer)
    services.milestone_complete(milestone=second, by=seller)
    services.milestone_release(milestone=second, by=buyer)
    services.milestone_release(milestone=third, by=buyer)
    assert refresh(funded).status == EscrowStatus.OPENED  # the disputed one still holds its amount
    assert escrow_ledger_summary(funded).held == first.amount
    with pytest.raises(InvalidState, match="disputed"):
        services.milestone_release(milestone=first, by=buyer)
    with pytest.raises(InvalidState, match="disputed"):
        services.escrow_refund(escrow=funded, by=seller)
    assert_ledger_invariants()


# -- evidence --------------------------------------------------------------------------------


def test_evidence_file_is_hashed_and_stored(funded, buyer, seller):
    dispute = open_on(funded, 0, buyer)
    data = b"%PDF-1.4 invoice"
    upload = SimpleUploadedFile("invoice.pdf", data, content_type="application/pdf")
    row = services.dispute_add_evidence(
        dispute=dispute, by=seller, evidence=EvidenceInput(text="See", file=upload)
    )
    assert row.file_sha256 == hashlib.sha256(data).hexdigest()
    assert (row.file_size, row.content_type, row.file_name, row.submitter_role) == (
        len(data),
        "application/pdf",
        "invoice.pdf",
        "seller",
    )
    with row.file.open("rb") as f:
        assert f.read() == data
    assert row.file.name.endswith(f"{row.public_id}.pdf")


def test_evidence_refusals(funded, buyer, stranger, admin_user, settings):
    dispute = open_on(funded, 0, buyer)
    with pytest.raises(InvalidRequest, match="text, a url or a file"):
        services.dispute_add_evidence(dispute=dispute, by=buyer, evidence=EvidenceInput(text="  "))
    with pytest.raises(NotFound):
        services.dispute_add_evidence(dispute=dispute, by=stranger, evidence=EvidenceInput(text="hi"))
    settings.ESCROW_EVIDENCE_MAX_BYTES = 10
    big = SimpleUploadedFile("a.txt", b"x" * 11, content_type="text/plain")
    with pytest.raises(InvalidRequest, match="larger"):
        services.dispute_add_evidence(dispute=dispute, by=buyer, evidence=EvidenceInput(file=big))
    exe = SimpleUploadedFile("a.exe", b"MZ", content_type="application/x-msdownload")
    with pytest.raises(InvalidRequest, match="must be a PDF"):
        services.dispute_add_evidence(dispute=dispute, by=buyer, evidence=EvidenceInput(file=exe))
    services.dispute_resolve(dispute=dispute, by=admin_user, outcome="refund")
    with pytest.raises(InvalidState, match="resolved"):
        services.dispute_add_evidence(dispute=dispute, by=buyer, evidence=EvidenceInput(text="late"))


# -- answer ----------------------------------------------------------------------------------


def test_seller_accepts_a_buyer_dispute_refunds_the_buyer(funded, seller, buyer):
    dispute = open_on(funded, 1, buyer, default_outcome="refund")
    services.dispute_answer(dispute=dispute, by=seller, answer="accept", text="Fair enough")
    dispute = refresh(dispute)
    assert (dispute.status, dispute.outcome, dispute.seller_amount, dispute.buyer_amount) == (
        DisputeStatus.RESOLVED,
        "refund",
        0,
        50_000,
    )
    assert dispute.resolved_by == seller and dispute.answer_choice == "accept"
    assert refresh(milestones(funded)[1]).status == MilestoneStatus.REFUNDED
    assert wallet_balance(buyer, "USD") == 50_000
    assert_ledger_invariants()


def test_buyer_accepts_a_seller_dispute_releases(funded, seller, buyer):
    dispute = open_on(funded, 0, seller, default_outcome="release")
    services.dispute_answer(dispute=dispute, by=buyer, answer="accept")
    assert refresh(milestones(funded)[0]).status == MilestoneStatus.RELEASED
    assert wallet_balance(seller, "USD") == 30_000
    assert LedgerTransaction.objects.filter(kind="RELEASE", milestone=milestones(funded)[0]).count() == 1
    assert_ledger_invariants()


def test_contest_then_answer_refusals(funded, seller, buyer, stranger):
    dispute = open_on(funded, 0, buyer)
    with pytest.raises(Forbidden, match="Only the seller"):
        services.dispute_answer(dispute=dispute, by=buyer, answer="contest")
    with pytest.raises(NotFound):
        services.dispute_answer(dispute=dispute, by=stranger, answer="contest")
    with pytest.raises(InvalidRequest, match="answer must be"):
        services.dispute_answer(dispute=dispute, by=seller, answer="maybe")
    services.dispute_answer(dispute=dispute, by=seller, answer="contest", text="It was delivered")
    dispute = refresh(dispute)
    assert (dispute.status, dispute.answer_text) == (DisputeStatus.ANSWERED, "It was delivered")
    assert refresh(milestones(funded)[0]).status == MilestoneStatus.DISPUTED
    with pytest.raises(InvalidState, match="already answered"):
        services.dispute_answer(dispute=dispute, by=seller, answer="accept")


# -- withdraw --------------------------------------------------------------------------------


def test_withdraw_puts_a_delivered_milestone_back_to_delivered(funded, seller, buyer):
    first = milestones(funded)[0]
    services.milestone_complete(milestone=first, by=seller)
    dispute = open_on(funded, 0, buyer)
    with pytest.raises(Forbidden, match="opened this dispute"):
        services.dispute_withdraw(dispute=dispute, by=seller)
    services.dispute_withdraw(dispute=dispute, by=buyer)
    assert refresh(first).status == MilestoneStatus.COMPLETED
    assert refresh(dispute).status == DisputeStatus.WITHDRAWN
    with pytest.raises(InvalidState, match="withdrawn"):
        services.dispute_withdraw(dispute=dispute, by=buyer)
    # A new dispute on the same milestone is allowed once the old one is closed.
    open_on(funded, 0, buyer)


def test_withdraw_of_a_whole_escrow_dispute_resumes(seller, buyer):
    escrow = standard(seller)
    fund(escrow, buyer)
    dispute = services.dispute_open(escrow=escrow, by=buyer, reason="Scratched")
    assert refresh(escrow).status == EscrowStatus.DISPUTED
    with pytest.raises(InvalidState, match="already disputed"):
        services.dispute_open(escrow=escrow, by=seller, reason="again")
    services.dispute_withdraw(dispute=dispute, by=buyer)
    assert refresh(escrow).status == EscrowStatus.OPENED
    services.escrow_confirm_delivery(escrow=escrow, by=buyer)
    assert_ledger_invariants()


# -- resolve ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "outcome, amounts, status, seller_gets, buyer_gets",
    [
        ("release", {}, MilestoneStatus.RELEASED, 50_000, 0),
        ("refund", {}, MilestoneStatus.REFUNDED, 0, 50_000),
        ("split", {"seller_amount": 30_000, "buyer_amount": 20_000}, MilestoneStatus.SPLIT, 30_000, 20_000),
        # A "split" giving one side nothing settles (and is booked) as a plain refund.
        ("split", {"seller_amount": 0, "buyer_amount": 50_000}, MilestoneStatus.REFUNDED, 0, 50_000),
    ],
)
def test_staff_resolution_outcomes(
    funded, seller, buyer, admin_user, outcome, amounts, status, seller_gets, buyer_gets
):
    dispute = open_on(funded, 1, buyer)
    services.dispute_resolve(dispute=dispute, by=admin_user, outcome=outcome, note="Looked at it", **amounts)
    dispute = refresh(dispute)
    assert (dispute.outcome, dispute.seller_amount, dispute.buyer_amount) == (
        outcome,
        seller_gets,
        buyer_gets,
    )
    assert (dispute.resolved_by, dispute.resolution_note) == (admin_user, "Looked at it")
    assert refresh(milestones(funded)[1]).status == status
    assert wallet_balance(seller, "USD") == seller_gets
    assert wallet_balance(buyer, "USD") == buyer_gets
    # One posting moved the disputed amount out of the hold.
    assert LedgerTransaction.objects.filter(escrow=funded, milestone=milestones(funded)[1]).count() == 1
    summary = escrow_ledger_summary(funded)
    assert (summary.released, summary.refunded, summary.held) == (seller_gets, buyer_gets, 50_000)
    resolved = Event.objects.get(kind="dispute.resolved")
    assert resolved.details["outcome"] == outcome and resolved.details["sellerAmount"] == seller_gets
    assert_ledger_invariants()


def test_resolution_refusals(funded, seller, buyer, admin_user):
    dispute = open_on(funded, 1, buyer)
    before = ledger_fingerprint()
    with pytest.raises(Forbidden):
        services.dispute_resolve(dispute=dispute, by=seller, outcome="release")
    with pytest.raises(InvalidRequest, match="outcome"):
        services.dispute_resolve(dispute=dispute, by=admin_user, outcome="resume")
    with pytest.raises(InvalidRequest, match="both"):
        services.dispute_resolve(dispute=dispute, by=admin_user, outcome="split", seller_amount=1)
    with pytest.raises(InvalidRequest, match="add up"):
        services.dispute_resolve(
            dispute=dispute, by=admin_user, outcome="split", seller_amount=1, buyer_amount=1
        )
    with pytest.raises(InvalidRequest, match="negative"):
        services.dispute_resolve(
            dispute=dispute, by=admin_user, outcome="split", seller_amount=-1, buyer_amount=50_001
        )
    with pytest.raises(InvalidRequest, match="minor units"):
        services.dispute_resolve(
            dispute=dispute, by=admin_user, outcome="split", seller_amount=25_000.0, buyer_amount=25_000
        )
    assert ledger_fingerprint() == before
    services.dispute_resolve(dispute=dispute, by=admin_user, outcome="release")
    after = ledger_fingerprint()
    with pytest.raises(InvalidState, match="already resolved"):
        services.dispute_resolve(dispute=dispute, by=admin_user, outcome="refund")
    with pytest.raises(InvalidState):
        services.dispute_withdraw(dispute=dispute, by=buyer)
    assert ledger_fingerprint() == after
    assert_ledger_invariants()


def test_resolving_the_last_milestone_closes_the_escrow(funded, buyer, admin_user):
    first, second, third = milestones(funded)
    services.milestone_release(milestone=first, by=buyer)
    services.milestone_release(milestone=second, by=buyer)
    dispute = open_on(funded, 2, buyer)
    services.dispute_resolve(
        dispute=dispute, by=admin_user, outcome="split", seller_amount=1, buyer_amount=19_999
    )
    escrow = refresh(funded)
    assert escrow.status == EscrowStatus.COMPLETED and escrow.closed_at
    assert LedgerTransaction.objects.filter(milestone=third, kind=TransactionKind.SPLIT).count() == 1
    assert_ledger_invariants()


def test_all_refunded_by_disputes_closes_as_refunded(seller, buyer, admin_user):
    escrow = make_escrow(seller, parts=(100, 200))
    fund(escrow, buyer)
    for m in milestones(escrow):
        d = services.dispute_open(escrow=escrow, milestone=m, by=buyer, reason="x", default_outcome="refund")
        services.dispute_answer(dispute=d, by=seller, answer="accept")
    assert refresh(escrow).status == EscrowStatus.REFUNDED
    assert_ledger_invariants()


def test_whole_escrow_split(seller, buyer, admin_user):
    escrow = standard(seller)
    fund(escrow, buyer)
    dispute = services.dispute_open(escrow=escrow, by=buyer, reason="Half broken")
    services.dispute_resolve(
        dispute=dispute, by=admin_user, outcome="split", seller_amount=50_000, buyer_amount=30_000
    )
    assert refresh(escrow).status == EscrowStatus.COMPLETED
    assert (wallet_balance(seller, "USD"), wallet_balance(buyer, "USD")) == (50_000, 30_000)
    assert_ledger_invariants()


def test_seller_part_is_paid_out_like_a_release(
    seller, buyer, admin_user, django_capture_on_commit_callbacks
):
    escrow = make_settling_escrow(seller)
    fund(escrow, buyer)
    dispute = open_on(escrow, 0, buyer)
    with django_capture_on_commit_callbacks(execute=True):
        services.dispute_resolve(
            dispute=dispute, by=admin_user, outcome="split", seller_amount=10_000, buyer_amount=20_000
        )
    settlement = Settlement.objects.get(escrow=escrow)
    assert (settlement.amount, settlement.milestone_id, settlement.status) == (
        10_000,
        dispute.milestone_id,
        "PAID",
    )
    assert_ledger_invariants()


def test_card_funded_refund_part_goes_back_outside(seller, buyer, admin_user):
    escrow = make_escrow(seller)
    services.escrow_fund(escrow=escrow, by=buyer, source="CARD", card_token="tok_visa")
    dispute = open_on(escrow, 0, buyer)
    services.dispute_resolve(dispute=dispute, by=admin_user, outcome="refund")
    assert wallet_balance(buyer, "USD") == 0
    assert escrow_ledger_summary(escrow).refunded == 30_000
    assert_ledger_invariants()


def test_milestone_dispute_freezes_only_that_milestone(seller, buyer, admin_user):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first, second, third = milestones(escrow)
    services.milestone_release(milestone=first, by=buyer)
    with pytest.raises(InvalidRequest, match="reason"):
        services.dispute_open(escrow=escrow, milestone=second, by=buyer, reason=" ")
    with pytest.raises(InvalidRequest, match="one milestone at a time"):
        services.dispute_open(escrow=escrow, by=buyer, reason="Late")
    dispute = services.dispute_open(escrow=escrow, milestone=second, by=buyer, reason="Late")
    assert refresh(escrow).status == EscrowStatus.OPENED
    assert refresh(second).status == MilestoneStatus.DISPUTED
    with pytest.raises(InvalidState, match="disputed"):
        services.milestone_release(milestone=second, by=buyer)
    # The next milestone is not held up by the frozen one.
    services.milestone_release(milestone=third, by=buyer)
    with pytest.raises(Forbidden):
        services.dispute_resolve(dispute=dispute, by=seller, outcome="release")
    services.dispute_withdraw(dispute=dispute, by=buyer)
    assert refresh(second).status == MilestoneStatus.PENDING
    services.milestone_release(milestone=second, by=buyer)
    assert refresh(escrow).status == EscrowStatus.COMPLETED
    assert_ledger_invariants()


def _standard(seller, amount=100_000):
    return services.escrow_create(
        seller=seller,
        terms=EscrowTerms(
            title="Laptop",
            currency="USD",
            amount=amount,
            settlement_type="STANDARD",
            release_type="DELIVERY_PROOF",
        ),
        milestones=[],
    )


@pytest.mark.parametrize(
    "outcome, status, seller_gets, buyer_gets",
    [("release", EscrowStatus.COMPLETED, 100_000, 0), ("refund", EscrowStatus.REFUNDED, 0, 100_000)],
)
def test_whole_escrow_dispute_resolutions(
    seller, buyer, admin_user, outcome, status, seller_gets, buyer_gets
):
    escrow = _standard(seller)
    fund(escrow, buyer)
    dispute = services.dispute_open(escrow=escrow, by=seller, reason="Buyer unresponsive")
    assert refresh(escrow).status == EscrowStatus.DISPUTED
    services.dispute_resolve(dispute=dispute, by=admin_user, outcome=outcome)
    assert refresh(escrow).status == status
    assert wallet_balance(seller, "USD") == seller_gets
    assert wallet_balance(buyer, "USD") == buyer_gets
    assert_ledger_invariants()


def test_milestone_statuses_after_dispute_refund(seller, buyer, admin_user):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    for m in milestones(escrow):
        dispute = services.dispute_open(escrow=escrow, milestone=m, by=buyer, reason="Never started")
        services.dispute_resolve(dispute=dispute, by=admin_user, outcome="refund")
    assert all(m.status == MilestoneStatus.REFUNDED for m in milestones(escrow))
    assert refresh(escrow).status == EscrowStatus.REFUNDED
    assert_ledger_invariants()


# -- the deadline ----------------------------------------------------------------------------


def test_default_outcome_applies_after_the_deadline(funded, seller, buyer):
    dispute = open_on(
        funded, 1, buyer, default_outcome="split", default_seller_amount=10_000, default_buyer_amount=40_000
    )
    assert services.dispute_apply_default(dispute=dispute) is None  # not due yet
    Dispute.objects.filter(pk=dispute.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    counts = tasks.run_timers()
    assert counts["disputes_defaulted"] == 1
    dispute = refresh(dispute)
    assert (dispute.status, dispute.outcome, dispute.resolved_by) == (DisputeStatus.RESOLVED, "split", None)
    assert (wallet_balance(seller, "USD"), wallet_balance(buyer, "USD")) == (10_000, 40_000)
    assert Event.objects.filter(kind="dispute.resolved", actor_kind="system").count() == 1
    assert tasks.run_timers()["disputes_defaulted"] == 0
    assert_ledger_invariants()


def test_withdrawn_or_resolved_disputes_are_not_defaulted(funded, buyer):
    dispute = open_on(funded, 0, buyer)
    services.dispute_withdraw(dispute=dispute, by=buyer)
    Dispute.objects.filter(pk=dispute.pk).update(deadline=timezone.now() - timedelta(days=1))
    assert services.dispute_apply_default(dispute=dispute) is None
    assert tasks.run_timers()["disputes_defaulted"] == 0


# A dispute gets its default outcome at its deadline itself, not a moment after, as the sweep
# that picks it (deadline <= now) expects; the outcome leaves its reason in the record.


def test_a_dispute_gets_its_default_outcome_at_its_deadline(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    dispute = services.dispute_open(escrow=escrow, milestone=milestones(escrow)[1], by=buyer, reason="Late")
    deadline = refresh(dispute).deadline
    with at(deadline - timedelta(seconds=1)):
        assert services.dispute_apply_default(dispute=dispute) is None
    with at(deadline):
        assert services.dispute_apply_default(dispute=dispute) is not None
    settled = refresh(dispute)
    assert settled.status == DisputeStatus.RESOLVED
    assert settled.resolution_note == "The seller did not answer by the deadline: the buyer's request applied"
    assert Milestone.objects.get(pk=milestones(escrow)[1].pk).status != MilestoneStatus.DISPUTED


def test_dispute_steps_become_webhooks_for_both_parties(funded, seller, buyer, admin_user, settings):
    from webhooks import services as webhook_services
    from webhooks.models import WebhookDelivery

    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    for who in (seller, buyer):
        webhook_services.webhook_endpoint_create(customer=who, url="http://127.0.0.1:9/hook")
    dispute = open_on(funded, 1, buyer, evidence=EvidenceInput(text="see"))
    services.dispute_answer(dispute=dispute, by=seller, answer="contest")
    services.dispute_resolve(
        dispute=dispute, by=admin_user, outcome="split", seller_amount=1, buyer_amount=49_999
    )
    webhook_services.events_dispatch()
    kinds = [
        "milestone.disputed",
        "dispute.opened",
        "dispute.evidence_added",
        "dispute.answered",
        "milestone.split",
        "dispute.resolved",
    ]
    for endpoint_owner in (seller, buyer):
        sent = list(
            WebhookDelivery.objects.filter(endpoint__customer=endpoint_owner)
            .order_by("event_id")
            .values_list("event_type", flat=True)
        )
        assert [
            k for k in sent if k.startswith(("dispute.", "milestone.split", "milestone.disputed"))
        ] == kinds
    resolved = WebhookDelivery.objects.filter(event_type="dispute.resolved").first()
    details = json.loads(resolved.payload)["data"]["details"]
    assert (details["outcome"], details["sellerAmount"], details["buyerAmount"]) == ("split", 1, 49_999)
