"""A part of a stage released: the seller (and a payee of their own stage) hears how much went
where and what stays held, with one link; the buyer who released it is not told; the release of
the rest is told as a release of that rest."""

import pytest

from escrows import services
from escrows.services import MilestoneInput
from notifications.models import Category, Notification
from tests.factories import UserFactory
from tests.helpers import fund, milestones, refresh
from tests.notifications.helpers import dispatch, told

pytestmark = pytest.mark.django_db


def test_the_seller_hears_the_part_and_what_stays_held(paid, seller, buyer):
    services.milestone_release_part(milestone=milestones(paid)[0], by=buyer, amount=10_000)
    notices = told("milestone.partially_released")
    assert set(notices) == {seller.email}
    notice = notices[seller.email]
    assert notice.subject == "100.00 USD released for Stage 1 of “Website build”; 200.00 USD still held"
    assert notice.body_text.startswith(
        "Bea Buyer released part of Stage 1 (“Stage 0”) of “Website build”: 100.00 USD went to your "
        "balance. 200.00 USD stays held for the stage until they release the rest."
    )
    assert notice.url == f"/escrows/{paid.public_id}/#stage-1"
    assert notice.category == Category.MONEY and not notice.action_required


def test_the_rest_is_told_as_the_release_of_the_rest(paid, seller, buyer):
    first = milestones(paid)[0]
    services.milestone_release_part(milestone=first, by=buyer, amount=10_000)
    services.milestone_release(milestone=refresh(first), by=buyer)
    notice = told("milestone.released")[seller.email]
    assert notice.subject == "200.00 USD released for Stage 1 of “Website build”"


def test_a_payee_hears_of_the_part_of_their_own_stage(seller, buyer):
    payee = UserFactory(email="payee@example.test", first_name="Pat", last_name="Payee")
    escrow = services.escrow_create(
        seller=seller,
        terms=services.EscrowTerms(title="Shared job", currency="USD", amount=100_000),
        milestones=[
            MilestoneInput(amount=60_000, title="Theirs", payee=payee),
            MilestoneInput(amount=40_000),
        ],
    )
    fund(escrow, buyer)
    services.milestone_release_part(milestone=milestones(escrow)[0], by=buyer, amount=25_000)
    notices = told("milestone.partially_released")
    assert set(notices) == {payee.email, seller.email}
    mine = notices[payee.email]
    assert mine.subject == "250.00 USD released to you for Stage 1 of “Shared job”"
    assert "350.00 USD stays held for the stage" in mine.body_text
    assert mine.url == "/balance/" and mine.escrow is None
    assert "250.00 USD went to Pat Payee" in notices[seller.email].body_text
    dispatch()
    assert not Notification.objects.filter(email=buyer.email, event__kind="milestone.partially_released")
