"""Once an escrow is paid (or cancelled) its payment link shows the deal to its parties only;
anyone else who has the link gets the same neutral page as for a link that never existed."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from core.errors import InvalidState
from escrows import services
from escrows.models import Escrow
from tests.helpers import fund, ledger_fingerprint, make_escrow
from tests.reliability import figures

pytestmark = pytest.mark.django_db
SECTION = "money and security defects"


def visitors(stranger):
    anonymous = Client()
    logged_in = Client()
    logged_in.force_login(stranger)
    return {"anonymous": anonymous, "another customer": logged_in}


def test_a_paid_or_cancelled_payment_link_shows_nothing_to_anyone_else(seller, buyer, stranger):
    seller.first_name, seller.last_name = "Sam", "Seller"
    seller.save()
    paid = make_escrow(seller, parts=(10_000, 20_000), title="Kitchen remodel")
    fund(paid, buyer)
    cancelled = make_escrow(seller, parts=(10_000, 20_000), title="Garden shed")
    services.escrow_cancel(escrow=cancelled, by=seller)
    leaked = seen = 0
    for escrow in (paid, cancelled):
        for method in ("get", "post"):
            for who, browser in visitors(stranger).items():
                response = getattr(browser, method)(reverse("pay", args=[escrow.payment_token]))
                html = response.content.decode()
                seen += 1
                shows_deal = any(
                    secret in html
                    for secret in (seller.email, "Sam Seller", escrow.title, "Stage 0", "100.00", "already")
                )
                leaked += shows_deal or response.status_code != 404
                assert response.status_code == 404, (who, method, response.status_code)
                assert "This payment link is no longer open" in html and not shows_deal, (who, method)
    figures.add(SECTION, "closed payment link opened by others: visits", seen)
    figures.add(SECTION, "violations: closed payment link showed the deal", leaked)
    assert leaked == 0


def test_an_unknown_link_gets_the_same_neutral_page():
    response = Client().get(reverse("pay", args=["x" * 32]))
    assert response.status_code == 404
    assert "This payment link is no longer open" in response.content.decode()


def test_the_parties_of_a_paid_escrow_are_taken_to_its_page(seller, buyer):
    escrow = make_escrow(seller, parts=(10_000, 20_000))
    fund(escrow, buyer)
    for party in (seller, buyer):
        browser = Client()
        browser.force_login(party)
        response = browser.get(reverse("pay", args=[escrow.payment_token]))
        assert response.status_code == 302
        assert response["Location"] == reverse("escrow_detail", args=[escrow.public_id])


def test_an_open_payment_link_still_shows_what_is_bought(seller):
    escrow = make_escrow(seller, parts=(10_000, 20_000), title="Kitchen remodel")
    html = Client().get(reverse("pay", args=[escrow.payment_token])).content.decode()
    assert "Kitchen remodel" in html and "304.50 USD" in html


def test_an_escrow_past_its_time_to_pay_cannot_be_paid_before_the_timer_cancels_it(seller, buyer):
    """Between its expiry and the timer's next run an unpaid escrow is still AWAITING_PAYMENT;
    the service and the payment link treat it as closed all the same."""
    escrow = make_escrow(seller, parts=(10_000, 20_000))
    services.wallet_topup(customer=buyer, amount=100_000, currency="USD")
    Escrow.objects.filter(pk=escrow.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    before = ledger_fingerprint()
    with pytest.raises(InvalidState) as refused:
        services.escrow_fund(escrow=escrow, by=buyer)
    assert refused.value.code == "payment_expired"
    browser = Client()
    browser.force_login(buyer)
    response = browser.post(reverse("pay", args=[escrow.payment_token]), {"source": "WALLET"})
    assert response.status_code == 404 and "no longer open" in response.content.decode()
    paid = ledger_fingerprint() != before
    figures.add(SECTION, "payment after the time to pay ran out: attempts", 2)
    figures.add(SECTION, "violations: paid after the time to pay ran out", int(paid))
    assert not paid
    assert services.escrow_expire(escrow=escrow) is not None  # the timer still cancels it
