"""Change orders on the escrow page: either party proposes through a form and a review of the
new total (what the buyer pays more, fee included, or gets back); the other party accepts after a
confirmation naming the exact money (a page without JavaScript, a dialog with it), or declines
with a reason; the proposer withdraws. A refused change keeps what was typed and says why."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from escrows import services
from escrows.models import ChangeProposal, ChangeProposalStatus, Milestone
from escrows.services import StageAdd, StageEdit
from tests.helpers import milestones, refresh

pytestmark = pytest.mark.django_db


def detail(escrow):
    return reverse("escrow_detail", args=[escrow.public_id])


def new_url(escrow):
    return reverse("change_order_new", args=[escrow.public_id])


def form_data(escrow, **changes):
    """The form as drawn for the escrow's future stages, with `changes` typed over it."""
    data = {}
    for m in milestones(escrow):
        data[f"{m.public_id}-amount"] = f"{m.amount / 100:.2f}"
        data[f"{m.public_id}-title"] = m.title
        data[f"{m.public_id}-description"] = m.description
        data[f"{m.public_id}-due"] = ""
    data.update(changes)
    return data


def flashed(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_either_party_is_offered_a_change_and_a_stranger_sees_nothing(
    funded, seller_client, buyer_client, stranger_client
):
    for client in (seller_client, buyer_client):
        html = client.get(detail(funded)).content.decode()
        assert 'data-action="propose-change"' in html
        assert "Agreed terms &amp; changes" in html
    assert stranger_client.get(new_url(funded)).status_code == 404


def test_the_seller_adds_a_stage_reviews_the_money_and_sends_it(funded, seller_client, buyer):
    form = seller_client.get(new_url(funded)).content.decode()
    assert "Propose a change" in form and "Stage 3 amount" in form and "pay the increase" not in form
    data = form_data(funded, **{"new0-title": "Launch", "new0-amount": "300.00", "note": "Launch week"})
    review = seller_client.post(new_url(funded), data)
    html = review.content.decode()
    assert review.status_code == 200 and "Send this change to the buyer?" in html
    assert "<li>Stage 4 “Launch” added (300.00 USD)</li>" in html
    assert "<li>New total: 1,300.00 USD (was 1,000.00 USD)</li>" in html
    assert "<li>The buyer pays 304.50 USD (300.00 USD + 4.50 USD fee) when it is accepted</li>" in html
    assert not ChangeProposal.objects.exists()
    sent = seller_client.post(new_url(funded), {**data, "confirmed": "1"})
    assert sent.status_code == 302 and sent.url == detail(funded) + "#change-order"
    assert flashed(sent) == ["Change proposed. The buyer can accept or decline it."]
    proposal = ChangeProposal.objects.get()
    assert (proposal.proposer_role, proposal.amount_after, proposal.note) == (
        "seller",
        130_000,
        "Launch week",
    )


def test_going_back_from_the_review_keeps_what_was_typed(funded, seller_client):
    data = form_data(funded, **{"new0-title": "Launch", "new0-amount": "300.00"})
    html = seller_client.post(new_url(funded), {**data, "edit": "1"}).content.decode()
    assert 'name="new0-title" value="Launch"' in html and 'value="300.00"' in html


def test_a_refused_change_shows_why_and_keeps_what_was_typed(funded, seller_client):
    data = form_data(funded, **{"new0-title": "Launch", "new0-amount": "lots"})
    response = seller_client.post(new_url(funded), data)
    html = response.content.decode()
    assert response.status_code == 400
    assert "New stage amount: Enter an amount as a number, such as 300.00." in html
    assert 'value="lots"' in html and 'value="Launch"' in html
    nothing = seller_client.post(new_url(funded), form_data(funded))
    assert nothing.status_code == 400 and "Propose at least one change." in nothing.content.decode()


def test_the_buyer_lowers_a_stage_and_the_form_removes_another(funded, buyer_client, buyer):
    second, third = milestones(funded)[1:]
    data = form_data(
        funded,
        **{f"{second.public_id}-amount": "400.00", f"{third.public_id}-remove": "on", "pay_source": "WALLET"},
    )
    html = buyer_client.post(new_url(funded), data).content.decode()
    assert "<li>Stage 2 “Stage 1”: amount 500.00 USD → 400.00 USD</li>" in html
    assert "<li>Stage 3 “Stage 2” removed (200.00 USD)</li>" in html
    assert "<li>Back to the buyer (your balance): 300.00 USD</li>" in html
    buyer_client.post(new_url(funded), {**data, "confirmed": "1"})
    assert ChangeProposal.objects.get().amount_after == 70_000


def test_the_buyer_accepts_after_seeing_exactly_what_they_pay(funded, seller, buyer, buyer_client):
    proposal = services.change_order_propose(
        escrow=funded, by=seller, changes=[StageAdd(amount=30_000, title="Launch")]
    )
    page = buyer_client.get(detail(funded)).content.decode()
    assert "The seller proposes a change:</strong> <span data-change-words>stage 4 “Launch” added" in page
    assert "You pay 304.50 USD more (300.00 USD + 4.50 USD fee) when it is accepted." in page
    assert 'data-action="accept-change"' in page and 'data-action="decline-change"' in page
    url = reverse("change_order_accept", args=[funded.public_id, proposal.public_id])
    services.wallet_topup(customer=buyer, amount=40_000, currency="USD")
    confirm = buyer_client.get(url, {"pay_source": "WALLET"}).content.decode()
    assert "Accept the change and pay 304.50 USD?" in confirm
    assert (
        "<li>You pay 304.50 USD (300.00 USD + 4.50 USD fee), from your balance (it holds 400.00 USD)</li>"
        in confirm
    )
    assert "This cannot be undone." in confirm
    dialog = buyer_client.get(url, {"pay_source": "WALLET"}, headers={"HX-Request": "true"}).content.decode()
    assert dialog.strip().startswith("<dialog") and "Accept &amp; pay 304.50 USD" in dialog
    done = buyer_client.post(url, {"confirmed": "1", "pay_source": "WALLET"})
    assert done.url == detail(funded) + "#terms"
    assert flashed(done) == [
        "Change agreed: the buyer paid 304.50 USD, fee included. The escrow's total is now 1,300.00 USD."
    ]
    assert refresh(proposal).status == ChangeProposalStatus.ACCEPTED
    assert Milestone.objects.filter(escrow=funded).count() == 4


def test_paying_by_card_is_carried_to_the_confirmation(funded, seller, buyer_client):
    proposal = services.change_order_propose(escrow=funded, by=seller, changes=[StageAdd(amount=30_000)])
    url = reverse("change_order_accept", args=[funded.public_id, proposal.public_id])
    html = buyer_client.get(url, {"pay_source": "CARD", "card_token": "tok_visa"}).content.decode()
    assert "charged to your card" in html
    assert '<input type="hidden" name="pay_source" value="CARD">' in html
    assert '<input type="hidden" name="card_token" value="tok_visa">' in html
    buyer_client.post(url, {"confirmed": "1", "pay_source": "CARD", "card_token": "tok_visa"})
    assert refresh(proposal).paid_from == "CARD"


def test_a_buyer_short_of_funds_is_told_what_to_do(funded, seller, buyer_client):
    proposal = services.change_order_propose(escrow=funded, by=seller, changes=[StageAdd(amount=30_000)])
    url = reverse("change_order_accept", args=[funded.public_id, proposal.public_id])
    response = buyer_client.post(url, {"confirmed": "1", "pay_source": "WALLET"})
    assert flashed(response) == [
        "This change costs you 304.50 USD (300.00 USD + 4.50 USD fee) and your balance holds 0.00 USD; "
        "nothing was charged. Top up your balance or pay by card, then accept again."
    ]
    assert refresh(proposal).status == ChangeProposalStatus.OPEN


def test_the_seller_accepts_a_decrease_and_sees_where_the_money_goes(funded, seller, buyer, seller_client):
    second = milestones(funded)[1]
    proposal = services.change_order_propose(
        escrow=funded, by=buyer, changes=[StageEdit(milestone=second, amount=40_000)]
    )
    url = reverse("change_order_accept", args=[funded.public_id, proposal.public_id])
    html = seller_client.get(url).content.decode()
    assert "Accept the change and give 100.00 USD back to the buyer?" in html
    assert "<li>Back to the buyer (the buyer&#x27;s balance): 100.00 USD</li>" in html
    done = seller_client.post(url, {"confirmed": "1"})
    assert flashed(done) == [
        "Change agreed: 100.00 USD went back to the buyer. The escrow's total is now 900.00 USD."
    ]


def test_declining_asks_for_a_reason_then_once_more(funded, seller, buyer_client):
    proposal = services.change_order_propose(escrow=funded, by=seller, changes=[StageAdd(amount=30_000)])
    url = reverse("change_order_decline", args=[funded.public_id, proposal.public_id])
    missing = buyer_client.get(url, {"reason": ""})
    assert missing.status_code == 400 and "This field is required." in missing.content.decode()
    assert buyer_client.get(url, {"reason": ""}, headers={"HX-Request": "true"}).status_code == 204
    html = buyer_client.get(url, {"reason": "Over budget"}).content.decode()
    assert "Decline the proposed change?" in html and "“Over budget”" in html
    done = buyer_client.post(url, {"reason": "Over budget", "confirmed": "1"})
    assert flashed(done) == ["Change declined. The seller is told your reason."]
    declined = refresh(proposal)
    assert (declined.status, declined.decline_reason) == ("DECLINED", "Over budget")


def test_the_proposer_withdraws_after_a_confirmation(funded, seller, seller_client, buyer_client):
    proposal = services.change_order_propose(escrow=funded, by=seller, changes=[StageAdd(amount=30_000)])
    page = seller_client.get(detail(funded)).content.decode()
    assert 'data-action="withdraw-change"' in page and 'data-action="accept-change"' not in page
    assert 'data-action="propose-change"' not in page
    url = reverse("change_order_withdraw", args=[funded.public_id, proposal.public_id])
    assert "Withdraw your proposed change?" in seller_client.get(url).content.decode()
    assert buyer_client.get(url).status_code == 302
    seller_client.post(url)
    assert refresh(proposal).status == "WITHDRAWN"
    assert "Earlier change proposals" in seller_client.get(detail(funded)).content.decode()


def test_an_unpaid_escrow_offers_no_change(seller, seller_client):
    from tests.helpers import make_escrow

    escrow = make_escrow(seller)
    assert 'data-action="propose-change"' not in seller_client.get(detail(escrow)).content.decode()
    response = seller_client.get(new_url(escrow))
    assert flashed(response) == [
        "A change can't be proposed now: nobody has paid this escrow yet; "
        "the seller can edit its terms instead."
    ]
