"""A buyer named by email on an escrow's terms: the address is checked and kept without case;
the seller may email them the invitation again, only while it waits for their payment and not
too often."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import Forbidden, InvalidRequest, InvalidState, NotFound
from escrows import services
from escrows.models import INVITATION_RESENDS_MAX, Escrow, Event
from tests.factories import UserFactory
from tests.helpers import fund, make_escrow, refresh

pytestmark = pytest.mark.django_db

PAT = "pat@example.test"


def age_invitations(escrow, minutes):
    Event.objects.filter(escrow=escrow).update(created_at=timezone.now() - timedelta(minutes=minutes))


# -- the email on the terms ----------------------------------------------------------------------


def test_the_buyer_email_is_kept_without_case_or_spaces(seller):
    escrow = make_escrow(seller, buyer_email="  Pat@Example.TEST ")
    assert refresh(escrow).buyer_email == PAT


@pytest.mark.parametrize("email", ["not-an-email", "pat@", "@example.test", "pat example@example.test"])
def test_a_buyer_email_that_is_not_an_address_is_refused(seller, email):
    with pytest.raises(InvalidRequest) as exc:
        make_escrow(seller, buyer_email=email)
    assert exc.value.field == "buyerEmail"
    assert Escrow.objects.count() == 0


def test_an_overlong_buyer_email_is_refused_before_the_database(seller):
    with pytest.raises(InvalidRequest):
        make_escrow(seller, buyer_email="p" * 64 + "@" + "d" * 63 + "." + "e" * 63 + "." + "f" * 63 + ".test")


# -- sending the invitation again --------------------------------------------------------------


def test_the_seller_may_email_the_invitation_again_once_some_time_has_passed(seller):
    escrow = make_escrow(seller, buyer_email=PAT)
    with pytest.raises(InvalidState, match="less than 10 minutes ago"):
        services.escrow_invitation_resend(escrow=escrow, by=seller)
    age_invitations(escrow, 11)
    event = services.escrow_invitation_resend(escrow=escrow, by=seller)
    assert event.kind == "escrow.invitation_resent"
    assert event.details == {"buyerEmail": PAT}
    assert event.actor_id == seller.pk
    with pytest.raises(InvalidState, match="less than 10 minutes ago"):
        services.escrow_invitation_resend(escrow=escrow, by=seller)


def test_the_invitation_goes_out_again_a_limited_number_of_times(seller):
    escrow = make_escrow(seller, buyer_email=PAT)
    for _ in range(INVITATION_RESENDS_MAX):
        age_invitations(escrow, 11)
        services.escrow_invitation_resend(escrow=escrow, by=seller)
    age_invitations(escrow, 11)
    with pytest.raises(InvalidState, match=f"already sent again {INVITATION_RESENDS_MAX} times"):
        services.escrow_invitation_resend(escrow=escrow, by=seller)
    assert (
        Event.objects.filter(escrow=escrow, kind="escrow.invitation_resent").count() == INVITATION_RESENDS_MAX
    )


def test_only_the_seller_sends_it(seller, buyer, stranger):
    escrow = make_escrow(seller, buyer_email=PAT)
    age_invitations(escrow, 11)
    with pytest.raises(NotFound):
        services.escrow_invitation_resend(escrow=escrow, by=stranger)
    with pytest.raises(NotFound):
        services.escrow_invitation_resend(escrow=escrow, by=UserFactory(email=PAT))
    named = make_escrow(seller, buyer=buyer)
    with pytest.raises(Forbidden):
        services.escrow_invitation_resend(escrow=named, by=buyer)


def test_only_while_awaiting_payment_with_a_buyer_email(seller):
    age = 11
    no_email = make_escrow(seller)
    age_invitations(no_email, age)
    with pytest.raises(InvalidState, match="names no buyer email"):
        services.escrow_invitation_resend(escrow=no_email, by=seller)
    paid = make_escrow(seller, buyer_email=PAT)
    fund(paid, UserFactory(email=PAT))
    age_invitations(paid, age)
    with pytest.raises(InvalidState, match="awaiting payment"):
        services.escrow_invitation_resend(escrow=paid, by=seller)
    expired = make_escrow(seller, buyer_email=PAT)
    Escrow.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    age_invitations(expired, age)
    with pytest.raises(InvalidState, match="awaiting payment"):
        services.escrow_invitation_resend(escrow=expired, by=seller)
    assert not Event.objects.filter(kind="escrow.invitation_resent").exists()
