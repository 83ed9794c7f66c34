import pytest
from django.core import mail

from escrows import services
from tests.factories import UserFactory
from tests.helpers import fund, make_escrow, milestones


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = "https://escrow.example.test"
    mail.outbox = []


@pytest.fixture
def seller(db):
    return UserFactory(email="seller@example.test", first_name="Sam", last_name="Seller")


@pytest.fixture
def buyer(db):
    return UserFactory(email="buyer@example.test", first_name="Bea", last_name="Buyer")


@pytest.fixture
def paid(seller, buyer):
    """Three stages (300.00, 500.00, 200.00 USD), the buyer named by email, paid by them."""
    escrow = make_escrow(seller, buyer_email=buyer.email)
    fund(escrow, buyer)
    return escrow


@pytest.fixture
def in_review(paid, seller):
    first = milestones(paid)[0]
    services.milestone_complete(milestone=first, by=seller, proof="done")
    return first
