"""What the opener of a dispute asks for, checked before anything is opened: a split's parts may
not be negative, and the refusal names the side in a person's words as well as the field."""

import pytest

from core.errors import InvalidRequest
from escrows import services
from tests.helpers import milestones

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("seller_amount", "buyer_amount", "field", "who"),
    [(60_000, -10_000, "buyerAmount", "buyer"), (-10_000, 60_000, "sellerAmount", "seller")],
)
def test_a_negative_part_of_a_split_is_refused_naming_its_side(
    funded, seller_amount, buyer_amount, field, who
):
    with pytest.raises(InvalidRequest) as refused:
        services.dispute_request_amounts(
            escrow=funded,
            milestone=milestones(funded)[1],
            outcome="split",
            seller_amount=seller_amount,
            buyer_amount=buyer_amount,
        )
    assert (refused.value.message, refused.value.field, refused.value.for_person) == (
        f"{field} cannot be negative",
        field,
        f"What the {who} gets cannot be negative.",
    )
