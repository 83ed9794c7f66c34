"""A new account confirms its email with a code mailed to it before it is signed in; until an
address is confirmed, nothing sent to it (an invitation to pay) shows on the Buying tab."""

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import User
from escrows import selectors
from tests.factories import UserFactory
from tests.helpers import mailed_code, make_escrow
from tests.views.conftest import client_for

pytestmark = pytest.mark.django_db

NEW = "nora.new@example.test"
SIGN_UP = {
    "email": NEW,
    "first_name": "Nora",
    "last_name": "New",
    "password1": "a-long-pass-phrase-9",
    "password2": "a-long-pass-phrase-9",
}
CONFIRM = reverse("account_email_verification_sent")


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_a_new_account_is_signed_in_only_after_the_mailed_code():
    client = Client()
    response = client.post(reverse("signup"), SIGN_UP)
    assert response.status_code == 302 and response["Location"] == CONFIRM
    assert not _signed_in(client)
    # The dashboard is out of reach meanwhile.
    assert client.get(reverse("dashboard")).status_code == 302

    [message] = mail.outbox
    assert message.to == [NEW] and message.subject.startswith("Milestone Escrow: Your code to confirm")
    page = client.get(CONFIRM).content.decode()
    assert "Confirm your email" in page and NEW in page

    user = User.objects.get(email=NEW)
    assert (user.first_name, user.last_name) == ("Nora", "New")
    assert not EmailAddress.objects.get(user=user).verified

    done = client.post(CONFIRM, {"code": mailed_code(NEW)})
    assert done.status_code == 302 and done["Location"] == reverse("dashboard")
    assert _signed_in(client)
    assert EmailAddress.objects.get(user=user, email=NEW).verified


def test_a_wrong_code_is_refused_in_words_and_signs_no_one_in():
    client = Client()
    client.post(reverse("signup"), SIGN_UP)
    response = client.post(CONFIRM, {"code": "WRONG-CODE"})
    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    assert not _signed_in(client)
    assert not EmailAddress.objects.get(email=NEW).verified


def test_logging_in_with_an_unconfirmed_email_asks_for_a_new_code():
    UserFactory(email=NEW, email_verified=False)
    client = Client()
    response = client.post(reverse("login"), {"login": NEW, "password": "pass-word-123"})
    assert response.status_code == 302 and response["Location"] == CONFIRM
    assert not _signed_in(client)
    assert client.post(CONFIRM, {"code": mailed_code(NEW)})["Location"] == reverse("dashboard")
    assert _signed_in(client)


def test_signing_up_with_a_taken_email_tells_the_visitor_nothing_and_mails_the_owner(seller, settings):
    settings.SITE_URL = "https://escrow.example"
    client = Client()
    response = client.post(reverse("signup"), {**SIGN_UP, "email": seller.email})
    # The same page as for a new address: nobody learns which emails have accounts here ...
    assert response.status_code == 302 and response["Location"] == CONFIRM
    assert not _signed_in(client)
    assert User.objects.filter(email=seller.email).count() == 1
    # ... and the owner hears of it.
    [message] = mail.outbox
    assert message.to == [seller.email] and "already have an account" in message.subject
    assert "https://escrow.example/accounts/password/reset/" in message.body


def test_an_invitation_shows_on_the_buying_tab_only_once_its_address_is_confirmed(seller):
    escrow = make_escrow(seller, buyer_email=NEW, title="Garden redesign")
    user = UserFactory(email=NEW, email_verified=False)
    assert list(selectors.escrows_for_user(user, role="buying", with_invitations=True)) == []
    page = client_for(user).get(reverse("dashboard") + "?tab=buying").content.decode()
    assert "Garden redesign" not in page

    EmailAddress.objects.filter(user=user).update(verified=True)
    assert list(selectors.escrows_for_user(user, role="buying", with_invitations=True)) == [escrow]
    page = client_for(user).get(reverse("dashboard") + "?tab=buying").content.decode()
    assert "Garden redesign" in page


def test_a_confirmed_other_address_does_not_reveal_invitations_to_the_unconfirmed_one(seller):
    make_escrow(seller, buyer_email=NEW)
    user = UserFactory(email=NEW, email_verified=False)
    EmailAddress.objects.create(user=user, email="nora.other@example.test", verified=True)
    assert list(selectors.escrows_for_user(user, role="buying", with_invitations=True)) == []
