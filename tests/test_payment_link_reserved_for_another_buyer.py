"""The payment page tells a signed-in visitor when the link is reserved for another buyer: one
already named by account, or by an email that is not theirs (compared without case). The
escrow's own parties, and anyone on a link that names nobody, are never told so."""

import pytest

from escrows.permissions import reserved_for_other
from tests.factories import UserFactory
from tests.helpers import make_escrow

pytestmark = pytest.mark.django_db


def test_the_parties_are_never_turned_away(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer, buyer_email="someone-else@example.test")
    assert reserved_for_other(escrow, seller) is False
    assert reserved_for_other(escrow, buyer) is False


def test_a_link_with_a_buyer_account_is_reserved_for_everyone_else(seller, buyer, stranger):
    escrow = make_escrow(seller, buyer=buyer)
    assert reserved_for_other(escrow, stranger) is True


def test_a_link_for_an_email_is_reserved_for_that_email_only(seller):
    escrow = make_escrow(seller, buyer_email="pat@example.test")
    assert reserved_for_other(escrow, UserFactory(email="Pat@Example.test")) is False
    assert reserved_for_other(escrow, UserFactory(email="sam@example.test")) is True


def test_an_open_link_is_for_anyone(seller, stranger):
    escrow = make_escrow(seller)
    assert reserved_for_other(escrow, stranger) is False
