"""The payment link and the balance page: funding from the wallet or a test card, top-ups,
withdrawals; anonymous visitors are sent to log in and come back."""

import pytest
from django.test import Client
from django.urls import reverse

from escrows.models import EscrowStatus, FundingSource, Settlement
from escrows.selectors import wallet_balance
from tests.helpers import (
    assert_ledger_invariants,
    fund,
    ledger_fingerprint,
    mailed_code,
    make_escrow,
    refresh,
)


def pay_url(escrow):
    return reverse("pay", args=[escrow.payment_token])


@pytest.mark.django_db
def test_anonymous_sees_what_is_bought_and_is_asked_to_log_in(seller):
    escrow = make_escrow(seller, parts=(10_000, 20_000))
    html = Client().get(pay_url(escrow)).content.decode()
    assert "Website build" in html and "300.00 USD" in html and "304.50 USD" in html
    assert f"/accounts/login/?next=/pay/{escrow.payment_token}" in html
    assert f"/accounts/signup/?next=/pay/{escrow.payment_token}" in html
    response = Client().post(pay_url(escrow), {"source": "WALLET"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT


@pytest.mark.django_db
def test_signup_comes_back_to_the_payment_link_once_the_email_is_confirmed(seller):
    escrow = make_escrow(seller)
    client = Client()
    response = client.post(
        reverse("signup"),
        {
            "email": "New.Buyer@Example.test",
            "first_name": "New",
            "last_name": "Buyer",
            "password1": "a-long-pass-phrase-9",
            "password2": "a-long-pass-phrase-9",
            "next": pay_url(escrow),
        },
    )
    assert response.status_code == 302 and response["Location"] == reverse("account_email_verification_sent")
    assert "_auth_user_id" not in client.session
    confirmed = client.post(response["Location"], {"code": mailed_code("new.buyer@example.test")})
    assert confirmed.status_code == 302 and confirmed["Location"] == pay_url(escrow)
    assert client.session["_auth_user_id"]


@pytest.mark.django_db
def test_signup_refuses_an_offsite_next(seller):
    client = Client()
    client.post(
        reverse("signup"),
        {
            "email": "x@example.test",
            "password1": "a-long-pass-phrase-9",
            "password2": "a-long-pass-phrase-9",
            "next": "https://evil.example/",
        },
    )
    confirmed = client.post(
        reverse("account_email_verification_sent"), {"code": mailed_code("x@example.test")}
    )
    assert confirmed.status_code == 302 and confirmed["Location"] == reverse("dashboard")


@pytest.mark.django_db
def test_login_by_email_and_logout(buyer):
    client = Client()
    response = client.post(reverse("login"), {"login": "BUYER@example.test", "password": "pass-word-123"})
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("dashboard")).status_code == 302
    bad = Client().post(reverse("login"), {"login": "buyer@example.test", "password": "nope"})
    assert bad.status_code == 200 and "correct" in bad.content.decode()


@pytest.mark.django_db
def test_buyer_funds_from_wallet(seller, buyer, buyer_client):
    escrow = make_escrow(seller)
    html = buyer_client.get(pay_url(escrow)).content.decode()
    assert "short by 1,015.00 USD" in html and 'value="1015.00"' in html
    buyer_client.post(
        reverse("balance_topup"), {"currency": "USD", "amount": "1015.00", "next": pay_url(escrow)}
    )
    response = buyer_client.post(pay_url(escrow), {"source": "WALLET", "reference": "web_test_1"})
    assert response.status_code == 302
    assert response["Location"] == reverse("escrow_detail", args=[escrow.public_id])
    escrow = refresh(escrow)
    assert escrow.status == EscrowStatus.OPENED and escrow.buyer == buyer
    assert wallet_balance(buyer, "USD") == 0
    # A double-submitted form (same reference) funds once.
    assert (
        buyer_client.post(pay_url(escrow), {"source": "WALLET", "reference": "web_test_1"}).status_code == 302
    )
    assert_ledger_invariants()


@pytest.mark.django_db
def test_short_wallet_is_refused_and_changes_nothing(seller, buyer, buyer_client):
    escrow = make_escrow(seller)
    before = ledger_fingerprint()
    response = buyer_client.post(pay_url(escrow), {"source": "WALLET"}, follow=True)
    assert "Insufficient" in response.content.decode() or "insufficient" in response.content.decode()
    assert ledger_fingerprint() == before


@pytest.mark.django_db
def test_card_funding_and_decline(seller, buyer, buyer_client):
    escrow = make_escrow(seller)
    before = ledger_fingerprint()
    response = buyer_client.post(
        pay_url(escrow), {"source": "CARD", "card_token": "tok_decline"}, follow=True
    )
    assert "Your card was declined" in response.content.decode()
    assert ledger_fingerprint() == before
    buyer_client.post(pay_url(escrow), {"source": "CARD", "card_token": "tok_visa"})
    escrow = refresh(escrow)
    assert escrow.status == EscrowStatus.OPENED and escrow.payment.source == FundingSource.CARD
    assert_ledger_invariants()


@pytest.mark.django_db
def test_link_reserved_for_another_buyer(seller, buyer, stranger, stranger_client):
    escrow = make_escrow(seller, buyer_email=buyer.email)
    html = stranger_client.get(pay_url(escrow)).content.decode()
    assert "reserved for another buyer" in html and "data-pay" not in html
    response = stranger_client.post(
        pay_url(escrow), {"source": "CARD", "card_token": "tok_visa"}, follow=True
    )
    assert "reserved for another buyer" in response.content.decode()
    assert refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT


@pytest.mark.django_db
def test_funded_link_sends_a_party_to_the_escrow_and_unknown_token_404s(seller, buyer, buyer_client):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    response = buyer_client.get(pay_url(escrow))
    assert response["Location"] == reverse("escrow_detail", args=[escrow.public_id])
    assert buyer_client.get("/pay/pt_nope").status_code == 404


@pytest.mark.django_db
def test_balance_topup_withdraw_and_settlements(buyer, buyer_client, django_capture_on_commit_callbacks):
    buyer_client.post(reverse("balance_topup"), {"currency": "EUR", "amount": "50.00"})
    assert wallet_balance(buyer, "EUR") == 5000
    with django_capture_on_commit_callbacks(execute=True):
        buyer_client.post(
            reverse("balance_withdraw"), {"currency": "EUR", "amount": "20.00", "destination": "iban-DE00"}
        )
    html = buyer_client.get(reverse("balance")).content.decode()
    assert "Payout of 20.00 EUR scheduled" in html  # the flash, shown on the next page
    settlement = Settlement.objects.get(customer=buyer)
    assert settlement.amount == 2000 and "iban-DE00" in html and 'data-status="PAID"' in html
    assert "30.00 EUR" in html
    before = ledger_fingerprint()
    response = buyer_client.post(
        reverse("balance_withdraw"), {"currency": "EUR", "amount": "999.00", "destination": "x"}, follow=True
    )
    assert "insufficient" in response.content.decode().lower()
    response = buyer_client.post(reverse("balance_topup"), {"currency": "EUR", "amount": "-5"}, follow=True)
    assert "greater than zero" in response.content.decode()
    response = buyer_client.post(
        reverse("balance_topup"), {"currency": "EUR", "amount": "1e400"}, follow=True
    )
    assert response.status_code == 200
    assert ledger_fingerprint() == before
    assert_ledger_invariants()


@pytest.mark.django_db
def test_tampered_forms_are_4xx_or_messages_never_500(seller, buyer_client, seller_client):
    escrow = make_escrow(seller)
    before = ledger_fingerprint()
    response = buyer_client.post(pay_url(escrow), {"source": "BITCOIN"}, follow=True)
    assert response.status_code == 200 and "Choose how to pay" in response.content.decode()
    response = seller_client.post(
        reverse("escrow_new"), {"add_row": "1", "form-TOTAL_FORMS": "abc", "form-INITIAL_FORMS": "0"}
    )
    assert response.status_code == 200
    response = seller_client.post(
        reverse("escrow_new"), {"title": "x", "currency": "USD", "amount": "1", "form-TOTAL_FORMS": "x"}
    )
    assert response.status_code == 200
    assert seller_client.get(reverse("dashboard"), {"page": "abc", "status": "nope"}).status_code == 200
    assert ledger_fingerprint() == before
