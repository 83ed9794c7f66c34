"""While a chargeback freezes an escrow's held money, the escrow page offers nothing that would
move it and says why, in the same words the services refuse with."""

import pytest

from escrows import services
from escrows.models import CHARGEBACK_FREEZE_WORDS, Escrow
from escrows.permissions import escrow_actions, refund_actions
from tests.helpers import fund, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db


def frozen(escrow):
    Escrow.objects.filter(pk=escrow.pk).update(frozen_by_chargeback=True)
    return refresh(escrow)


def test_a_frozen_escrow_offers_no_release_refund_or_cancellation(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    stages = milestones(escrow)
    services.milestone_complete(milestone=stages[0], by=seller)
    escrow = refresh(escrow)
    stages = milestones(escrow)
    assert escrow_actions(escrow, stages, buyer).releasable is not None
    assert refund_actions(escrow, stages, buyer).can_propose_cancellation

    escrow = frozen(escrow)

    assert escrow_actions(escrow, stages, buyer).releasable is None
    assert not escrow_actions(escrow, stages, seller).can_refund
    as_buyer = refund_actions(escrow, stages, buyer)
    assert not as_buyer.can_request_refund and not as_buyer.can_propose_cancellation
    assert as_buyer.refundable == ()
    assert not refund_actions(escrow, stages, seller).can_propose_cancellation


def test_the_escrow_page_says_why_nothing_moves(client, seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    client.force_login(buyer)
    page = client.get(f"/escrows/{escrow.public_id}/").content.decode()
    assert "data-chargeback-freeze" not in page

    frozen(escrow)

    page = client.get(f"/escrows/{escrow.public_id}/").content.decode()
    assert "data-chargeback-freeze" in page
    assert CHARGEBACK_FREEZE_WORDS.replace("'", "&#x27;") in page
