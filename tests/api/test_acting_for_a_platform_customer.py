"""`customer-id` lets a platform act only for active customers it created, and only while it is
a platform; anyone else's id, a disabled customer's or one named by a former platform is
answered 404 "Customer not found". The header's spaces are ignored; the session is held to the
same rule."""

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import customer_create_for_platform
from escrows.models import Escrow
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db

INTENT = {"amount": "100.00", "currency": "USD"}


def create_intent(client, **headers):
    return client.post("/v1/payment-intents", INTENT, format="json", **headers)


def assert_customer_not_found(r):
    assert r.status_code == 404, r.json()
    assert r.json()["error"] == {
        "code": "resource_missing",
        "message": "Customer not found",
        "type": "invalid_request_error",
    }


def test_a_platform_cannot_act_for_a_customer_that_was_disabled(platform):
    customer = customer_create_for_platform(platform=platform, email="own@example.test")
    assert create_intent(client_for(platform, customer_id=customer.customer_id)).status_code == 201
    User.objects.filter(pk=customer.pk).update(is_active=False)
    assert_customer_not_found(create_intent(client_for(platform, customer_id=customer.customer_id)))
    assert Escrow.objects.count() == 1


def test_an_account_that_is_no_longer_a_platform_cannot_act_for_the_customers_it_created(platform):
    customer = customer_create_for_platform(platform=platform, email="own@example.test")
    User.objects.filter(pk=platform.pk).update(is_platform=False)
    assert_customer_not_found(create_intent(client_for(platform, customer_id=customer.customer_id)))
    assert not Escrow.objects.exists()


def test_spaces_around_the_customer_id_are_ignored(platform):
    customer = customer_create_for_platform(platform=platform, email="own@example.test")
    r = create_intent(client_for(platform, customer_id=f" {customer.customer_id}  "))
    assert r.status_code == 201, r.json()
    assert Escrow.objects.get(public_id=r.json()["id"]).seller == customer


def test_a_signed_in_platform_acts_for_its_customer_by_the_same_rule(platform, stranger):
    customer = customer_create_for_platform(platform=platform, email="own@example.test")
    client = APIClient()
    client.force_login(platform)
    r = create_intent(client, HTTP_CUSTOMER_ID=customer.customer_id)
    assert r.status_code == 201, r.json()
    assert Escrow.objects.get(public_id=r.json()["id"]).seller == customer
    r = create_intent(client)
    assert Escrow.objects.get(public_id=r.json()["id"]).seller == platform
    assert_customer_not_found(create_intent(client, HTTP_CUSTOMER_ID=stranger.customer_id))
