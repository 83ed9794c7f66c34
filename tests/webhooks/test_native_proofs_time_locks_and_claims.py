"""An endpoint in our own format hears a standard escrow's proof of delivery, its time lock
passing, and the seller's claim after the delivery window (an escrow.completed that says so)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from escrows import services
from escrows.services import EscrowTerms
from tests.helpers import at, fund, refresh
from tests.webhooks.helpers import endpoint_for, sent

pytestmark = pytest.mark.django_db


def standard(seller, buyer, **terms):
    escrow = services.escrow_create(
        seller=seller,
        terms=EscrowTerms(title="Parcel", currency="USD", amount=50_000, settlement_type="STANDARD", **terms),
        milestones=[],
    )
    fund(escrow, buyer)
    return refresh(escrow)


def test_a_proof_of_delivery_and_its_time_lock_passing_are_sent(seller, buyer):
    endpoint = endpoint_for(seller, "native")
    until = timezone.now() + timedelta(days=1)
    escrow = standard(seller, buyer, release_type="TIME_LOCKED", time_lock_until=until)
    services.delivery_proof_submit(escrow=escrow, by=seller, proof_hash="ab" * 32, submitted_by="Courier")
    with at(until + timedelta(minutes=1)):
        assert services.escrow_time_lock_release(escrow=escrow) is not None
    got = {name: body for name, body, _ in sent(endpoint)}
    assert [
        name for name in got if name in ("delivery_proof.submitted", "time_lock.released", "escrow.completed")
    ] == ["delivery_proof.submitted", "time_lock.released", "escrow.completed"]
    proof = got["delivery_proof.submitted"]["data"]
    assert proof["escrow"]["id"] == escrow.public_id
    assert proof["details"]["proofHash"] == "0x" + "ab" * 32 and proof["details"]["submittedBy"] == "Courier"
    assert got["time_lock.released"]["data"]["details"]["amount"] == 50_000


def test_the_sellers_claim_is_an_escrow_completed_that_says_so(seller, buyer):
    endpoint = endpoint_for(buyer, "native")
    escrow = standard(seller, buyer, release_type="DELIVERY_PROOF", max_delivery=2, delivery_timeline="hours")
    with at(escrow.delivery_window_ends_at + timedelta(minutes=1)):
        services.escrow_claim_funds(escrow=escrow, by=seller)
    (completed,) = [body for name, body, _ in sent(endpoint) if name == "escrow.completed"]
    assert completed["data"]["details"]["claimed"] is True
    assert completed["data"]["status"] == "COMPLETED"
