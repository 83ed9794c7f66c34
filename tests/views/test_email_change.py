"""A person changes their email: a code goes to the new address, which replaces the old one
(for logging in, and for invitations to pay) only once the code is entered; the old address hears
of the change. The change asks for the password again unless it was confirmed in the last minutes."""

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import User
from escrows import selectors
from tests.helpers import mailed_code, make_escrow
from tests.views.conftest import client_for

pytestmark = pytest.mark.django_db

NEW = "sam.new@example.test"
EMAIL = reverse("account_email")
CONFIRM = reverse("account_email_verification_sent")


def password_given_just_now(user) -> Client:
    """Signed in, and the password confirmed on the "Confirm it's you" page a moment ago."""
    client = client_for(user)
    response = client.post(reverse("account_reauthenticate"), {"password": "pass-word-123"})
    assert response.status_code == 302
    return client


def test_the_new_address_replaces_the_old_once_its_code_is_entered(seller, buyer):
    invitation = make_escrow(buyer, buyer_email=NEW, title="Kitchen tiles")
    client = password_given_just_now(seller)
    page = client.get(EMAIL).content.decode()
    assert "Change your email" in page and seller.email in page

    response = client.post(EMAIL, {"action_add": "", "email": "Sam.New@Example.test"})
    assert response.status_code == 302 and response["Location"] == CONFIRM
    # Nothing changes before the code: the old email still logs in, the invitation stays hidden.
    assert User.objects.get(pk=seller.pk).email == seller.email
    assert list(selectors.escrows_for_user(seller, role="buying", with_invitations=True)) == []
    assert NEW in client.get(CONFIRM).content.decode()

    done = client.post(CONFIRM, {"code": mailed_code(NEW)})
    assert done.status_code == 302
    user = User.objects.get(pk=seller.pk)
    assert user.email == NEW
    assert list(EmailAddress.objects.filter(user=user).values_list("email", "verified", "primary")) == [
        (NEW, True, True)
    ]
    assert list(selectors.escrows_for_user(user, role="buying", with_invitations=True)) == [invitation]

    # The old address is told, in case it was not them.
    [notice] = [m for m in mail.outbox if m.to == [seller.email]]
    assert "email" in notice.subject.lower() and NEW in notice.body
    # Logging in takes the new address from now on.
    assert Client().post(reverse("login"), {"login": NEW, "password": "pass-word-123"}).status_code == 302
    old = Client().post(reverse("login"), {"login": seller.email, "password": "pass-word-123"})
    assert old.status_code == 200


def test_an_address_another_account_uses_is_not_taken_over(seller, buyer):
    client = password_given_just_now(seller)
    client.post(EMAIL, {"action_add": "", "email": buyer.email})
    # Whatever the page says, the buyer's address stays the buyer's and the seller keeps theirs.
    assert User.objects.get(pk=seller.pk).email == seller.email
    assert not EmailAddress.objects.filter(user=seller, email=buyer.email, verified=True).exists()


def test_a_change_asks_for_the_password_first(seller):
    client = client_for(seller)  # signed in, the password not confirmed lately
    response = client.post(EMAIL, {"action_add": "", "email": NEW})
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_reauthenticate"))
    assert mail.outbox == []
    page = client.get(response["Location"]).content.decode()
    assert "Confirm it&#x27;s you" in page or "Confirm it's you" in page
    resumed = client.post(response["Location"], {"password": "pass-word-123"})
    assert resumed.status_code == 302
    assert mailed_code(NEW)
