"""Funding records the buyer's agreement to this escrow's own current version of the terms and to
nothing else: another escrow's version stays unagreed, an agreement already recorded keeps its
time, and an escrow whose current version was never recorded gets exactly that one recorded,
proposed by the seller. The ledger summary counts what a change order moved, a lowering
with nothing paid in and an increase of one cent alike; a version in the evidence record
shows when it was proposed and agreed, its amount and fee in money, and what it changed; the
lists read the earliest review deadline and the earliest due date of several stages."""

from datetime import UTC, datetime, timedelta

import pytest

from escrows import services
from escrows.models import Escrow, Milestone, MilestoneStatus, TermsVersion
from escrows.selectors import escrow_ledger_summary, terms_version_record, with_overdue, with_review_clock
from escrows.services import EscrowTerms, MilestoneInput, StageEdit
from tests.helpers import at, fund, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db

DAY1 = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY1 + timedelta(days=2)


def agreements(escrow):
    return [
        (v.number, v.reason, v.proposer_role, v.proposed_by_id, v.buyer_agreed_at)
        for v in TermsVersion.objects.filter(escrow=escrow).order_by("number")
    ]


def test_funding_one_escrow_leaves_another_escrows_terms_unagreed(seller, buyer):
    with at(DAY1):
        paid, waiting = make_escrow(seller), make_escrow(seller)
    with at(DAY2):
        fund(paid, buyer)
    assert agreements(paid) == [(1, "created", "seller", seller.pk, DAY2)]
    assert agreements(waiting) == [(1, "created", "seller", seller.pk, None)]


def test_an_agreement_already_recorded_keeps_its_time_and_no_version_is_added(seller, buyer):
    with at(DAY1):
        escrow = make_escrow(seller)
    TermsVersion.objects.filter(escrow=escrow).update(buyer_agreed_at=DAY1)
    with at(DAY2):
        fund(escrow, buyer)
    assert agreements(escrow) == [(1, "created", "seller", seller.pk, DAY1)]


def test_an_unrecorded_version_is_recorded_even_when_other_escrows_have_theirs(seller, buyer):
    with at(DAY1):
        make_escrow(seller)
        escrow = make_escrow(seller)
    TermsVersion.objects.filter(escrow=escrow).delete()
    with at(DAY2):
        fund(escrow, buyer)
    assert agreements(escrow) == [(1, "created", "seller", seller.pk, DAY2)]


def test_an_unrecorded_edited_version_is_recorded_beside_the_earlier_one(seller, buyer):
    with at(DAY1):
        escrow = make_escrow(seller, parts=(30_000, 50_000))
        services.escrow_edit(
            escrow=escrow,
            by=seller,
            terms=EscrowTerms(title="Website build", currency="USD", amount=90_000),
            milestones=[MilestoneInput(amount=40_000, title="A"), MilestoneInput(amount=50_000, title="B")],
        )
    TermsVersion.objects.filter(escrow=escrow, number=2).delete()
    with at(DAY2):
        fund(Escrow.objects.get(pk=escrow.pk), buyer)
    assert agreements(escrow) == [
        (1, "created", "seller", seller.pk, None),
        (2, "edited", "seller", seller.pk, DAY2),
    ]


def test_the_ledger_summary_counts_a_change_that_only_lowers_a_stage_as_refunded(funded, seller, buyer):
    second = milestones(funded)[1]
    lower = services.change_order_propose(
        escrow=funded, by=seller, changes=[StageEdit(milestone=second, amount=40_000)]
    )
    services.change_order_accept(proposal=lower, by=buyer)
    summary = escrow_ledger_summary(refresh(funded))
    assert (summary.funded, summary.released, summary.refunded, summary.held) == (100_000, 0, 10_000, 90_000)


def test_the_ledger_summary_counts_a_one_cent_increase_as_funded(funded, seller, buyer):
    services.wallet_topup(customer=buyer, amount=1_000, currency="USD")
    second = milestones(funded)[1]
    higher = services.change_order_propose(
        escrow=funded, by=seller, changes=[StageEdit(milestone=second, amount=50_001)]
    )
    services.change_order_accept(proposal=higher, by=buyer)
    summary = escrow_ledger_summary(refresh(funded))
    assert (summary.funded, summary.refunded, summary.held) == (100_001, 0, 100_001)


def test_a_terms_version_in_the_evidence_record_has_its_times_money_and_changes(seller):
    with at(DAY1):
        escrow = services.escrow_create(
            seller=seller, terms=EscrowTerms(title="Shop", currency="USD", amount=20_000), milestones=None
        )
    with at(DAY2):
        services.milestone_add(
            escrow=escrow, by=seller, index=0, milestone=MilestoneInput(amount=20_000, title="Logo")
        )
    version = TermsVersion.objects.get(escrow=escrow, number=2)
    version.terms = {**version.terms, "fee": 0}
    record = terms_version_record(version)
    assert (record["proposedAt"], record["sellerAgreedAt"], record["buyerAgreedAt"]) == (
        "2026-12-06T10:00:00Z",
        "2026-12-06T10:00:00Z",
        None,
    )
    assert (record["terms"]["amount"], record["terms"]["fee"]) == ("200.00", "0.00")
    assert record["changes"] == [{"kind": "add", "index": 0, "title": "Logo", "amount": "200.00"}]
    version.terms = {**version.terms, "fee": 150}
    assert terms_version_record(version)["terms"]["fee"] == "1.50"


def test_lists_read_the_earliest_review_deadline_and_due_date_of_several_stages(seller, buyer):
    escrow = make_escrow(seller, parts=(10_000, 20_000, 30_000, 40_000))
    fund(escrow, buyer)
    first, second, third, fourth = milestones(escrow)
    delivered = MilestoneStatus.COMPLETED
    Milestone.objects.filter(pk=first.pk).update(status=delivered, review_deadline=DAY3)
    Milestone.objects.filter(pk=second.pk).update(status=delivered, review_deadline=DAY2)
    Milestone.objects.filter(pk=third.pk).update(due_date=DAY2)
    Milestone.objects.filter(pk=fourth.pk).update(due_date=DAY1)
    listed = with_overdue(with_review_clock(Escrow.objects.filter(pk=escrow.pk)), now=DAY3).get()
    assert (listed.next_review_deadline, listed.overdue_since) == (DAY2, DAY1)
