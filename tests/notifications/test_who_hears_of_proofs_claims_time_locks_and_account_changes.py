"""Standard escrows' own events reach the people they concern, with the amount and one link: a
proof of delivery (the buyer: what was proven and when the money goes), a time-locked escrow
released at its time (both), the seller's claim after the delivery window (the buyer: it went to
the seller; the seller: a confirmation), a dispute opened and answered on a standard escrow (the
other party); and a customer hears when their account is blocked, unblocked or may do other
things."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts import services as account_services
from escrows import services
from escrows.models import Escrow
from escrows.services import EscrowTerms
from notifications.models import Category
from tests.factories import UserFactory
from tests.helpers import at, fund, make_standard, refresh
from tests.notifications.helpers import emails_of, nobody_told, told

pytestmark = pytest.mark.django_db

PROOF = "ab" * 32


def standard(seller, buyer, **terms):
    terms.setdefault("release_type", "DELIVERY_PROOF")
    escrow = services.escrow_create(
        seller=seller,
        terms=EscrowTerms(title="Laptop", currency="USD", amount=50_000, settlement_type="STANDARD", **terms),
        milestones=[],
    )
    fund(escrow, buyer)
    return refresh(escrow)


def prove(escrow, seller):
    services.delivery_proof_submit(
        escrow=escrow, by=seller, proof_hash=PROOF, submitted_by="Courier", proof_uri="https://proof.test/1"
    )


def test_the_buyer_hears_of_a_proof_of_delivery_and_how_to_release(seller, buyer):
    escrow = standard(seller, buyer, max_delivery=3, delivery_timeline="days")
    prove(escrow, seller)
    notices = told("delivery_proof.submitted")
    assert set(notices) == {buyer.email}
    notice = notices[buyer.email]
    assert notice.subject == "Sam Seller proved delivery of “Laptop”"
    assert "submitted a proof of delivery for “Laptop” (500.00 USD)" in notice.body_text
    assert f"Proof: 0x{PROOF}, at https://proof.test/1. Submitted by Courier." in notice.body_text
    assert "Confirm the delivery to release 500.00 USD to Sam Seller" in notice.body_text
    assert "Sam Seller can claim the money" in notice.body_text
    assert notice.url == f"/escrows/{escrow.public_id}/"
    assert notice.category == Category.REQUESTS and notice.action_required
    (email,) = emails_of("delivery_proof.submitted")
    assert email.to == [buyer.email] and "500.00 USD" in email.body


def test_a_proof_before_a_time_lock_says_when_the_money_goes(seller, buyer):
    until = timezone.now() + timedelta(days=2)
    escrow = standard(seller, buyer, release_type="TIME_LOCKED", time_lock_until=until)
    prove(escrow, seller)
    body = told("delivery_proof.submitted")[buyer.email].body_text
    assert "500.00 USD is released to Sam Seller on" in body and "time lock ends" in body


@pytest.mark.parametrize(
    "terms",
    [{"release_type": "AUTO_RELEASE"}, {"release_type": "TIME_LOCKED", "time_lock_until": "past"}],
)
def test_a_proof_on_an_escrow_frozen_by_a_chargeback_says_the_money_stays_held(seller, buyer, terms):
    if terms.get("time_lock_until") == "past":
        terms = {**terms, "time_lock_until": timezone.now() + timedelta(seconds=1)}
    escrow = standard(seller, buyer, **terms)
    Escrow.objects.filter(pk=escrow.pk).update(frozen_by_chargeback=True)  # the bank's chargeback
    with at(timezone.now() + timedelta(minutes=1)):
        prove(escrow, seller)
    assert refresh(escrow).status == "OPENED"
    body = told("delivery_proof.submitted")[buyer.email].body_text
    assert "500.00 USD stays held: your card payment for it is being disputed with your bank" in body
    assert "released to Sam Seller" not in body


def test_a_time_locked_escrow_released_at_its_time_tells_both_the_amount(seller, buyer):
    until = timezone.now() + timedelta(days=2)
    escrow = standard(seller, buyer, release_type="TIME_LOCKED", time_lock_until=until)
    prove(escrow, seller)
    with at(until + timedelta(minutes=1)):
        assert services.escrow_time_lock_release(escrow=escrow) is not None
    notices = told("escrow.completed")
    assert set(notices) == {seller.email, buyer.email}
    assert notices[seller.email].subject == "500.00 USD released for “Laptop”"
    assert "500.00 USD was released to your balance" in notices[seller.email].body_text
    assert notices[buyer.email].subject == "“Laptop” released: 500.00 USD to Sam Seller"
    assert all(n.url == f"/escrows/{escrow.public_id}/" for n in notices.values())
    assert nobody_told("time_lock.released")  # told once, as the release


def test_the_sellers_claim_tells_the_buyer_where_the_money_went(seller, buyer):
    escrow = standard(seller, buyer, max_delivery=2, delivery_timeline="hours")
    with at(escrow.delivery_window_ends_at + timedelta(minutes=1)):
        services.escrow_claim_funds(escrow=escrow, by=seller)
    notices = told("escrow.completed")
    assert set(notices) == {seller.email, buyer.email}
    theirs = notices[buyer.email]
    assert theirs.subject == "Sam Seller claimed 500.00 USD for “Laptop”: the delivery window passed"
    assert "500.00 USD went to Sam Seller" in theirs.body_text and theirs.category == Category.MONEY
    assert notices[seller.email].subject == "You claimed 500.00 USD for “Laptop”"
    assert "500.00 USD is in your balance" in notices[seller.email].body_text
    mail.outbox = []
    assert {tuple(m.to) for m in emails_of("escrow.completed")} == {(seller.email,), (buyer.email,)}


def test_a_dispute_on_a_standard_escrow_reaches_the_other_party(seller, buyer):
    escrow = make_standard(seller)
    fund(escrow, buyer)
    opened = services.dispute_submit(escrow=escrow, by=buyer, message="It arrived broken")
    asked = told("dispute.opened")[seller.email]
    assert asked.subject.startswith("Bea Buyer opened a dispute on “Laptop”: answer by")
    assert "500.00 USD is frozen" in asked.body_text and asked.action_required
    assert asked.url == f"/escrows/{escrow.public_id}/disputes/{opened.public_id}/"
    services.dispute_submit(escrow=escrow, by=seller, message="It left here working")
    answered = told("dispute.answered")
    assert answered[buyer.email].subject == "Sam Seller contested your dispute on “Laptop”"


def test_a_customer_hears_of_being_blocked_unblocked_and_new_permissions(seller):
    person = UserFactory(email="ada@example.test", first_name="Ada")
    account_services.customer_block(customer=person)
    account_services.customer_block(customer=person)  # again: nothing new to tell
    notices = told("customer.blocked")
    assert set(notices) == {person.email}
    assert notices[person.email].subject == "Your account is blocked"
    assert "Ask them to unblock it." in notices[person.email].body_text
    assert notices[person.email].url == "/accounts/"
    account_services.customer_unblock(customer=person)
    assert told("customer.unblocked")[person.email].subject == "Your account is unblocked"
    staff = UserFactory(email="staff@example.test", is_staff=True)
    account_services.customer_permissions_update(customer=person, can_buy=False, can_sell=None, by=staff)
    changed = told("customer.permissions_changed")[person.email]
    assert changed.subject == "What your account may do changed: you may not pay for escrows as a buyer"
    assert changed.body_text.startswith("An administrator changed what your account may do")
    assert changed.url == "/dashboard/"
    (email,) = emails_of("customer.permissions_changed")
    assert email.to == [person.email]
