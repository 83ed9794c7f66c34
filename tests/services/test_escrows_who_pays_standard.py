"""A standard escrow whose fee someone other than the buyer would pay is refused in the API's words
on the whoPays field, and nothing is created."""

import pytest

from core.errors import InvalidRequest
from escrows import services
from escrows.models import Escrow
from escrows.services import EscrowTerms

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("who_pays", ["seller", "split"])
def test_a_standard_escrow_paid_by_another_than_the_buyer_is_refused_on_who_pays(seller, who_pays):
    terms = EscrowTerms(
        title="Laptop", currency="USD", amount=50_000, settlement_type="STANDARD", who_pays=who_pays
    )

    with pytest.raises(InvalidRequest) as refused:
        services.escrow_create(seller=seller, terms=terms, milestones=[])

    assert (refused.value.message, refused.value.field) == (
        "whoPays must be buyer: the buyer pays the fee on top of the amount",
        "whoPays",
    )
    assert not Escrow.objects.exists()
