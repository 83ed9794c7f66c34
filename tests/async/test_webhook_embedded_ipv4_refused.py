"""IPv6 addresses that carry an IPv4 address (mapped, compatible, translated, NAT64, 6to4,
Teredo) are judged by the IPv4 address they carry: a loopback or private one inside is refused at
registration, by the API and the page alike, while one carrying a public address is accepted."""

import pytest
from django.urls import reverse

from tests.api.conftest import client_for
from tests.webhook_resolver import ScriptedResolver
from webhooks import services
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db

CARRY_LOOPBACK_OR_PRIVATE = [
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:7f00:1",  # IPv4-mapped, hex
    "::ffff:169.254.169.254",  # IPv4-mapped cloud metadata
    "::ffff:0:127.0.0.1",  # IPv4-translated
    "::127.0.0.1",  # IPv4-compatible
    "::10.0.0.1",
    "64:ff9b::7f00:1",  # NAT64
    "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::a00:1",  # NAT64 for local use
    "2002:7f00:1::",  # 6to4
    "2002:c0a8:101::1",
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
]
CARRY_PUBLIC = ["::ffff:93.184.215.14", "64:ff9b::5db8:d70e", "2002:5db8:d70e::1"]


@pytest.fixture(autouse=True)
def _public_urls_only(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False


@pytest.mark.parametrize("address", CARRY_LOOPBACK_OR_PRIVATE)
def test_the_api_refuses_an_ipv6_address_carrying_a_private_one(seller, address):
    r = client_for(seller).post("/v1/webhooks", {"url": f"http://[{address}]/hooks"}, format="json")
    assert r.status_code == 400, r.json()
    assert r.json()["error"]["message"] == "url must point to a public internet address"
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("address", CARRY_LOOPBACK_OR_PRIVATE)
def test_the_page_refuses_an_ipv6_address_carrying_a_private_one(client, seller, address):
    client.force_login(seller)
    r = client.post(reverse("webhooks"), {"url": f"http://[{address}]:8080/hooks"})
    assert r.status_code == 400
    assert (
        "Enter an address on the public internet: webhooks never go to private networks."
        in r.content.decode()
    )
    assert not WebhookEndpoint.objects.exists()


def test_a_name_resolving_to_one_of_them_among_public_addresses_is_refused(seller, monkeypatch):
    resolver = ScriptedResolver(monkeypatch)
    for address in CARRY_LOOPBACK_OR_PRIVATE:
        resolver.answer("hooks.example.test", ["93.184.215.14", address])
        with pytest.raises(services.InvalidRequest, match="public internet address"):
            services.webhook_endpoint_create(customer=seller, url="https://hooks.example.test/hooks")
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("address", CARRY_PUBLIC)
def test_an_ipv6_address_carrying_a_public_one_is_accepted(seller, address):
    services.webhook_endpoint_create(customer=seller, url=f"https://[{address}]/hooks")
    assert WebhookEndpoint.objects.count() == 1
