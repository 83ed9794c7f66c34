"""Webhooks reach public addresses only, and a refusal ends the delivery.

- Registration judges an IPv6 address by the IPv4 address it carries (mapped, compatible,
  translated, NAT64, 6to4, Teredo): one carrying a loopback or private address is refused.
- A delivery connects to the address its check approved: a name that answers a public address
  to the check and 127.0.0.1 to the next lookup (DNS rebinding) never reaches the local receiver.
- A delivery whose address is refused at send time is FAILED on that attempt with the reason in
  its log, and never retried.

Each case runs against a real HTTP receiver on 127.0.0.1 that must receive nothing."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from core.errors import InvalidRequest
from tests.helpers import make_escrow
from tests.reliability import figures
from tests.webhook_resolver import ScriptedResolver
from webhooks import services
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db
SECTION = "money and security defects"
PINNING = "webhook address pinning"
REFUSED = "refused webhook deliveries"
HOST = "hooks.example.test"
PUBLIC_V4 = "93.184.215.14"
# A public address the attempt may really try: here it fails or times out, never answers.
PUBLIC_V6 = "2606:4700:4700::1111"

CARRY_LOOPBACK_OR_PRIVATE = [
    "::ffff:127.0.0.1",
    "::ffff:0:127.0.0.1",
    "::127.0.0.1",
    "::10.0.0.1",
    "64:ff9b::7f00:1",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::a00:1",
    "2002:7f00:1::",
    "2002:c0a8:101::1",
    "2001:0:4136:e378:8000:63bf:80ff:fffe",
]
REFUSED_AT_SEND = ["127.0.0.1", "10.0.0.1", "169.254.169.254", "::1", "::ffff:127.0.0.1", "64:ff9b::7f00:1"]


def _case(name: str, ok: bool) -> bool:
    figures.add(SECTION, f"{name}: cases")
    figures.add(SECTION, f"violations: {name}", 0 if ok else 1)
    return ok


@pytest.fixture
def resolver(monkeypatch, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    return ScriptedResolver(monkeypatch)


def _deliver_once(seller, receiver, resolver, capture, *send_time_answers):
    """Register the receiver's port under HOST (which answers a public address), then let an
    event be delivered while HOST answers `send_time_answers` lookup by lookup."""
    WebhookEndpoint.objects.all().delete()
    port = receiver.server.server_address[1]
    resolver.answer(HOST, [PUBLIC_V4])
    services.webhook_endpoint_create(customer=seller, url=f"http://{HOST}:{port}/hooks")
    resolver.answer(HOST, *send_time_answers)
    lookups_before = resolver.count(HOST)
    with capture(execute=True):
        make_escrow(seller)
    return WebhookDelivery.objects.get(), resolver.count(HOST) - lookups_before


def test_ipv6_addresses_carrying_a_private_ipv4_are_refused_at_registration(seller, resolver):
    bad = []
    for address in CARRY_LOOPBACK_OR_PRIVATE:
        for url, answers in (
            (f"http://[{address}]/hooks", None),
            (f"https://{HOST}/hooks", [PUBLIC_V4, address]),
        ):
            if answers:
                resolver.answer(HOST, answers)
            try:
                services.webhook_endpoint_create(customer=seller, url=url)
                refused = False
            except InvalidRequest as exc:
                refused = exc.message == "url must point to a public internet address"
            if not _case(PINNING, refused):
                bad.append(url if answers is None else f"{url} -> {answers}")
    assert bad == [], f"accepted: {bad}"
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("rebound_to", ["127.0.0.1", "::ffff:127.0.0.1"])
def test_a_name_rebound_to_loopback_after_the_check_is_never_connected_to(
    seller, receiver, resolver, django_capture_on_commit_callbacks, rebound_to
):
    delivery, lookups = _deliver_once(
        seller, receiver, resolver, django_capture_on_commit_callbacks, [PUBLIC_V6], [rebound_to]
    )
    ok = receiver.received == [] and lookups == 1 and delivery.last_status_code is None
    assert _case(PINNING, ok), (receiver.received, lookups, delivery.last_error)


def test_a_send_time_answer_mixing_public_and_loopback_is_refused(
    seller, receiver, resolver, django_capture_on_commit_callbacks
):
    delivery, _ = _deliver_once(
        seller, receiver, resolver, django_capture_on_commit_callbacks, [PUBLIC_V4, "127.0.0.1"]
    )
    ok = receiver.received == [] and delivery.last_error.startswith("refused:")
    assert _case(PINNING, ok), delivery.last_error


def test_a_delivery_refused_at_send_time_fails_at_once_and_is_not_retried(
    seller, receiver, resolver, django_capture_on_commit_callbacks
):
    bad = []
    for address in REFUSED_AT_SEND:
        delivery, _ = _deliver_once(seller, receiver, resolver, django_capture_on_commit_callbacks, [address])
        failed_at_once = (
            (delivery.status, delivery.attempts, delivery.next_attempt_at)
            == (
                DeliveryStatus.FAILED,
                1,
                None,
            )
            and delivery.last_error
            == f"refused: {HOST} resolves to {address}, which is not a public internet address"
        )
        # Even were a retry due, the timers send nothing more.
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=timezone.now() - timedelta(seconds=1)
        )
        call_command("process_due")
        delivery.refresh_from_db()
        ok = failed_at_once and delivery.attempts == 1 and receiver.received == []
        if not _case(REFUSED, ok):
            bad.append((address, delivery.status, delivery.attempts, delivery.last_error))
    assert bad == []
