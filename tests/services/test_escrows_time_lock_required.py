"""A TIME_LOCKED escrow without its time is refused in the API's words, on the timeLockUntil
field, and nothing is created."""

import pytest

from core.errors import InvalidRequest
from escrows import services
from escrows.models import Escrow
from escrows.services import EscrowTerms

pytestmark = pytest.mark.django_db


def test_time_locked_without_a_time_is_refused_on_its_field(seller):
    terms = EscrowTerms(
        title="Laptop", currency="USD", amount=50_000, settlement_type="STANDARD", release_type="TIME_LOCKED"
    )

    with pytest.raises(InvalidRequest) as refused:
        services.escrow_create(seller=seller, terms=terms, milestones=[])

    assert (refused.value.message, refused.value.field) == (
        "timeLockUntil is required with releaseType TIME_LOCKED: when the payment may be released, "
        "in unix seconds",
        "timeLockUntil",
    )
    assert not Escrow.objects.exists()
