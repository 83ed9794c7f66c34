"""An accepted change order reads in the escrow's timeline as the money it moved: the increase the
buyer paid with its fee, or the decrease given back and where to."""

import pytest

from escrows import services, timeline
from escrows.models import Event
from escrows.services import StageAdd, StageEdit
from tests.helpers import fund, make_escrow, milestones

pytestmark = pytest.mark.django_db


def accepted_words(escrow):
    event = Event.objects.get(escrow=escrow, kind="change_order.accepted")
    return timeline.change_order_note(event.details, escrow.currency)


def test_an_increase_says_what_the_buyer_paid_and_its_fee(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    proposal = services.change_order_propose(
        escrow=escrow, by=seller, changes=[StageAdd(amount=40_000, title="Extra pages")]
    )
    services.wallet_topup(customer=buyer, amount=50_000, currency="USD")
    services.change_order_accept(proposal=proposal, by=buyer)
    words = accepted_words(escrow)
    assert words.endswith(
        "Total 1,000.00 USD → 1,400.00 USD. The buyer paid 400.00 USD more, with 6.00 USD fee."
    )


def test_a_decrease_says_what_went_back_to_the_buyer_and_where(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    second = milestones(escrow)[1]
    proposal = services.change_order_propose(
        escrow=escrow, by=seller, changes=[StageEdit(milestone=second.public_id, amount=35_000)]
    )
    services.change_order_accept(proposal=proposal, by=buyer)
    words = accepted_words(escrow)
    assert words.endswith("Total 1,000.00 USD → 850.00 USD. 150.00 USD back to the buyer, to their balance.")
    assert "paid" not in words
