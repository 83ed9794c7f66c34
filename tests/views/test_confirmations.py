"""Every irreversible action asks once, without JavaScript too: its GET is a confirmation page
saying what happens to how much money in the currency, with one POST button and a way back; the
GET changes nothing; the POST acts. The escrow page offers these actions as links to those pages
(never a form that acts at once) and carries the same confirmation as a <dialog> for JavaScript.
A stage the seller has not marked delivered is released only through a secondary link whose
confirmation says so; "Refund the rest" is not the seller's top action."""

import re
from html import unescape

import pytest
from django.urls import reverse

from escrows import services
from escrows.models import CancellationStatus, EscrowStatus, MilestoneStatus, RefundRequestStatus
from tests.helpers import fund, ledger_fingerprint, make_escrow, make_standard, milestones, refresh

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _names(seller, buyer):
    seller.first_name, seller.last_name = "Sam", "Seller"
    seller.save()
    buyer.first_name, buyer.last_name = "Bea", "Buyer"
    buyer.save()


def detail(escrow):
    return reverse("escrow_detail", args=[escrow.public_id])


def confirmation_page(client, url):
    """The confirmation page at `url`: its title, its text, the form's target, and that the GET
    left the ledger as it was."""
    before = ledger_fingerprint()
    response = client.get(url)
    assert response.status_code == 200, url
    assert ledger_fingerprint() == before, "a confirmation page changed money"
    html = response.content.decode()
    title = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S).group(1).strip()
    form = re.search(r'<form method="post" action="([^"]*)" class="dialog-actions">', html)
    assert form is not None and form.group(1) == url, "one POST button, to the same address"
    card = re.search(r'<article class="confirm-card".*?</article>', html, re.S).group(0)
    assert len(re.findall(r"<button type=\"submit\"", card)) == 1, "one button"
    assert "data-confirm-back" in html, "a way back"
    assert "minor units" not in html
    return unescape(title), unescape(html)


def dialog(html, kind):
    """The <dialog> on a page holding the confirmation of `kind`, and the link that opens it."""
    blocks = re.findall(r'<dialog id="(confirm-[^"]+)"[^>]*data-confirm-dialog>(.*?)</dialog>', html, re.S)
    matching = [(i, body) for i, body in blocks if f'data-confirmation="{kind}"' in body]
    assert matching, f"no {kind} dialog"
    dialog_id, body = matching[0]
    assert f'data-confirm-open="{dialog_id}"' in html, "the button opens it"
    title = re.search(r"<h2[^>]*>(.*?)</h2>", body, re.S).group(1).strip()
    return unescape(title), unescape(body)


def no_form_posts_at_once(html, url):
    """Outside the dialogs, nothing on the page posts to `url`: the action is a link to its page."""
    outside = re.sub(r"<dialog.*?</dialog>", "", html, flags=re.S)
    assert f'action="{url}"' not in outside
    assert f'href="{url}"' in outside


# -- release -------------------------------------------------------------------------------------


def test_an_undelivered_stage_is_released_only_through_a_secondary_link_that_says_so(funded, buyer_client):
    first = milestones(funded)[0]
    url = reverse("milestone_release", args=[funded.public_id, first.public_id])
    html = buyer_client.get(detail(funded)).content.decode()
    assert "Confirm &amp; release" not in html, "no primary release button before delivery"
    link = re.search(rf'<a href="{url}"[^>]*>([^<]+)</a>', html)
    assert link is not None and 'role="button"' not in link.group(0)
    assert link.group(1) == "Release 300.00 USD without delivery"
    no_form_posts_at_once(html, url)
    title, page = confirmation_page(buyer_client, url)
    assert title == "Release 300.00 USD to Sam Seller before delivery?"
    assert "Sam Seller has not marked “Stage 0” delivered." in page
    assert dialog(html, "release")[0] == title, "the dialog says what the page says"
    response = buyer_client.post(url, follow=True)
    assert "Released 300.00 USD to Sam Seller." in response.content.decode()
    assert refresh(first).status == MilestoneStatus.RELEASED


def test_a_delivered_stage_gets_the_primary_release_button(delivered, buyer_client):
    escrow = delivered.escrow
    url = reverse("milestone_release", args=[escrow.public_id, delivered.public_id])
    html = buyer_client.get(detail(escrow)).content.decode()
    assert re.search(rf'<a role="button" href="{url}"[^>]*>Confirm &amp; release 300.00 USD</a>', html)
    title, page = confirmation_page(buyer_client, url)
    assert title == "Release 300.00 USD to Sam Seller?" and "data-confirm-warning" not in page
    assert "Delivery note: done" in page


# -- cancel, refund the rest -----------------------------------------------------------------------


def test_cancelling_an_unpaid_escrow_asks_first(seller, seller_client, buyer_client):
    escrow = make_escrow(seller)
    url = reverse("escrow_cancel", args=[escrow.public_id])
    html = seller_client.get(detail(escrow)).content.decode()
    no_form_posts_at_once(html, url)
    title, page = confirmation_page(seller_client, url)
    assert title == "Cancel this escrow?"
    assert "Nobody has paid yet, so no money moves. The payment link for 1,015.00 USD stops working" in page
    assert dialog(html, "cancel")[0] == title
    assert refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT
    seller_client.post(url)
    assert refresh(escrow).status == EscrowStatus.CANCELLED
    # Once cancelled, its confirmation page is not offered any more.
    assert seller_client.get(url)["Location"] == detail(escrow)


