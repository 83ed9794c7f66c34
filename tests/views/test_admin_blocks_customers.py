"""Staff see on the user list whether a customer may buy, may sell or is blocked, and change it
only through actions that call the same services as the platform's API, so the customer is told."""

from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse

from accounts import services as account_services
from accounts.models import User
from escrows.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def run_action(client, action, people):
    url = reverse("admin:accounts_user_changelist")
    return client.post(url, {"action": action, "_selected_action": [str(p.pk) for p in people]}, follow=True)


def fresh(person):
    return User.objects.get(pk=person.pk)


def test_the_user_list_shows_buying_selling_and_blocked(staff_client, seller, buyer):
    User.objects.filter(pk=buyer.pk).update(can_buy=False)
    account_services.customer_block(customer=seller)
    page = staff_client.get(reverse("admin:accounts_user_changelist")).content.decode()
    for column in ("column-can_buy", "column-can_sell", "column-blocked"):
        assert column in page
    blocked = staff_client.get(reverse("admin:accounts_user_changelist"), {"blocked": "yes"})
    assert seller.email in blocked.content.decode() and buyer.email not in blocked.content.decode()
    form = staff_client.get(reverse("admin:accounts_user_change", args=[buyer.pk])).content.decode()
    assert 'name="can_buy"' not in form and 'name="blocked_at"' not in form  # only the actions change them


def test_block_and_unblock_go_through_the_services(staff_client, admin_user, seller, buyer):
    with mock.patch.object(account_services, "customer_block", wraps=account_services.customer_block) as spy:
        r = run_action(staff_client, "block", [seller, buyer])
    assert spy.call_count == 2 and all(c.kwargs["by"] == admin_user for c in spy.call_args_list)
    assert "2 customers blocked" in r.content.decode()
    assert fresh(seller).is_blocked and fresh(buyer).is_blocked
    event = Event.objects.get(kind="customer.blocked", customer=seller)
    assert event.actor == admin_user
    run_action(staff_client, "unblock", [seller])
    assert not fresh(seller).is_blocked and fresh(buyer).is_blocked
    assert Event.objects.filter(kind="customer.unblocked", customer=seller).count() == 1


def test_buying_and_selling_go_through_the_service(staff_client, admin_user, buyer):
    with mock.patch.object(
        account_services, "customer_permissions_update", wraps=account_services.customer_permissions_update
    ) as spy:
        run_action(staff_client, "forbid_buying", [buyer])
        run_action(staff_client, "forbid_selling", [buyer])
    assert spy.call_count == 2
    assert (fresh(buyer).can_buy, fresh(buyer).can_sell) == (False, False)
    run_action(staff_client, "allow_buying", [buyer])
    assert (fresh(buyer).can_buy, fresh(buyer).can_sell) == (True, False)
    assert Event.objects.filter(kind="customer.permissions_changed", customer=buyer).count() == 3
