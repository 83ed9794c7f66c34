"""Each format signs the body its provider's way, with the endpoint's own secret, and carries only
its own signature: Payluk's x-payluk-signature (HMAC-SHA512), Finternet's finternet-signature
(HMAC-SHA256), both lowercase hex of the exact body; ours keeps Escrow-Signature."""

import hashlib
import hmac

import pytest

from tests.helpers import make_escrow
from webhooks import formats, services, signing
from webhooks.models import WebhookDelivery
from webhooks.signing import FINTERNET_HEADER, HEADER, PAYLUK_HEADER

SECRET = "whsec_format_secret"
BODY = '{"event":"escrow.created","data":{"purpose":"Café"},"timestamp":"2026-01-01T00:00:00Z"}'.encode()


def test_payluk_signature_is_hex_hmac_sha512_of_the_exact_body():
    expected = hmac.new(SECRET.encode(), BODY, hashlib.sha512).hexdigest()
    assert signing.payluk_signature(SECRET, BODY) == expected
    assert len(expected) == 128 and expected == expected.lower()
    assert signing.payluk_signature("whsec_other", BODY) != expected
    assert signing.payluk_signature(SECRET, BODY + b" ") != expected


def test_finternet_signature_is_hex_hmac_sha256_of_the_exact_body():
    expected = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert signing.finternet_signature(SECRET, BODY) == expected
    assert len(expected) == 64 and expected == expected.lower()
    assert signing.finternet_signature("whsec_other", BODY) != expected
    assert signing.finternet_signature(SECRET, BODY.replace(b"Caf", b"caf")) != expected


def test_the_header_names_are_the_providers():
    assert (PAYLUK_HEADER, FINTERNET_HEADER, HEADER) == (
        "x-payluk-signature",
        "finternet-signature",
        "Escrow-Signature",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("format", "header", "algorithm"),
    [("payluk", PAYLUK_HEADER, hashlib.sha512), ("finternet", FINTERNET_HEADER, hashlib.sha256)],
)
def test_a_provider_format_sends_its_signature_alone(seller, format, header, algorithm):
    endpoint = services.webhook_endpoint_create(customer=seller, url="http://127.0.0.1:9/h", format=format)
    make_escrow(seller)
    services.events_dispatch()
    delivery = WebhookDelivery.objects.select_related("event").get()
    body = delivery.payload.encode()
    sent = formats.headers(format, secret=endpoint.secret, body=body, delivery=delivery, attempt=2)
    assert sent[header] == hmac.new(endpoint.secret.encode(), body, algorithm).hexdigest()
    assert {PAYLUK_HEADER, FINTERNET_HEADER, HEADER} & set(sent) == {header}
    assert (sent["Content-Type"], sent["User-Agent"]) == ("application/json", formats.USER_AGENT)
    assert (sent["Escrow-Event-Type"], sent["Escrow-Delivery-Attempt"]) == (delivery.event_type, "2")


@pytest.mark.django_db
def test_a_native_endpoint_keeps_its_timestamped_signature(seller):
    endpoint = services.webhook_endpoint_create(customer=seller, url="http://127.0.0.1:9/h")
    assert endpoint.format == "native"
    make_escrow(seller)
    services.events_dispatch()
    delivery = WebhookDelivery.objects.select_related("event").get()
    body = delivery.payload.encode()
    sent = formats.headers("native", secret=endpoint.secret, body=body, delivery=delivery, attempt=1)
    assert signing.verify(body, sent[HEADER], endpoint.secret)
    assert {PAYLUK_HEADER, FINTERNET_HEADER} & set(sent) == set()
    assert delivery.event_type == "escrow.created"
