"""Change orders: the other party is asked to answer a proposal (what changes, what it costs or
gives back, one link); the proposer hears a decline (with the reason); the other party hears a
withdrawal; both hear a lapse and an acceptance (with the money it moved). Once a proposal ends,
however it ends, the notice asking for its answer no longer needs action."""

from datetime import timedelta

import pytest
from django.utils import timezone

from escrows import services
from escrows.services import StageAdd, StageEdit
from notifications.models import Category, Notification
from tests.helpers import at, milestones
from tests.notifications.helpers import dispatch, told

pytestmark = pytest.mark.django_db


def page(escrow, anchor=""):
    return f"/escrows/{escrow.public_id}/" + (f"#{anchor}" if anchor else "")


def add_stage(escrow, by, **kwargs):
    return services.change_order_propose(
        escrow=escrow, by=by, changes=[StageAdd(amount=30_000, title="Launch")], **kwargs
    )


def test_the_buyer_is_asked_to_answer_with_what_they_would_pay(paid, seller, buyer):
    with at(timezone.now()):
        proposal = add_stage(paid, seller, note="Launch week")
    notices = told("change_order.proposed")
    assert list(notices) == [buyer.email]
    notice = notices[buyer.email]
    assert notice.subject == "Sam Seller proposes a change to “Website build”"
    assert notice.body_text.startswith(
        "Sam Seller proposes to change “Website build”: stage 4 “Launch” added (300.00 USD).\n\n"
        "The total goes from 1,000.00 USD to 1,300.00 USD: you pay 304.50 USD more "
        "(300.00 USD + 4.50 USD fee) when it is accepted.\n\nTheir note: Launch week\n\n"
        "Accept or decline it by "
    )
    assert (notice.url, notice.category, notice.action_required) == (
        page(paid, "change-order"),
        Category.REQUESTS,
        True,
    )
    assert proposal.public_id not in notice.body_text


def test_the_seller_reads_what_the_buyer_gets_back(paid, seller, buyer):
    second = milestones(paid)[1]
    services.change_order_propose(escrow=paid, by=buyer, changes=[StageEdit(milestone=second, amount=40_000)])
    notice = told("change_order.proposed")[seller.email]
    assert "stage 2 “Stage 1”: amount 500.00 USD → 400.00 USD" in notice.body_text
    assert (
        "The total goes from 1,000.00 USD to 900.00 USD: the buyer gets 100.00 USD back" in notice.body_text
    )


def test_both_hear_the_acceptance_with_the_money_it_moved(paid, seller, buyer):
    services.wallet_topup(customer=buyer, amount=30_450, currency="USD")
    services.change_order_accept(proposal=add_stage(paid, seller), by=buyer)
    notices = told("change_order.accepted")
    assert sorted(notices) == [buyer.email, seller.email]
    to_seller, to_buyer = notices[seller.email], notices[buyer.email]
    assert (
        to_seller.subject
        == to_buyer.subject
        == "Change to “Website build” agreed: the total is now 1,300.00 USD"
    )
    assert to_seller.body_text == (
        "Bea Buyer accepted your proposed change to “Website build”: stage 4 “Launch” added (300.00 USD).\n\n"
        "The buyer paid 300.00 USD more into escrow. The escrow's total is now 1,300.00 USD; the new "
        "terms are version 2."
    )
    assert to_buyer.body_text.startswith(
        "You accepted the proposed change to “Website build”: stage 4 “Launch” added (300.00 USD).\n\n"
        "304.50 USD (300.00 USD + 4.50 USD fee) was paid from your balance."
    )
    assert to_buyer.category == Category.MONEY and to_buyer.url == page(paid, "terms")


def test_a_decrease_tells_the_buyer_where_the_money_goes(paid, seller, buyer):
    second = milestones(paid)[1]
    proposal = services.change_order_propose(
        escrow=paid, by=seller, changes=[StageEdit(milestone=second, amount=40_000)]
    )
    services.change_order_accept(proposal=proposal, by=buyer)
    notices = told("change_order.accepted")
    assert "100.00 USD goes back to your balance." in notices[buyer.email].body_text
    assert "100.00 USD goes back to the buyer." in notices[seller.email].body_text


