"""Details of the evidence record and the balance statement in words: where a change order's
refund went, an escrow's own status words beside a stage's, a dispute status no list knows,
and a payout of money released from an escrow naming that escrow."""

import pytest
from django.utils import timezone

from escrows import selectors, services
from escrows.models import Dispute
from escrows.selectors import _detail_value, balance_statement
from tests.helpers import fund, make_escrow, make_settling_escrow, make_standard, milestones

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("refundedTo", "wallet", "the buyer's balance"),
        ("refundedTo", "card", "the card the buyer paid with"),
        # Only the two places a change order refunds to have words of their own.
        ("refundedTo", "bank", "bank"),
        ("refundedTo", "WALLET", "WALLET"),
        ("method", "wallet", "wallet"),
        ("destination", "card", "card"),
    ],
)
def test_where_a_change_orders_refund_went_in_words(key, value, words):
    assert _detail_value(key, value, "USD") == words


def test_an_escrow_completed_reads_completed_while_its_stage_delivered_reads_delivered(seller, buyer):
    escrow = make_escrow(seller, parts=(30_000, 20_000), buyer=buyer, title="Logo")
    fund(escrow, buyer)
    for stage in milestones(escrow):
        services.milestone_complete(milestone=stage, by=seller)
        services.milestone_release(milestone=stage, by=buyer)
    readable = selectors.evidence_export_readable(escrow, buyer, selectors.evidence_export(escrow))
    changes = [(e["what"], e["change"]) for e in readable["events"] if e["change"]]
    assert ("Escrow completed", "Opened → Completed") in changes
    assert ("Marked delivered · Stage 0", "Pending → Delivered") in changes
    assert ("Released · Stage 0", "Delivered → Released") in changes


def test_a_dispute_status_no_list_knows_reads_as_recorded(seller, buyer):
    escrow = make_standard(seller)
    fund(escrow, buyer)
    # As an import may have written it (the database guards a status's moves, not its first value).
    Dispute.objects.create(
        escrow=escrow,
        opened_by=buyer,
        opener_role="buyer",
        reason="Never arrived",
        amount=escrow.amount,
        status="ESCALATED",
        deadline=timezone.now(),
        default_outcome="refund",
        default_seller_amount=0,
        default_buyer_amount=escrow.amount,
    )
    record = selectors.evidence_export(escrow)
    [row] = selectors.evidence_export_readable(escrow, buyer, record)["disputes"]
    assert row == {"record": record["disputes"][0], "stage": "", "status": "ESCALATED"}


def test_a_payout_of_a_release_names_the_escrow_it_came_from(seller, buyer):
    escrow = make_settling_escrow(seller, destination="bank-7")
    fund(escrow, buyer)
    stage = milestones(escrow)[0]
    services.milestone_complete(milestone=stage, by=seller)
    services.milestone_release(milestone=stage, by=buyer)
    statement = balance_statement(seller, newest_first=False)
    assert [(r.kind_words, r.description, r.amount) for r in statement.rows] == [
        ("Release", "Released to you: “Stage 0” of “Payout”", 30_000),
        ("Payout", "Payout of your money from “Payout” to bank-7", -30_000),
    ]
