"""Connecting a Stripe Express account: one account per person however often they click, a fresh
onboarding link each time, and its status kept from what Stripe says, on the person's return
and by account.updated (applied once), with the person told when payouts start or stop."""

import pytest

from core.errors import InvalidState
from escrows import services
from escrows.models import Event, StripeAccount, StripeEvent
from tests.connect.conftest import REFRESH_URL, RETURN_URL, onboard, posts
from tests.notifications.helpers import nobody_told, told
from tests.stripe_connect_fake import ONBOARDING_DUE
from tests.stripe_fake import deliver

pytestmark = pytest.mark.django_db


def test_connecting_creates_one_express_account_and_sends_the_person_to_its_onboarding(
    stripe_connect_fake, seller
):
    url = onboard(seller)

    [account] = stripe_connect_fake.accounts.values()
    assert (account["type"], account["email"]) == ("express", "seller@example.test")
    assert account["capabilities"] == {"transfers": "inactive"}
    assert account["metadata"] == {"customer": seller.customer_id}
    [(_, headers)] = posts(stripe_connect_fake, "/v1/accounts")
    assert headers["idempotency-key"] == f"stripe-account-{seller.customer_id}"
    [link] = stripe_connect_fake.account_links
    assert url == link["url"] and url.startswith(f"https://connect.stripe.com/setup/e/{account['id']}/")
    assert (link["account"], link["type"]) == (account["id"], "account_onboarding")
    assert (link["refresh_url"], link["return_url"]) == (REFRESH_URL, RETURN_URL)

    row = StripeAccount.objects.get(customer=seller)
    assert row.account_id == account["id"]
    assert (row.details_submitted, row.charges_enabled, row.payouts_enabled) == (False, False, False)
    assert row.requirements_due == ONBOARDING_DUE
    assert row.status_words == "Stripe needs more details: finish setting up your account with Stripe"
    assert Event.objects.filter(kind="stripe_account.created", customer=seller).count() == 1


def test_connecting_again_continues_the_same_account_with_a_new_link(stripe_connect_fake, seller):
    first = onboard(seller)
    again = onboard(seller)

    assert len(stripe_connect_fake.accounts) == 1
    assert len(posts(stripe_connect_fake, "/v1/accounts")) == 1
    assert again != first and len(stripe_connect_fake.account_links) == 2
    assert StripeAccount.objects.filter(customer=seller).count() == 1


def test_two_people_get_two_accounts(stripe_connect_fake, seller, buyer):
    onboard(seller)
    onboard(buyer)
    assert len(stripe_connect_fake.accounts) == 2
    assert StripeAccount.objects.values_list("customer", flat=True).distinct().count() == 2


def test_connecting_is_refused_while_connect_is_off(stripe_connect_fake, seller, settings):
    settings.STRIPE_CONNECT = False
    with pytest.raises(InvalidState) as refused:
        onboard(seller)
    assert refused.value.code == "stripe_connect_off"
    assert stripe_connect_fake.requests == []
    assert not StripeAccount.objects.exists()


def test_the_status_is_read_from_stripe_when_the_person_comes_back(stripe_connect_fake, seller):
    onboard(seller)
    account_id = StripeAccount.objects.get().account_id
    # Back before finishing: nothing changed, nobody is told anything new.
    still = services.stripe_account_refresh(customer=seller)
    assert still is not None and not still.payouts_enabled
    assert not Event.objects.filter(kind="stripe_account.updated").exists()

    stripe_connect_fake.complete_onboarding(account_id)
    account = services.stripe_account_refresh(customer=seller)

    assert account is not None
    assert (account.details_submitted, account.charges_enabled, account.payouts_enabled) == (True, True, True)
    assert (account.requirements_due, account.disabled_reason) == ([], "")
    assert account.status_words == "Payouts enabled"
    [notice] = told("stripe_account.updated").values()
    assert notice.recipient == seller
    assert notice.subject == "Payouts to your Stripe account are on"
    assert notice.url == "/balance/"


def test_coming_back_without_an_account_asks_stripe_nothing(stripe_connect_fake, seller):
    assert services.stripe_account_refresh(customer=seller) is None
    assert stripe_connect_fake.requests == []


def test_account_updated_keeps_the_status_once_however_often_it_comes(client, stripe_connect_fake, seller):
    onboard(seller)
    account_id = StripeAccount.objects.get().account_id
    event = stripe_connect_fake.complete_onboarding(account_id)

    first = deliver(client, stripe_connect_fake, event)
    second = deliver(client, stripe_connect_fake, event)

    assert (first.status_code, first.json()) == (200, {"received": True, "duplicate": False})
    assert (second.status_code, second.json()) == (200, {"received": True, "duplicate": True})
    account = StripeAccount.objects.get()
    assert account.payouts_enabled and account.requirements_due == []
    assert Event.objects.filter(kind="stripe_account.updated").count() == 1
    assert StripeEvent.objects.filter(event_id=event["id"], kind="account.updated").count() == 1
    [notice] = told("stripe_account.updated").values()
    assert notice.subject == "Payouts to your Stripe account are on"


def test_stripe_stopping_payouts_tells_the_person_what_to_do(client, stripe_connect_fake, connected_seller):
    event = stripe_connect_fake.require_more(connected_seller.account_id, "individual.verification.document")

    assert deliver(client, stripe_connect_fake, event).status_code == 200

    account = StripeAccount.objects.get()
    assert not account.payouts_enabled
    assert account.requirements_due == ["individual.verification.document"]
    assert account.disabled_reason == "requirements.past_due"
    assert account.status_words == "Stripe needs more details before it can pay you out"
    notice = told("stripe_account.updated")["seller@example.test"]
    assert notice.subject == "Stripe has stopped payouts to your account: it needs more details"
    assert "Until then your money stays in your balance here." in notice.body_text
    assert notice.action_required


def test_account_updated_for_an_account_not_ours_changes_nothing(client, stripe_connect_fake, seller):
    stripe_connect_fake._account_create({"type": "express"})
    [foreign] = stripe_connect_fake.accounts
    event = stripe_connect_fake.complete_onboarding(foreign)

    answer = deliver(client, stripe_connect_fake, event)

    assert (answer.status_code, answer.json()["duplicate"]) == (200, False)
    assert not StripeAccount.objects.exists()
    assert nobody_told("stripe_account.updated")
