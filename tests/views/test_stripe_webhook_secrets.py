"""Stripe signs the platform's own events and its connected accounts' events at two endpoints,
each with its own secret: the webhook accepts an event signed with either, and nothing else."""

import pytest

from escrows.models import StripeEvent
from tests.stripe_fake import deliver

pytestmark = pytest.mark.django_db


def an_event(kind="account.updated"):
    return {
        "id": "evt_connect_1",
        "object": "event",
        "type": kind,
        "account": "acct_unknown",
        "data": {"object": {"id": "acct_unknown", "object": "account"}},
    }


def test_an_event_signed_with_the_connect_endpoints_secret_is_accepted(client, settings, stripe_fake):
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = "whsec_connect"
    answer = deliver(client, stripe_fake, an_event(), secret="whsec_connect")
    assert answer.status_code == 200, answer.content
    assert StripeEvent.objects.filter(event_id="evt_connect_1").exists()


def test_the_platform_endpoints_secret_still_works_beside_it(client, settings, stripe_fake):
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = "whsec_connect"
    assert deliver(client, stripe_fake, an_event()).status_code == 200


def test_a_secret_of_neither_endpoint_is_refused(client, settings, stripe_fake):
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = "whsec_connect"
    answer = deliver(client, stripe_fake, an_event(), secret="whsec_someone_else")
    assert answer.status_code == 400
    assert "does not match" in answer.json()["error"]
    assert not StripeEvent.objects.exists()


def test_the_connect_secret_alone_takes_only_its_own_events(client, settings, stripe_fake):
    settings.STRIPE_WEBHOOK_SECRET = ""
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = "whsec_connect"
    assert deliver(client, stripe_fake, an_event(), secret="whsec_connect").status_code == 200
    assert deliver(client, stripe_fake, {**an_event(), "id": "evt_2"}).status_code == 400


def test_with_no_secret_set_every_event_is_refused(client, settings, stripe_fake):
    settings.STRIPE_WEBHOOK_SECRET = ""
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = ""
    answer = deliver(client, stripe_fake, an_event())
    assert answer.status_code == 400
    assert answer.json()["error"] == "Stripe webhooks are not configured here"
