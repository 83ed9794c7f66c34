"""A payment reference belongs to its payer: one customer's reference neither blocks another
customer's payment nor tells them it exists. The same payer's replay of a reference stays
idempotent, and reusing it for another escrow stays a conflict, even when both arrive at once."""

import pytest

from escrows import services
from escrows.models import Payment
from tests.api.conftest import client_for
from tests.factories import UserFactory
from tests.helpers import assert_ledger_invariants, make_escrow
from tests.reliability import figures

SECTION = "money and security defects"


def pay(api, escrow, reference):
    return api.post(
        "/v1/payment/escrow",
        {"gateway": "WALLET", "escrowDetails": {"escrowId": escrow.public_id}, "reference": reference},
        format="json",
    )


@pytest.mark.django_db
def test_another_customers_reference_neither_blocks_nor_reveals(seller):
    first, second = UserFactory(), UserFactory()
    blocked = 0
    for customer in (first, second):
        services.wallet_topup(customer=customer, amount=100_000, currency="USD")
    assert pay(client_for(first), make_escrow(seller, parts=(10_000, 20_000)), "order-1").status_code == 200
    # The other customer's unrelated payment with the same reference goes through.
    response = pay(client_for(second), make_escrow(seller, parts=(10_000, 20_000)), "order-1")
    blocked += response.status_code != 200
    figures.add(SECTION, "payment reference of another payer: attempts")
    figures.add(SECTION, "violations: payment blocked by another payer's reference", blocked)
    assert response.status_code == 200, response.json()
    assert Payment.objects.filter(reference="order-1").count() == 2
    assert_ledger_invariants()


@pytest.mark.django_db
def test_the_same_payer_replays_a_reference_and_cannot_reuse_it(seller, buyer):
    api = client_for(buyer)
    services.wallet_topup(customer=buyer, amount=100_000, currency="USD")
    escrow, other = make_escrow(seller, parts=(10_000, 20_000)), make_escrow(seller, parts=(10_000, 20_000))
    paid = pay(api, escrow, "order-1").json()["data"]
    replay = pay(api, escrow, "order-1")
    assert replay.status_code == 200 and replay.json()["data"]["paymentId"] == paid["paymentId"]
    reused = pay(api, other, "order-1")
    assert reused.status_code == 409 and reused.json()["code"] == "duplicate_reference"
    assert Payment.objects.filter(payer=buyer).count() == 1
    assert_ledger_invariants()
