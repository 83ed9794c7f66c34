"""A delivery connects to the address its check approved, not to a second lookup of the name: a
name that answers a public address to the check and 127.0.0.1 afterwards (DNS rebinding) never
reaches the local receiver. Over HTTPS the pinned connection still sends the URL's host name
(SNI, Host) and checks the certificate against it."""

import shutil
import ssl
import subprocess

import pytest

from tests.helpers import make_escrow
from tests.webhook_receiver import Receiver
from tests.webhook_resolver import ScriptedResolver
from webhooks import services
from webhooks.models import DeliveryStatus, WebhookDelivery

pytestmark = pytest.mark.django_db

# A public address. Here the attempt's connection to it fails or times out, which is the point:
# what matters is where the request does not go.
PUBLIC = "2606:4700:4700::1111"


@pytest.fixture
def resolver(monkeypatch):
    return ScriptedResolver(monkeypatch)


def test_a_name_rebound_to_loopback_after_the_check_never_reaches_it(
    seller, receiver, resolver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    port = receiver.server.server_address[1]
    resolver.answer("hooks.example.test", [PUBLIC])
    services.webhook_endpoint_create(customer=seller, url=f"http://hooks.example.test:{port}/hooks")

    # The check at send time sees the public address; every later lookup says 127.0.0.1.
    resolver.answer("hooks.example.test", [PUBLIC], ["127.0.0.1"])
    with django_capture_on_commit_callbacks(execute=True):
        make_escrow(seller)

    delivery = WebhookDelivery.objects.get()
    assert receiver.received == []
    assert resolver.count("hooks.example.test") == 2, "one lookup to register, one per attempt"
    assert delivery.last_status_code is None and delivery.last_response == ""
    assert delivery.last_error and not delivery.last_error.startswith("refused:")


def _tls_files(tmp_path, host):
    """A throwaway CA and a certificate for `host` signed by it."""

    def run(*args):
        subprocess.run(["openssl", *args], cwd=tmp_path, check=True, capture_output=True)

    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run(
        "req",
        "-x509",
        *key,
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    )
    run("req", *key, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", f"/CN={host}")
    (tmp_path / "leaf.ext").write_text(
        f"subjectAltName=DNS:{host}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
    )
    run(
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    )
    return tmp_path / "ca.pem", tmp_path / "leaf.pem", tmp_path / "leaf.key"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_https_to_the_pinned_address_checks_the_certificate_against_the_host_name(
    seller, resolver, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    ca, cert, key = _tls_files(tmp_path, "hooks.example.test")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names_asked = []
    context.sni_callback = lambda sock, name, ctx: names_asked.append(name)
    receiver = Receiver()
    receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
    port = receiver.server.server_address[1]
    resolver.answer("hooks.example.test", ["127.0.0.1"])
    resolver.answer("other.example.test", ["127.0.0.1"])
    with receiver:
        services.webhook_endpoint_create(customer=seller, url=f"https://hooks.example.test:{port}/hooks")
        services.webhook_endpoint_create(customer=seller, url=f"https://other.example.test:{port}/hooks")
        with django_capture_on_commit_callbacks(execute=True):
            make_escrow(seller)

    good = WebhookDelivery.objects.get(endpoint__url__contains="hooks.example.test")
    assert good.status == DeliveryStatus.SUCCEEDED, good.last_error
    (request,) = receiver.received
    assert request.headers["Host"] == f"hooks.example.test:{port}"
    assert "hooks.example.test" in names_asked
    # The same address, but the certificate does not name this host: nothing is sent.
    wrong = WebhookDelivery.objects.get(endpoint__url__contains="other.example.test")
    assert wrong.status == DeliveryStatus.PENDING and wrong.last_status_code is None
    assert "certificate is not valid for 'other.example.test'" in wrong.last_error
