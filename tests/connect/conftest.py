"""Stripe Connect on 127.0.0.1 (tests/stripe_connect_fake.py), Connect switched on, and a seller
whose connected account Stripe pays out to."""

import pytest

from escrows import services
from escrows.models import StripeAccount

# What our site gives Stripe as the onboarding's return and refresh addresses in service tests.
RETURN_URL = "https://escrow.test/balance/stripe/return/"
REFRESH_URL = "https://escrow.test/balance/stripe/refresh/"


@pytest.fixture
def stripe_connect_fake(settings):
    from tests.stripe_connect_fake import StripeConnectFake

    fake = StripeConnectFake(api_key="sk_test_local", webhook_secret="whsec_local").start()
    settings.STRIPE_SECRET_KEY = fake.api_key
    settings.STRIPE_WEBHOOK_SECRET = fake.webhook_secret
    settings.STRIPE_API_BASE = fake.url
    settings.STRIPE_CONNECT = True
    # Each test says when a lost answer is asked again (the SDK's own retries are one test's).
    settings.STRIPE_NETWORK_RETRIES = 0
    yield fake
    fake.stop()


def posts(fake, path):
    """The POST requests Stripe received at this path: their params and headers."""
    return [
        (params, headers) for method, at, params, headers in fake.requests if (method, at) == ("POST", path)
    ]


def onboard(user) -> str:
    """The person clicks "Connect a Stripe account": the onboarding address Stripe gives."""
    return services.stripe_account_onboard(customer=user, refresh_url=REFRESH_URL, return_url=RETURN_URL)


@pytest.fixture
def connected_seller(stripe_connect_fake, seller) -> StripeAccount:
    """The seller has finished Stripe's onboarding and come back: payouts enabled."""
    onboard(seller)
    account = StripeAccount.objects.get(customer=seller)
    stripe_connect_fake.complete_onboarding(account.account_id)
    refreshed = services.stripe_account_refresh(customer=seller)
    assert refreshed is not None and refreshed.payouts_enabled
    return refreshed
