"""The escrow waiting for a buyer named by email is on their Buying tab at once (signed up before
or after it was created), "awaiting your payment" with its payment link; nobody else ever sees it
there. The seller's escrow page offers to email the invitation again when the service would."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from escrows import selectors, services
from escrows.models import Escrow, Event
from tests.factories import UserFactory
from tests.helpers import fund, make_escrow, refresh
from tests.views.conftest import client_for

pytestmark = pytest.mark.django_db

PAT = "pat@example.test"


def buying(user):
    return list(selectors.escrows_for_user(user, role="buying", with_invitations=True))


def age_invitations(escrow, minutes):
    Event.objects.filter(escrow=escrow).update(created_at=timezone.now() - timedelta(minutes=minutes))


# -- the Buying list ---------------------------------------------------------------------------


def test_a_signed_up_buyer_sees_the_escrow_named_for_their_email_at_once(seller):
    pat = UserFactory(email=PAT)
    escrow = make_escrow(seller, buyer_email="Pat@example.test")
    assert buying(pat) == [escrow]


def test_signing_up_after_the_invitation_finds_it_waiting(seller):
    escrow = make_escrow(seller, buyer_email=PAT)
    pat = UserFactory(email=PAT)
    assert buying(pat) == [escrow]


def test_a_stranger_and_the_seller_never_see_an_invitation_to_someone_else(seller, stranger):
    make_escrow(seller, buyer_email=PAT)
    assert buying(stranger) == []
    assert buying(seller) == []
    # The API's lists (no invitations asked for) stay what the customer is a party to.
    pat = UserFactory(email=PAT)
    assert list(selectors.escrows_for_user(pat, role="buying")) == []


def test_every_invitation_listed_is_one_the_reserved_buyer_rule_lets_them_pay(seller, stranger):
    pat = UserFactory(email=PAT)
    make_escrow(seller, buyer_email=PAT)
    make_escrow(seller, buyer_email=PAT.upper())
    make_escrow(seller, buyer_email="sam@example.test")
    make_escrow(seller)
    make_escrow(seller, buyer=stranger, buyer_email=PAT)
    for user in (pat, stranger, seller):
        for escrow in Escrow.objects.all():
            listed = escrow in buying(user)
            if escrow.buyer_id is None and escrow.party_role(user) is None:
                # An invitation is listed exactly when the escrow names a buyer email and that
                # rule does not turn this user away.
                assert listed == (bool(escrow.buyer_email) and not escrow.reserved_for_other(user))


def test_once_paid_by_its_buyer_it_is_theirs_and_no_longer_an_invitation(seller):
    pat = UserFactory(email=PAT)
    escrow = make_escrow(seller, buyer_email=PAT)
    fund(escrow, pat)
    assert buying(pat) == [escrow]
    assert refresh(escrow).buyer_id == pat.pk


def test_a_cancelled_or_expired_invitation_leaves_the_list(seller):
    pat = UserFactory(email=PAT)
    cancelled = make_escrow(seller, buyer_email=PAT)
    services.escrow_cancel(escrow=cancelled, by=seller)
    expired = make_escrow(seller, buyer_email=PAT)
    Escrow.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert buying(pat) == []


def test_the_dashboard_labels_it_awaiting_your_payment_with_the_pay_link(seller):
    pat = UserFactory(email=PAT)
    escrow = make_escrow(seller, buyer_email=PAT, title="Logo design")
    html = client_for(pat).get(reverse("dashboard"), {"tab": "buying"}).content.decode()
    assert "Logo design" in html
    assert "Awaiting your payment" in html
    assert reverse("pay", args=[escrow.payment_token]) in html
    assert reverse("escrow_detail", args=[escrow.public_id]) not in html
    # The seller's row is the usual one: their escrow page, its status.
    html = client_for(seller).get(reverse("dashboard")).content.decode()
    assert reverse("escrow_detail", args=[escrow.public_id]) in html
    assert "Awaiting your payment" not in html


def test_a_strangers_dashboard_shows_nothing_of_it(seller, stranger):
    escrow = make_escrow(seller, buyer_email=PAT, title="Logo design")
    html = client_for(stranger).get(reverse("dashboard"), {"tab": "buying"}).content.decode()
    assert "Logo design" not in html and escrow.payment_token not in html


def test_the_invited_buyer_pays_from_the_link_and_the_row_then_opens_the_escrow(seller):
    pat = UserFactory(email=PAT)
    escrow = make_escrow(seller, buyer_email=PAT)
    fund(escrow, pat)
    html = client_for(pat).get(reverse("dashboard"), {"tab": "buying"}).content.decode()
    assert reverse("escrow_detail", args=[escrow.public_id]) in html
    assert "Awaiting your payment" not in html


# -- the button


def test_the_escrow_page_offers_the_button_when_the_service_would_send(seller):
    seller_client = client_for(seller)
    escrow = make_escrow(seller, buyer_email=PAT)
    url = reverse("escrow_detail", args=[escrow.public_id])
    html = seller_client.get(url).content.decode()
    assert 'data-action="resend-invitation"' not in html
    assert "less than 10 minutes ago" in html
    age_invitations(escrow, 11)
    html = seller_client.get(url).content.decode()
    assert 'data-action="resend-invitation"' in html
    assert reverse("escrow_invitation_resend", args=[escrow.public_id]) in html


def test_the_button_posts_with_csrf_and_reports_back(seller):
    escrow = make_escrow(seller, buyer_email=PAT)
    age_invitations(escrow, 11)
    url = reverse("escrow_invitation_resend", args=[escrow.public_id])
    client = client_for(seller)
    client.handler.enforce_csrf_checks = True
    assert client.post(url).status_code == 403
    assert not Event.objects.filter(kind="escrow.invitation_resent").exists()
    client = client_for(seller)
    assert client.get(url).status_code == 405
    r = client.post(url, follow=True)
    assert f"The payment link is on its way to {PAT} again." in r.content.decode()
    assert Event.objects.filter(escrow=escrow, kind="escrow.invitation_resent").count() == 1
    r = client.post(url, follow=True)
    assert "less than 10 minutes ago" in r.content.decode()
    assert Event.objects.filter(escrow=escrow, kind="escrow.invitation_resent").count() == 1


def test_a_stranger_posting_it_gets_a_404(seller, stranger):
    stranger_client = client_for(stranger)
    escrow = make_escrow(seller, buyer_email=PAT)
    age_invitations(escrow, 11)
    r = stranger_client.post(reverse("escrow_invitation_resend", args=[escrow.public_id]))
    assert r.status_code == 404
    assert not Event.objects.filter(kind="escrow.invitation_resent").exists()
