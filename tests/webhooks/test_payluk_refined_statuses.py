"""The Payluk statuses the escrow API tells from more than the escrow's own status, as a Payluk
endpoint hears them: `escrow.investigating` when the seller contests a standard escrow's dispute,
`escrow.split` when its ruling splits the money, `escrow.claimed` when the seller claims the funds
after the delivery window."""

from datetime import timedelta

import pytest
from django.utils import timezone

from escrows import services
from escrows.services import EscrowTerms
from tests.helpers import at, fund, make_standard
from tests.webhooks.helpers import endpoint_for, sent

pytestmark = pytest.mark.django_db


def statuses(endpoint):
    return [(name, body["data"]["state"], body["data"]["status"]) for name, body, _ in sent(endpoint)]


def test_a_contested_dispute_is_investigating_and_a_split_ruling_closes_it_split(seller, buyer, admin_user):
    endpoint = endpoint_for(seller, "payluk")
    escrow = make_standard(seller)
    fund(escrow, buyer)
    dispute = services.dispute_open(escrow=escrow, by=buyer, reason="Scratched")
    services.dispute_answer(dispute=dispute, by=seller, answer="contest", text="It was new")
    assert statuses(endpoint)[-2:] == [
        ("escrow.disputed", "OPENED", "DISPUTED"),
        ("escrow.investigating", "OPENED", "INVESTIGATING"),
    ]
    services.dispute_resolve(
        dispute=dispute, by=admin_user, outcome="split", seller_amount=30_000, buyer_amount=20_000
    )
    assert statuses(endpoint)[-1] == ("escrow.split", "CLOSED", "SPLIT")


def test_an_investigation_told_late_is_still_investigating(seller, buyer, admin_user):
    endpoint = endpoint_for(seller, "payluk")
    escrow = make_standard(seller)
    fund(escrow, buyer)
    dispute = services.dispute_open(escrow=escrow, by=buyer, reason="Scratched")
    services.dispute_answer(dispute=dispute, by=seller, answer="contest")
    services.dispute_resolve(dispute=dispute, by=admin_user, outcome="refund")
    assert statuses(endpoint)[1:] == [
        ("escrow.ongoing", "OPENED", "ONGOING"),
        ("escrow.disputed", "OPENED", "DISPUTED"),
        ("escrow.investigating", "OPENED", "INVESTIGATING"),
        ("escrow.refunded", "CLOSED", "REFUNDED"),
    ]


def test_a_claim_accepted_at_once_is_no_investigation(seller, buyer):
    endpoint = endpoint_for(seller, "payluk")
    escrow = make_standard(seller)
    fund(escrow, buyer)
    dispute = services.dispute_open(escrow=escrow, by=buyer, reason="Scratched", default_outcome="refund")
    services.dispute_answer(dispute=dispute, by=seller, answer="accept")
    assert [name for name, _, _ in statuses(endpoint)] == [
        "escrow.created",
        "escrow.ongoing",
        "escrow.disputed",
        "escrow.refunded",
    ]


def test_funds_claimed_after_the_delivery_window_are_claimed(seller, buyer):
    endpoint = endpoint_for(seller, "payluk")
    escrow = services.escrow_create(
        seller=seller,
        terms=EscrowTerms(
            title="Camera",
            currency="USD",
            amount=40_000,
            settlement_type="STANDARD",
            max_delivery=2,
            delivery_timeline="days",
        ),
        milestones=[],
    )
    fund(escrow, buyer)
    with at(timezone.now() + timedelta(days=3)):
        services.escrow_claim_funds(escrow=escrow, by=seller)
    assert statuses(endpoint)[-1] == ("escrow.claimed", "CLOSED", "CLAIMED")
