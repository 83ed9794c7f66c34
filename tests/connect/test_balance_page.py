"""The balance page while Stripe Connect is on, without JavaScript: "Connect a Stripe account to
get paid" posts and lands on Stripe's onboarding, the return from Stripe says the account's
status in words, and the withdrawal form says where the money goes (the connected account) and
asks for no destination; without an account that Stripe pays out to, it says to connect one."""

import pytest
from django.test import Client
from django.urls import reverse

from escrows import services
from escrows.models import Settlement, StripeAccount
from tests.helpers import assert_ledger_invariants, ledger_fingerprint

pytestmark = pytest.mark.django_db

WITHDRAW = {"currency": "USD", "amount": "20.00"}


@pytest.fixture
def seller_client(seller):
    client = Client()
    client.force_login(seller)
    return client


def page(client) -> str:
    response = client.get(reverse("balance"))
    assert response.status_code == 200
    return response.content.decode()


def test_the_page_offers_to_connect_a_stripe_account(stripe_connect_fake, seller_client):
    html = page(seller_client)
    assert "Connect a Stripe account to get paid" in html
    assert f'action="{reverse("balance_stripe_connect")}"' in html
    assert "Connect your Stripe account below to withdraw" in html
    assert 'name="destination"' not in html


def test_with_connect_off_the_page_is_as_before(stripe_connect_fake, seller_client, settings):
    settings.STRIPE_CONNECT = False
    html = page(seller_client)
    assert "Connect a Stripe account" not in html and "data-stripe-account" not in html
    assert 'name="destination"' in html


def test_the_button_posts_and_lands_on_stripes_onboarding(stripe_connect_fake, seller, seller_client):
    response = seller_client.post(reverse("balance_stripe_connect"))

    [link] = stripe_connect_fake.account_links
    assert response.status_code == 302 and response["Location"] == link["url"]
    assert link["return_url"] == "http://testserver/balance/stripe/return/"
    assert link["refresh_url"] == "http://testserver/balance/stripe/refresh/"
    assert StripeAccount.objects.get().customer == seller
    assert seller_client.get(reverse("balance_stripe_connect")).status_code == 405


def test_a_lapsed_link_sends_the_person_back_to_stripe_with_a_new_one(stripe_connect_fake, seller_client):
    assert seller_client.get(reverse("balance_stripe_refresh"))["Location"] == reverse("balance")
    seller_client.post(reverse("balance_stripe_connect"))

    response = seller_client.get(reverse("balance_stripe_refresh"))

    assert len(stripe_connect_fake.account_links) == 2
    assert response.status_code == 302
    assert response["Location"] == stripe_connect_fake.account_links[-1]["url"]
    assert len(stripe_connect_fake.accounts) == 1


def test_coming_back_from_stripe_says_the_status_in_words(stripe_connect_fake, seller_client):
    seller_client.post(reverse("balance_stripe_connect"))

    unfinished = seller_client.get(reverse("balance_stripe_return"), follow=True).content.decode()
    assert "Stripe needs more details: finish setting up your account with Stripe." in unfinished
    assert "Continue with Stripe" in unfinished

    stripe_connect_fake.complete_onboarding(StripeAccount.objects.get().account_id)
    finished = seller_client.get(reverse("balance_stripe_return"), follow=True)

    html = finished.content.decode()
    assert finished.redirect_chain == [(f"{reverse('balance')}#stripe-account", 302)]
    assert "Your Stripe account is connected: payouts enabled." in html
    assert "<strong>Payouts enabled.</strong>" in html
    assert "Connect a Stripe account to get paid" not in html and "Continue with Stripe" not in html


def test_the_withdrawal_says_where_the_money_goes_and_pays_it_there(
    stripe_connect_fake, connected_seller, seller, seller_client, django_capture_on_commit_callbacks
):
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    account_id = connected_seller.account_id
    html = page(seller_client)
    assert f"Paid to your Stripe account <code>{account_id}</code>, then by Stripe to your bank." in html
    assert 'name="destination"' not in html

    before = ledger_fingerprint()
    asked = seller_client.get(reverse("balance_withdraw"), WITHDRAW).content.decode()
    assert f"Pay out 20.00 USD to your Stripe account ({account_id})?" in asked
    assert "through Stripe, and Stripe pays it on to your bank." in asked
    assert 'name="destination"' not in asked
    assert ledger_fingerprint() == before

    with django_capture_on_commit_callbacks(execute=True):
        response = seller_client.post(reverse("balance_withdraw"), WITHDRAW)

    assert response.status_code == 302
    settlement = Settlement.objects.get()
    assert (settlement.method, settlement.destination, settlement.status) == (
        "STRIPE_TRANSFER",
        account_id,
        "PAID",
    )
    assert f"Payout of 20.00 USD scheduled to your Stripe account ({account_id})." in page(seller_client)
    assert_ledger_invariants()


def test_a_withdrawal_without_an_account_says_to_connect_one(stripe_connect_fake, seller, seller_client):
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    before = ledger_fingerprint()
    for send in (seller_client.get, seller_client.post):
        response = send(reverse("balance_withdraw"), WITHDRAW)
        assert response.status_code == 200
        assert "Connect your Stripe account on your balance page to withdraw." in response.content.decode()
    assert ledger_fingerprint() == before
    assert not Settlement.objects.exists()
