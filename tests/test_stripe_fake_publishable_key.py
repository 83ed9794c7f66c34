"""The local Stripe keeps Stripe's rule for what a browser holds: the publishable key may confirm a
PaymentIntent only with that PaymentIntent's own client secret, and may do nothing a secret key
does; it answers a page on another origin (CORS) and serves the stand-in for Stripe.js."""

import pytest
import requests
import stripe

from escrows import services
from tests.helpers import make_escrow

pytestmark = pytest.mark.django_db


def browser(fake) -> stripe.StripeClient:
    return stripe.StripeClient(fake.publishable_key, base_addresses={"api": fake.url}, max_network_retries=0)


def test_the_publishable_key_confirms_only_with_the_matching_client_secret(stripe_fake, seller, buyer):
    started = services.card_payment_start(escrow=make_escrow(seller), by=buyer)
    intent_id = started.card_payment.provider_reference
    other = services.card_payment_start(escrow=make_escrow(seller, title="Logo"), by=buyer)

    with pytest.raises(stripe.InvalidRequestError, match="does not match the client_secret") as wrong:
        browser(stripe_fake).v1.payment_intents.confirm(
            intent_id, {"payment_method": "pm_card_visa", "client_secret": other.client_secret}
        )
    assert wrong.value.param == "client_secret"
    assert stripe_fake.intents[intent_id]["status"] == "requires_payment_method"

    confirmed = browser(stripe_fake).v1.payment_intents.confirm(
        intent_id, {"payment_method": "pm_card_visa", "client_secret": started.client_secret}
    )
    assert confirmed.status == "succeeded"


def test_the_publishable_key_cannot_do_what_a_secret_key_does(stripe_fake):
    with pytest.raises(stripe.AuthenticationError, match="cannot be made with a publishable API key"):
        browser(stripe_fake).v1.payment_intents.create({"amount": 100, "currency": "usd"})
    assert stripe_fake.intents == {}


def test_a_page_on_another_origin_may_call_it_and_load_its_stripe_js(stripe_fake):
    origin = "http://localhost:8123"
    preflight = requests.options(
        f"{stripe_fake.url}/v1/payment_intents/pi_x/confirm",
        headers={"Origin": origin, "Access-Control-Request-Headers": "authorization"},
        timeout=5,
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"]
    missing = requests.post(
        f"{stripe_fake.url}/v1/payment_intents/pi_x/confirm",
        headers={"Origin": origin, "Authorization": f"Bearer {stripe_fake.publishable_key}"},
        timeout=5,
    )
    assert missing.status_code == 404 and missing.headers["Access-Control-Allow-Origin"] == origin
    script = requests.get(stripe_fake.js_url, timeout=5)
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert "window.Stripe = function (publishableKey)" in script.text
