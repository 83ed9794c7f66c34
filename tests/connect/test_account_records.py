"""What a person's connected Stripe account records as it changes: its creation, by the person,
naming the account; each change Stripe tells us (payouts on or off, the status in words, what
Stripe still asks for) with whether payouts were on before, which decides what the person is
told; Connect switched off said in words on the balance page; and the status kept in a
transaction of its own."""

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from escrows import services
from escrows.models import Event, StripeAccount
from tests.connect.conftest import onboard
from tests.notifications.helpers import told
from tests.stripe_fake import deliver

pytestmark = pytest.mark.django_db

CONNECT_OFF = "Payouts through Stripe are not switched on here"


def test_connecting_records_the_account_created_by_the_person(stripe_connect_fake, seller):
    onboard(seller)

    account_id = StripeAccount.objects.get(customer=seller).account_id
    [record] = Event.objects.filter(kind="stripe_account.created")
    assert record.details == {"account": account_id}
    assert (record.customer, record.actor, record.actor_kind) == (seller, seller, "user")


def test_stripe_checking_details_records_that_payouts_were_never_on(client, stripe_connect_fake, seller):
    onboard(seller)
    account_id = StripeAccount.objects.get().account_id
    # The person sent Stripe everything; Stripe checks it before it pays out.
    account = stripe_connect_fake.accounts[account_id]
    account["details_submitted"] = True
    account["requirements"].update(currently_due=[], eventually_due=[], past_due=[], disabled_reason=None)
    event = stripe_connect_fake._emit("account.updated", account)

    assert deliver(client, stripe_connect_fake, event).status_code == 200

    [record] = Event.objects.filter(kind="stripe_account.updated")
    assert record.details == {
        "account": account_id,
        "payoutsEnabled": False,
        "payoutsEnabledBefore": False,
        "status": "Stripe is checking your details; payouts start once it has",
        "requirementsDue": [],
    }
    notice = told("stripe_account.updated")["seller@example.test"]
    assert notice.subject == "Stripe needs more details before it can pay you"
    assert notice.body_text.startswith("Stripe is checking your details; payouts start once it has. Open")
    assert "Until then" not in notice.body_text


def test_stripe_stopping_payouts_records_what_it_asks_for(client, stripe_connect_fake, connected_seller):
    event = stripe_connect_fake.require_more(connected_seller.account_id, "individual.verification.document")

    assert deliver(client, stripe_connect_fake, event).status_code == 200

    [record] = Event.objects.filter(kind="stripe_account.updated", details__payoutsEnabledBefore=True)
    assert record.details == {
        "account": connected_seller.account_id,
        "payoutsEnabled": False,
        "payoutsEnabledBefore": True,
        "status": "Stripe needs more details before it can pay you out",
        "requirementsDue": ["individual.verification.document"],
    }
    assert record.customer == connected_seller.customer


@pytest.mark.parametrize("view", ["balance_stripe_connect", "balance_stripe_return"])
def test_with_connect_off_the_balance_page_says_so(stripe_connect_fake, seller, settings, view):
    onboard(seller)
    settings.STRIPE_CONNECT = False
    client = Client()
    client.force_login(seller)

    ask = client.post if view == "balance_stripe_connect" else client.get
    response = ask(reverse(view), follow=True)

    assert response.redirect_chain == [(reverse("balance"), 302)]
    assert [str(m) for m in response.context["messages"]] == [CONNECT_OFF]
    assert CONNECT_OFF in response.content.decode()


def test_the_status_from_stripe_is_kept_in_a_transaction_of_its_own(stripe_connect_fake, connected_seller):
    seller = connected_seller.customer
    stripe_connect_fake.require_more(connected_seller.account_id, "individual.verification.document")

    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        services.stripe_account_refresh(customer=seller)

    assert StripeAccount.objects.get(pk=connected_seller.pk).payouts_enabled
