"""One payer's payment reference used for two escrows at once pays one and refuses the other
(the rest of what a payment reference may do is in tests/reliability/test_payment_reference_per_payer.py)."""

from functools import partial

import pytest
from django.db import connection

from core.errors import Conflict
from escrows import services
from escrows.models import Payment
from tests.factories import UserFactory
from tests.helpers import assert_ledger_invariants, make_escrow
from tests.races.racing import connection_pool, race
from tests.reliability import figures

SECTION = "money and security defects"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_reference_for_two_escrows_at_once_pays_one_and_refuses_the_other():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks and many connections: set DATABASE_URL to PostgreSQL")
    wrong = 0
    rounds = figures.scaled(5)
    with connection_pool(8):
        for i in range(rounds):
            seller, buyer = UserFactory(), UserFactory()
            services.wallet_topup(customer=buyer, amount=200_000, currency="USD")
            escrows = [make_escrow(seller, parts=(10_000, 20_000)) for _ in range(2)]
            result = race(
                [partial(services.escrow_fund, escrow=e, by=buyer, reference=f"r{i}") for e in escrows]
            )
            ok = (
                not result.unexpected
                and sum(n for k, n in result.outcomes.items() if k.endswith(":ok")) == 1
                and sum(n for k, n in result.outcomes.items() if k.endswith(f":{Conflict.__name__}")) == 1
                and Payment.objects.filter(payer=buyer).count() == 1
            )
            wrong += not ok
            figures.add(SECTION, "one payer's reference for two escrows at once: races", 1)
    figures.add(SECTION, "violations: one reference paid twice or a server error", wrong)
    assert wrong == 0, (result.outcomes, result.unexpected)
    assert_ledger_invariants()
