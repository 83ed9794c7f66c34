"""A Finternet-format endpoint hears the conditional payment's own events by Finternet's names:
the seller's proof of delivery and a time lock that passed, each with the payment intent."""

from datetime import timedelta

import pytest
from django.utils import timezone

from escrows import services
from escrows.services import EscrowTerms
from tests.helpers import at, fund
from tests.webhooks.helpers import endpoint_for, sent

pytestmark = pytest.mark.django_db


def test_a_proof_of_delivery_and_its_time_lock_passing_are_told(seller, buyer):
    endpoint = endpoint_for(seller, "finternet")
    escrow = services.escrow_create(
        seller=seller,
        terms=EscrowTerms(
            title="Parcel",
            currency="USD",
            amount=50_000,
            settlement_type="STANDARD",
            release_type="TIME_LOCKED",
            time_lock_until=timezone.now() + timedelta(days=1),
        ),
        milestones=[],
    )
    fund(escrow, buyer)
    services.delivery_proof_submit(
        escrow=escrow, by=seller, proof_hash="0x" + "ab" * 32, submitted_by="0xSeller"
    )
    with at(timezone.now() + timedelta(days=2)):
        assert services.escrow_time_lock_release(escrow=escrow) is not None
    got = sent(endpoint)
    assert [name for name, _, _ in got] == [
        "payment_intent.created",
        "payment_intent.status_changed",
        "delivery_proof.submitted",
        "time_lock.released",
        "payment_intent.status_changed",
    ]
    for _, body, _ in got:
        assert (body["data"]["object"]["object"], body["data"]["object"]["id"]) == (
            "payment_intent",
            escrow.public_id,
        )
    assert got[-1][1]["data"]["object"]["previous_status"] == "OPENED"