def test_the_proposer_hears_a_decline_with_the_reason(paid, seller, buyer):
    services.change_order_decline(proposal=add_stage(paid, seller), by=buyer, reason="Over budget")
    notices = told("change_order.declined")
    assert list(notices) == [seller.email]
    assert notices[seller.email].subject == "Bea Buyer declined your change to “Website build”"
    assert "Their reason: Over budget" in notices[seller.email].body_text


def test_the_other_party_hears_a_withdrawal(paid, seller, buyer):
    services.change_order_withdraw(proposal=add_stage(paid, seller), by=seller)
    notices = told("change_order.withdrawn")
    assert list(notices) == [buyer.email]
    assert notices[buyer.email].subject == "Sam Seller withdrew their change to “Website build”"


def asked(escrow, email):
    """The notice asking this person to answer the escrow's latest proposal."""
    return Notification.objects.filter(event__kind="change_order.proposed", email=email).latest("event_id")


def test_both_hear_a_lapse_and_the_answer_is_no_longer_asked_for(paid, seller, buyer):
    proposal = add_stage(paid, buyer)
    dispatch()
    assert asked(paid, seller.email).action_required
    with at(timezone.now() + timedelta(days=8)):
        services.change_order_lapse(proposal=proposal)
    notices = told("change_order.lapsed")
    assert sorted(notices) == [buyer.email, seller.email]
    assert notices[buyer.email].body_text == (
        "Your proposed change to “Website build” lapsed: Sam Seller did not answer it in time. "
        "Nothing changed."
    )
    to_seller = notices[seller.email]
    assert to_seller.subject == "Bea Buyer's change to “Website build” lapsed"
    assert to_seller.body_text == (
        "Bea Buyer's proposed change to “Website build” lapsed: it was not answered in time. "
        "Nothing changed; there is nothing to answer."
    )
    assert (to_seller.url, to_seller.category, to_seller.action_required) == (
        page(paid),
        Category.REQUESTS,
        False,
    )
    assert not asked(paid, seller.email).action_required


def test_a_proposal_lapsed_because_the_escrow_closed_says_so_to_both(paid, seller, buyer):
    proposal = add_stage(paid, seller)
    dispatch()
    services.escrow_refund(escrow=paid, by=seller)
    services.change_order_lapse(proposal=proposal)
    notices = told("change_order.lapsed")
    assert (
        "lapsed: the escrow closed before it was answered. Nothing changed."
        in notices[seller.email].body_text
    )
    assert notices[buyer.email].body_text == (
        "Sam Seller's proposed change to “Website build” lapsed: the escrow closed before it was "
        "answered. Nothing changed; there is nothing to answer."
    )
    assert not asked(paid, buyer.email).action_required


@pytest.mark.parametrize(
    "end",
    [
        lambda proposal, seller, buyer: services.change_order_withdraw(proposal=proposal, by=seller),
        lambda proposal, seller, buyer: services.change_order_decline(
            proposal=proposal, by=buyer, reason="No"
        ),
        lambda proposal, seller, buyer: services.change_order_accept(
            proposal=proposal, by=buyer, pay_source="CARD", card_token="tok_visa"
        ),
    ],
    ids=["withdrawn", "declined", "accepted"],
)
def test_a_proposal_that_ended_no_longer_asks_for_an_answer(paid, seller, buyer, end):
    proposal = add_stage(paid, seller)
    dispatch()
    end(proposal, seller, buyer)
    dispatch()
    assert not asked(paid, buyer.email).action_required
    # The next proposal asks again; the ended one's notice stays answered.
    add_stage(paid, seller)
    dispatch()
    assert [n.action_required for n in Notification.objects.filter(event__kind="change_order.proposed")] == [
        True,
        False,
    ]
