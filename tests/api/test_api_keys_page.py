"""The API keys page, the operator commands, and the OpenAPI schema and docs."""

import io
import re

import pytest
import yaml
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import APIKey, User
from escrows.models import Escrow, EscrowStatus
from tests.helpers import assert_ledger_invariants

pytestmark = pytest.mark.django_db


def test_page_requires_login(client, settings):
    settings.LOGIN_URL = "/login-here/"  # the login page itself belongs to the accounts pages
    r = client.get(reverse("api_keys"))
    assert r.status_code == 302 and r["Location"].startswith("/login-here/")


def test_create_shows_the_key_once_then_lists_and_revokes(client, seller):
    client.force_login(seller)
    r = client.post(reverse("api_keys"), {"name": "Backend"})
    # POST, then a redirect: reloading the page that shows the key creates nothing.
    assert r.status_code == 302 and r["Location"] == reverse("api_keys")
    assert r.cookies["new_api_key"]["httponly"] and r.cookies["new_api_key"]["samesite"] == "Strict"
    r = client.get(r["Location"])
    key = r.context["new_key"]
    html = r.content.decode()
    assert key.startswith("sk_test_") and f'value="{key}"' in html
    assert 'data-copy="#new-key"' in html and "readonly" in html  # copy button; selectable text without JS
    assert r["Cache-Control"] == "no-store"
    reload = client.get(reverse("api_keys"))
    listing = reload.content.decode()
    assert reload.context["new_key"] is None and key not in listing
    assert "Backend" in listing and "never" in listing
    assert APIKey.objects.filter(user=seller).count() == 1
    api_key = APIKey.objects.get(user=seller)
    # The key works until revoked.
    api = APIClient(HTTP_X_API_KEY=key)
    assert api.get("/v1/payment-intents/intent_x").status_code == 404
    assert "ago" in client.get(reverse("api_keys")).content.decode()
    revoke = reverse("api_key_revoke", args=[api_key.prefix])
    # Revoking asks first: the page links to a confirmation (a dialog with JavaScript).
    assert f'href="{revoke}"' in listing and f'data-confirm-open="confirm-revoke-{api_key.prefix}"' in listing
    confirm = client.get(revoke)
    assert confirm.status_code == 200 and "Revoke “Backend”" in confirm.content.decode()
    assert not APIKey.objects.get(pk=api_key.pk).revoked
    r = client.post(revoke, follow=True)
    assert "revoked" in r.content.decode()
    assert APIKey.objects.get(pk=api_key.pk).revoked
    assert api.get("/v1/payment-intents/intent_x").status_code == 401
    assert client.get(revoke)["Location"] == reverse("api_keys"), "nothing left to confirm"


def test_reloading_after_creating_a_key_creates_no_second_key(client, seller):
    client.force_login(seller)
    client.post(reverse("api_keys"), {"name": "CI"}, follow=True)
    for _ in range(3):
        assert client.get(reverse("api_keys")).status_code == 200
    assert APIKey.objects.filter(user=seller).count() == 1


def test_the_page_headings_go_down_from_the_title(client, seller):
    client.force_login(seller)
    client.post(reverse("api_keys"), {"name": "CI"})
    html = client.get(reverse("api_keys")).content.decode()
    assert html.count("<h1") == 1
    for h2 in re.findall(r"<h2[^>]*>", html):
        assert 'class="h4"' in h2, h2  # smaller than the page title


def test_cannot_revoke_someone_elses_key(client, seller, stranger):
    from accounts.services import api_key_create

    api_key, _ = api_key_create(user=stranger)
    client.force_login(seller)
    client.post(reverse("api_key_revoke", args=[api_key.prefix]))
    assert not APIKey.objects.get(pk=api_key.pk).revoked


def test_name_too_long_is_refused(client, seller):
    client.force_login(seller)
    r = client.post(reverse("api_keys"), {"name": "x" * 51})
    assert r.status_code == 400
    assert not APIKey.objects.exists()


def test_create_api_key_command_creates_the_account_and_prints_one_key():
    out = io.StringIO()
    call_command(
        "create_api_key",
        "--email",
        "Ops@Example.test",
        "--platform",
        "--name",
        "ops",
        stdout=out,
        stderr=io.StringIO(),
    )
    key = out.getvalue().strip()
    assert key.startswith("sk_test_") and "\n" not in key
    user = User.objects.get(email="ops@example.test")
    assert user.is_platform
    assert APIKey.objects.get(user=user).name == "ops"
    assert APIClient(HTTP_AUTHORIZATION=f"Bearer {key}").get("/v1/payment-intents/x").status_code == 404
    call_command("create_api_key", "--email", "ops@example.test", stdout=io.StringIO())
    assert APIKey.objects.filter(user=user).count() == 2


def test_seed_demo_prints_working_keys_for_seller_buyer_and_platform():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    lines = {line.split()[0]: line.split()[1] for line in out.getvalue().splitlines() if "sk_test_" in line}
    assert set(lines) == {"seller", "buyer", "platform"}
    r = APIClient(HTTP_X_API_KEY=lines["seller"]).get("/v1/escrow/milestone/unknown-token")
    assert r.status_code == 404 and r.json()["message"] == "Escrow not found"
    # Escrows in every state (seed_demo), a ledger that balances, and a second run adds none.
    assert set(Escrow.objects.values_list("status", flat=True)) == set(EscrowStatus.values)
    assert_ledger_invariants()
    count = Escrow.objects.count()
    call_command("seed_demo", stdout=io.StringIO())
    assert Escrow.objects.count() == count


def test_schema_is_openapi_3_and_covers_both_surfaces(client):
    r = client.get("/v1/schema")
    assert r.status_code == 200
    schema = yaml.safe_load(r.content)
    assert schema["openapi"].startswith("3.")
    paths = set(schema["paths"])
    for expected in (
        "/v1/payment-intents",
        "/v1/payment-intents/{intent_id}",
        "/v1/payment-intents/{intent_id}/escrow/milestones",
        "/v1/payment-intents/{intent_id}/escrow/milestones/{milestone_id}/complete",
        "/v1/escrow/milestone/create",
        "/v1/escrow/milestone/edit/{payment_token}",
        "/v1/escrow/milestone/{payment_token}",
        "/v1/escrow/milestone/confirm/{escrow_id}/{milestone_id}",
        "/v1/payment/escrow",
        "/v1/payment/topup",
        "/v1/customer/create",
    ):
        assert expected in paths, expected
    assert {"ApiKeyHeader", "BearerKey"} <= set(schema["components"]["securitySchemes"])
    create = schema["paths"]["/v1/payment-intents"]["post"]
    assert {"Idempotency-Key", "customer-id"} <= {p["name"] for p in create["parameters"]}


def test_schema_validates_without_warnings():
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_docs_pages_are_served_from_our_static_files(client):
    for path, marker in (("/v1/docs", "swagger-ui"), ("/v1/redoc", "redoc")):
        r = client.get(path)
        assert r.status_code == 200
        html = r.content.decode()
        assert marker in html.lower()
        assert "/static/drf_spectacular_sidecar/" in html
        assert "cdn.jsdelivr" not in html
