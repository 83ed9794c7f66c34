"""Why the buyer gets no Pay button is said only while there is something to pay: a buyer no
longer allowed to buy sees no refusal on an escrow they already paid."""

import pytest

from accounts.models import User
from escrows.permissions import escrow_actions
from tests.helpers import make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db


def test_a_paid_escrow_says_nothing_of_the_buyers_refusal_to_buy(funded, buyer):
    User.objects.filter(pk=buyer.pk).update(can_buy=False)
    buyer = refresh(buyer)

    actions = escrow_actions(refresh(funded), milestones(funded), buyer)

    assert (actions.role, actions.can_fund, actions.fund_refusal) == ("buyer", False, None)


def test_an_unpaid_escrow_says_why_the_buyer_cannot_pay(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    User.objects.filter(pk=buyer.pk).update(can_buy=False)
    buyer = refresh(buyer)

    actions = escrow_actions(refresh(escrow), milestones(escrow), buyer)

    assert actions.can_fund is False and actions.fund_refusal
