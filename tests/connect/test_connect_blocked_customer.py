"""A customer their platform blocked cannot start Stripe's onboarding: refused in words, and
Stripe is never asked for an account."""

import pytest

from accounts import services as account_services
from core.errors import Forbidden
from escrows.models import StripeAccount
from tests.connect.conftest import onboard, posts

pytestmark = pytest.mark.django_db


def test_a_blocked_customer_cannot_start_stripe_onboarding(stripe_connect_fake, seller):
    account_services.customer_block(customer=seller)

    with pytest.raises(Forbidden) as refused:
        onboard(seller)

    assert (refused.value.message, refused.value.code) == ("This customer is blocked", "customer_blocked")
    assert not StripeAccount.objects.exists()
    assert posts(stripe_connect_fake, "/v1/accounts") == []