def test_refunding_the_rest_shows_the_amount_and_is_not_the_sellers_top_action(funded, buyer, seller_client):
    first = milestones(funded)[0]
    services.milestone_release(milestone=first, by=buyer)
    url = reverse("escrow_refund", args=[funded.public_id])
    html = seller_client.get(detail(funded)).content.decode()
    no_form_posts_at_once(html, url)
    top = re.search(r"<div class=\"action-bar\" data-actions>.*?</div>", html, re.S)
    assert top is None or url not in top.group(0), "not in the top action bar"
    link = re.search(rf'<a role="button" class="([^"]+)" href="{url}"', html)
    assert link is not None and "outline" in link.group(1), "a secondary button"
    title, page = confirmation_page(seller_client, url)
    assert title == "Refund 700.00 USD to the buyer's balance?"
    assert "This closes the escrow." in page and "What was already released (300.00 USD) stays yours." in page
    assert "Stage 2 · Stage 1 · 500.00 USD" in page and "Stage 3 · Stage 2 · 200.00 USD" in page
    assert dialog(html, "refund")[0] == title
    seller_client.post(url)
    assert refresh(funded).status == EscrowStatus.REFUNDED


def test_refund_and_cancel_pages_only_for_whoever_may_act(funded, seller, buyer_client, seller_client):
    assert buyer_client.get(reverse("escrow_refund", args=[funded.public_id]))["Location"] == detail(funded)
    assert seller_client.get(reverse("escrow_cancel", args=[funded.public_id]))["Location"] == detail(funded)
    standard = make_standard(seller)
    title, _ = confirmation_page(seller_client, reverse("escrow_cancel", args=[standard.public_id]))
    assert title == "Cancel this escrow?"


# -- the refunds panel: accept a refund request, accept a cancellation --------------------------------


def test_accepting_a_refund_request_and_a_cancellation_ask_with_the_amounts(
    funded, seller, buyer, seller_client
):
    request = services.refund_request_create(escrow=funded, by=buyer, reason="Project cancelled")
    url = reverse("refund_request_accept", args=[funded.public_id, request.public_id])
    html = seller_client.get(detail(funded)).content.decode()
    assert dialog(html, "accept-refund")[0] == "Refund 1,000.00 USD to the buyer's balance?"
    title, page = confirmation_page(seller_client, url)
    assert title == "Refund 1,000.00 USD to the buyer's balance?" and "Project cancelled" in page
    seller_client.post(url)
    assert refresh(request).status == RefundRequestStatus.ACCEPTED

    other = make_escrow(seller)
    fund(other, buyer)
    proposal = services.cancellation_propose(
        escrow=other, by=buyer, buyer_amount=60_000, seller_amount=40_000
    )
    url = reverse("cancellation_accept", args=[other.public_id, proposal.public_id])
    title, page = confirmation_page(seller_client, url)
    assert title == "Cancel this escrow by agreement?"
    assert "Back to the buyer (the buyer's balance): 600.00 USD" in page
    assert "To the seller's balance: 400.00 USD" in page
    html = seller_client.get(detail(other)).content.decode()
    assert dialog(html, "cancellation")[0] == title
    seller_client.post(url)
    assert refresh(proposal).status == CancellationStatus.ACCEPTED


def test_refunding_chosen_stages_confirms_with_what_was_ticked(funded, seller_client):
    first, second, _ = milestones(funded)
    url = reverse("milestones_refund", args=[funded.public_id])
    response = seller_client.post(
        url, {"milestones": [first.public_id, second.public_id], "reason": "Out of stock"}
    )
    html = response.content.decode()
    assert re.search(r"<h1[^>]*>Refund 800.00 USD to the buyer&#x27;s balance\?</h1>", html)
    assert 'name="reason" value="Out of stock"' in html and 'name="confirm" value="yes"' in html
    assert refresh(first).status == MilestoneStatus.PENDING
    seller_client.post(
        url, {"milestones": [first.public_id, second.public_id], "reason": "Out of stock", "confirm": "yes"}
    )
    assert [refresh(m).status for m in (first, second)] == [MilestoneStatus.REFUNDED] * 2


# -- the payment page tells when the seller is paid ------------------------------------------------


def test_the_payment_page_says_delivered_stages_release_by_themselves(seller, buyer_client):
    escrow = make_escrow(seller)
    html = buyer_client.get(reverse("pay", args=[escrow.payment_token])).content.decode()
    assert "nothing reaches the seller before you confirm" not in html
    text = re.sub(
        r"<[^>]+>", "", re.search(r"<section[^>]*data-review-terms.*?</section>", html, re.S).group(0)
    )
    assert "automatically 14 days after the seller marks it delivered" in text
    assert (
        "unless before then you confirm it, ask for more time (once, 7 days more), or open a dispute" in text
    )
