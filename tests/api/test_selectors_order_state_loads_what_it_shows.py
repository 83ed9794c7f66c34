"""The conditional payment's state (selectors.order_state) comes with what its answer shows of
the dispute and the proof: the dispute's opener and the stage the proof delivered are read with
them, not one query each afterwards."""

import pytest

from escrows import selectors, services
from escrows.models import Escrow
from tests.api.conditional_payment_helpers import create, prove
from tests.helpers import fund, milestones

pytestmark = pytest.mark.django_db


def test_the_disputes_opener_and_the_proofs_stage_come_with_the_state(
    seller_api, buyer, django_assert_num_queries
):
    intent = create(seller_api, {"releaseType": "MILESTONE_LOCKED"})
    for i, amount in enumerate(("300.00", "700.00")):
        seller_api.post(
            f"/v1/payment-intents/{intent['id']}/escrow/milestones",
            {"milestoneIndex": i, "amount": amount},
            format="json",
        )
    escrow = Escrow.objects.get(public_id=intent["id"])
    fund(escrow, buyer)
    assert prove(seller_api, escrow.public_id).status_code == 200
    first = milestones(escrow)[0]
    services.dispute_open(escrow=escrow, milestone=first, by=buyer, reason="Not as described")

    state = selectors.order_state(escrow)

    assert state.dispute is not None and state.proof is not None
    with django_assert_num_queries(0):
        assert state.dispute.opened_by.customer_id == buyer.customer_id
        assert state.proof.milestone.public_id == first.public_id
