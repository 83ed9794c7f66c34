"""GET /v1/wallet: the acting customer's money in one currency in major units, as the balance page
counts it: available, held in open escrows (for them as seller, and what they paid in as buyer),
being paid out."""

import pytest

from escrows import services
from tests.api.conftest import client_for
from tests.api.payluk_calls import answer, customer, refusal
from tests.helpers import fund, make_escrow, milestones

pytestmark = pytest.mark.django_db

FETCHED = "Wallet fetched successfully"


def test_a_new_customer_has_an_empty_wallet_in_the_default_currency(platform, settings):
    ada = customer(platform, "ada@example.test")
    data = answer(client_for(platform, customer_id=ada.customer_id).get("/v1/wallet"), message=FETCHED)
    assert data == {
        "mainBalance": 0,
        "escrowBalance": 0,
        "currency": settings.ESCROW_DEFAULT_CURRENCY,
        "heldForYou": 0,
        "heldForPurchases": 0,
        "beingPaidOut": 0,
    }


def test_the_wallet_counts_what_is_available_and_what_is_held_on_either_side(platform, seller):
    ada = customer(platform, "ada@example.test")
    bought = make_escrow(seller, parts=(30_000, 20_000))
    fund(bought, ada, extra=12_345)  # 500.00 + 7.50 fee paid, 123.45 left
    sold = services.escrow_create(
        seller=ada,
        terms=services.EscrowTerms(title="Logo", currency="USD", amount=40_000),
        milestones=[services.MilestoneInput(amount=10_000), services.MilestoneInput(amount=30_000)],
    )
    fund(sold, seller)
    services.milestone_release(milestone=milestones(sold)[0], by=seller)  # 100.00 to Ada
    data = answer(client_for(platform, customer_id=ada.customer_id).get("/v1/wallet?currency=usd"))
    assert data == {
        "mainBalance": 223.45,
        "escrowBalance": 800,
        "currency": "USD",
        "heldForYou": 300,
        "heldForPurchases": 500,
        "beingPaidOut": 0,
    }
    # Whole amounts are integers, as everywhere on this surface.
    assert isinstance(data["escrowBalance"], int)
    other = answer(client_for(platform, customer_id=ada.customer_id).get("/v1/wallet?currency=EUR"))
    assert other["currency"] == "EUR" and other["mainBalance"] == 0


def test_without_customer_id_a_key_reads_its_own_wallet(seller):
    services.wallet_topup(customer=seller, amount=700, currency="USD")
    assert answer(client_for(seller).get("/v1/wallet"))["mainBalance"] == 7


@pytest.mark.parametrize(
    "currency, message",
    [
        ("XYZ", "Unsupported currency: XYZ. Supported:"),
        ("%00", "Unsupported currency:"),
    ],
)
def test_an_unknown_currency_is_400(seller, currency, message):
    r = client_for(seller).get(f"/v1/wallet?currency={currency}")
    assert r.status_code == 400 and r.json()["message"].startswith(message)
    assert r.json()["code"] == "invalid_currency"


def test_another_platforms_customer_is_not_found(platform, seller):
    ada = customer(platform, "ada@example.test")
    refusal(client_for(seller, customer_id=ada.customer_id).get("/v1/wallet"), 404, "Customer not found")
