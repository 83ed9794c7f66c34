"""Every word and amount of a receipt, for each kind of posting that has one: the buyer's payment,
a release, a part of a stage and its rest, a dispute's split and an agreed cancellation's split.
A receipt is what a party keeps as proof of what moved; each line is pinned here."""

import pytest

from escrows import selectors, services
from escrows.models import LedgerTransaction
from escrows.services import EscrowTerms, MilestoneInput
from tests.helpers import fund, make_escrow, milestones

pytestmark = pytest.mark.django_db

PAYMENT_NOTE = (
    "The escrow amount is held until the buyer confirms each stage (or a stage's review period "
    "ends); the fee is not refunded."
)
RELEASE_NOTE = "Released money is in the payee's Milestone Escrow balance, from where it is paid out."


def posting(escrow, kind, n=0):
    return LedgerTransaction.objects.filter(escrow=escrow, kind=kind).order_by("id")[n]


def receipt(user, escrow, txn):
    return selectors.receipt_get(user, escrow.public_id, txn.pk)


def labelled(r):
    return [(line.label, line.amount) for line in r.lines]


def test_the_payment_receipt_says_what_was_paid_from_where_and_to_whom(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    txn = posting(escrow, "FUNDING")
    payment = escrow.payment
    r = receipt(buyer, escrow, txn)
    assert (r.number, r.posting, r.kind, r.title) == (
        f"{escrow.public_id}-{txn.pk}",
        txn.pk,
        "payment",
        "Payment receipt",
    )
    assert (r.at, r.escrow, r.milestone, r.currency) == (txn.created_at, escrow, None, "USD")
    assert labelled(r) == [("Escrow amount", 100_000), ("Escrow fee", escrow.fee)]
    assert (r.total_label, r.total) == ("Total paid", 100_000 + escrow.fee)
    assert r.facts == [
        ("Paid by", buyer.display_name),
        ("Paid to", f"Milestone Escrow, held in escrow for {seller.display_name}"),
        ("Paid from", "Wallet balance"),
        ("Payment reference", payment.reference),
        ("Escrow", f"Website build ({escrow.public_id})"),
    ]
    assert r.note == PAYMENT_NOTE


def test_the_release_receipt_names_the_stage_the_payee_and_the_payer(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    txn = posting(escrow, "RELEASE")
    r = receipt(seller, escrow, txn)
    assert (r.number, r.posting, r.kind, r.title, r.at) == (
        f"{escrow.public_id}-{txn.pk}",
        txn.pk,
        "release",
        "Release receipt",
        txn.created_at,
    )
    assert (r.escrow, r.milestone, r.currency) == (escrow, milestones(escrow)[0], "USD")
    assert labelled(r) == [(f"Released to {seller.display_name}", 30_000)]
    assert (r.total_label, r.total) == ("Released", 30_000)
    assert r.facts == [
        ("For", "Stage 0"),
        ("How", "Released"),
        ("Paid by", buyer.display_name),
        ("Escrow", f"Website build ({escrow.public_id})"),
    ]
    assert r.note == RELEASE_NOTE


def test_a_stage_without_a_title_is_named_by_its_number(seller, buyer):
    escrow = services.escrow_create(
        seller=seller,
        buyer=buyer,
        terms=EscrowTerms(title="Logo", currency="USD", amount=50_000),
        milestones=[MilestoneInput(amount=20_000), MilestoneInput(amount=30_000)],
    )
    fund(escrow, buyer)
    services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    services.milestone_release(milestone=milestones(escrow)[1], by=buyer)
    second = receipt(buyer, escrow, posting(escrow, "RELEASE", 1))
    assert second.facts[0] == ("For", "Stage 2")


def test_a_part_of_a_stage_and_its_rest_each_get_a_receipt_that_says_so(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    services.milestone_release_part(milestone=milestones(escrow)[0], by=buyer, amount=10_000)
    services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    part, rest = (
        receipt(buyer, escrow, posting(escrow, "RELEASE", 0)),
        receipt(buyer, escrow, posting(escrow, "RELEASE", 1)),
    )
    assert labelled(part) == [(f"Released to {seller.display_name}", 10_000)]
    assert labelled(rest) == [(f"Released to {seller.display_name}", 20_000)]
    assert part.facts[1:3] == [
        ("How", "Part of the stage released; the rest stayed held for it"),
        ("Stage amount", "300.00 USD"),
    ]
    assert rest.facts[1:3] == [
        ("How", "The rest of the stage released (a part was released before)"),
        ("Stage amount", "300.00 USD"),
    ]


def test_a_disputes_split_shows_both_sides(seller, buyer, admin_user):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    dispute = services.dispute_open(escrow=escrow, by=buyer, reason="Late", milestone=milestones(escrow)[0])
    services.dispute_resolve(
        dispute=dispute, by=admin_user, outcome="split", seller_amount=18_000, buyer_amount=12_000
    )
    r = receipt(buyer, escrow, posting(escrow, "SPLIT"))
    assert labelled(r) == [
        (f"Released to {seller.display_name}", 18_000),
        (f"Refunded to {buyer.display_name}", 12_000),
    ]
    assert (r.total_label, r.total) == ("Released", 18_000)
    assert r.facts[:2] == [("For", "Stage 0"), ("How", "Split by the dispute's ruling")]


def test_an_agreed_cancellations_split_shows_both_sides(seller, buyer):
    escrow = make_escrow(seller, parts=(30_000, 20_000), buyer=buyer)
    fund(escrow, buyer)
    proposal = services.cancellation_propose(
        escrow=escrow, by=buyer, buyer_amount=45_000, seller_amount=5_000
    )
    services.cancellation_accept(proposal=proposal, by=seller)
    r = receipt(seller, escrow, posting(escrow, "CANCELLATION"))
    assert labelled(r) == [
        (f"Released to {seller.display_name}", 5_000),
        (f"Refunded to {buyer.display_name}", 45_000),
    ]
    assert (r.total_label, r.total) == ("Released", 5_000)
    # One posting for the whole escrow: the receipt is for the escrow, not a stage.
    assert (r.milestone, r.facts[:2]) == (
        None,
        [("For", "Website build"), ("How", "Split by the agreed cancellation")],
    )


def test_a_release_of_the_smallest_amount_still_has_its_receipt(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    services.milestone_release_part(milestone=milestones(escrow)[0], by=buyer, amount=1)
    r = receipt(buyer, escrow, posting(escrow, "RELEASE"))
    assert (labelled(r), r.total) == ([(f"Released to {seller.display_name}", 1)], 1)
