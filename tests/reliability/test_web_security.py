"""Web security: CSRF on every session write, production settings (secure cookies, HSTS, HTTPS
redirect, `check --deploy` clean), login throttling, API keys never stored or logged in clear."""

import json
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import APIKey
from escrows.selectors import receipts_of, wallet_balance
from tests.factories import UserFactory
from tests.helpers import fund, ledger_fingerprint, make_escrow, milestones
from tests.reliability import figures

ROOT = Path(__file__).resolve().parents[2]
SECTION = "web security"


def _check(ok: bool, what: str = "checks") -> None:
    figures.add(SECTION, what)
    figures.add(SECTION, "violations", 0 if ok else 1)


# -- CSRF -------------------------------------------------------------------------------------


def _page_routes(resolver: URLResolver = None, prefix: str = "") -> list[tuple[str, URLPattern]]:
    """Every HTML route (not the API under v1/, whose session use is tested below)."""
    resolver = resolver or get_resolver()
    routes = []
    for entry in resolver.url_patterns:
        pattern = prefix + str(entry.pattern)
        if pattern.startswith(("v1/", "^v1/")):
            continue
        if isinstance(entry, URLResolver):
            routes += _page_routes(entry, pattern)
        else:
            routes.append((pattern, entry))
    return routes


def _fill(pattern: str, values: dict[str, str]) -> str | None:
    """A concrete path for a simple `path()` route, with real ids where we have them."""
    import re

    if pattern.startswith("^") or "(?P" in pattern:
        return None  # admin regexes: covered by its own views below
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values.get(m.group(1), "x"), pattern)
    return "/" + path


# One-click unsubscribe (RFC 8058): a mail client posts without cookies or token; the signed link
# is the authority (tests/notifications/test_preferences_and_unsubscribe.py). Stripe's webhook
# likewise: Stripe posts without cookies, its Stripe-Signature is the authority
# (tests/test_stripe_card_payments.py).
CSRF_EXEMPT = ("notifications/unsubscribe/<str:token>/", "stripe/webhook")


@pytest.mark.django_db
def test_every_page_write_without_a_csrf_token_is_refused_and_changes_nothing(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    values = {
        "public_id": escrow.public_id,
        "milestone_id": first.public_id,
        "payment_token": escrow.payment_token,
        "prefix": "sk_test_x",
        # A notice's number: the route resolves for any number, and the CSRF check comes first.
        "pk": "1",
        # The escrow's payment receipt: a real one, so the receipt routes resolve.
        "number": str(receipts_of(escrow)[0].pk),
    }
    client = Client(enforce_csrf_checks=True)
    client.force_login(buyer)
    before = ledger_fingerprint()
    tried = []
    for pattern, _ in _page_routes():
        path = _fill(pattern, values)
        if path is None or pattern in CSRF_EXEMPT:
            continue
        response = client.post(path, {"confirm": "1", "amount": "10.00", "currency": "USD", "name": "k"})
        tried.append((path, response.status_code))
        _check(response.status_code == 403, "page writes without token")
    # The admin's own forms too.
    for path in ("/admin/login/", "/admin/escrows/escrow/", "/accounts/logout/"):
        response = client.post(path, {})
        tried.append((path, response.status_code))
        _check(response.status_code == 403, "page writes without token")
    assert ledger_fingerprint() == before
    assert all(status == 403 for _, status in tried), [t for t in tried if t[1] != 403]
    assert len(tried) >= 15, tried


@pytest.mark.django_db
def test_the_same_release_with_its_csrf_token_goes_through(seller, buyer):
    """The control: the refusal above is the CSRF check, not a broken route."""
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    client = Client(enforce_csrf_checks=True)
    client.force_login(buyer)
    page = client.get(f"/escrows/{escrow.public_id}/")
    token = (
        page.cookies["csrftoken"].value if "csrftoken" in page.cookies else client.cookies["csrftoken"].value
    )
    path = f"/escrows/{escrow.public_id}/milestones/{first.public_id}/release/"
    refused = client.post(path, {"confirm": "1"})
    assert refused.status_code == 403
    accepted = client.post(path, {"confirm": "1", "csrfmiddlewaretoken": token})
    assert accepted.status_code in (200, 302)
    assert wallet_balance(seller, "USD") == first.amount


@pytest.mark.django_db
def test_api_with_a_session_needs_the_csrf_token_but_an_api_key_does_not(buyer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(buyer)
    body = json.dumps({"amount": 50})
    refused = client.post("/v1/payment/topup", body, content_type="application/json")
    _check(refused.status_code == 403, "API session writes without token")
    assert refused.status_code == 403, refused.content
    assert refused.json()["message"]
    assert wallet_balance(buyer, "USD") == 0
    from accounts.services import api_key_create

    _, key = api_key_create(user=buyer)
    accepted = Client(enforce_csrf_checks=True).post(
        "/v1/payment/topup", body, content_type="application/json", HTTP_X_API_KEY=key
    )
    assert accepted.status_code in (200, 201), accepted.content
    assert wallet_balance(buyer, "USD") == 5_000


# -- production settings ----------------------------------------------------------------------


def _clean_env(*drop: str) -> dict[str, str]:
    """This process's environment without what tests set for themselves (the browser tests set
    DJANGO_ALLOW_ASYNC_UNSAFE, which `check --deploy` rightly refuses)."""
    unset = {"DEBUG", "SECURE_HTTPS", "SECURE_SSL_REDIRECT", "DJANGO_ALLOW_ASYNC_UNSAFE", *drop}
    return {k: v for k, v in os.environ.items() if k not in unset}


def _run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = _clean_env()
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


# What the production recipe in docs/operations.md sets.
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "ALLOWED_HOSTS": "escrow.example.com",
    "SECURE_SSL_REDIRECT": "1",
}

SHOW_SETTINGS = """
import json
from django.conf import settings as s
print(json.dumps({k: getattr(s, k) for k in (
    "DEBUG", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_HTTPONLY",
    "X_FRAME_OPTIONS", "SECURE_CONTENT_TYPE_NOSNIFF")}))
"""


def _settings_of(**env: str) -> dict:
    result = _run_manage("shell", "--no-imports", "-c", SHOW_SETTINGS, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_check_deploy_is_clean_under_production_settings():
    result = _run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    _check(result.returncode == 0, "deploy checks")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_catches_the_development_secret_key():
    """The control: the check does fail when production forgets its SECRET_KEY."""
    env = {**PRODUCTION}
    env.pop("SECRET_KEY")
    base_env = _clean_env("SECRET_KEY")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**base_env, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def test_production_settings_are_https_only_and_development_is_not():
    prod = _settings_of(**PRODUCTION)
    ok = (
        prod["DEBUG"] is False
        and prod["SESSION_COOKIE_SECURE"]
        and prod["CSRF_COOKIE_SECURE"]
        and prod["SECURE_HSTS_SECONDS"] >= 31_536_000
        and prod["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
        and prod["SECURE_SSL_REDIRECT"]
        and prod["SESSION_COOKIE_HTTPONLY"]
        and prod["X_FRAME_OPTIONS"] == "DENY"
        and prod["SECURE_CONTENT_TYPE_NOSNIFF"]
    )
    _check(ok, "deploy checks")
    assert ok, prod
    dev = _settings_of(DEBUG="0", SECURE_HTTPS="0")
    # `dev.py serve` runs plain HTTP on localhost, without debug pages: no secure-only cookies,
    # no HSTS pinning.
    assert (
        dev["DEBUG"] is False
        and not dev["SESSION_COOKIE_SECURE"]
        and dev["SECURE_HSTS_SECONDS"] == 0
        and not dev["SECURE_SSL_REDIRECT"]
    )


@pytest.mark.django_db
def test_https_answers_carry_hsts_and_secure_cookies(settings, seller):
    settings.SECURE_SSL_REDIRECT = True
    client = Client()
    plain = client.get("/accounts/login/")
    assert plain.status_code == 301 and plain["Location"].startswith("https://")
    assert client.get("/healthz").status_code == 200  # load balancers probe over plain HTTP
    secure = client.get("/accounts/login/", secure=True)
    assert "max-age=31536000" in secure["Strict-Transport-Security"]
    response = client.post(
        "/accounts/login/", {"login": seller.email, "password": "pass-word-123"}, secure=True
    )
    assert response.status_code == 302
    assert response.cookies["sessionid"]["secure"] and response.cookies["sessionid"]["httponly"]


# -- login throttling -------------------------------------------------------------------------


@pytest.fixture
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _login(client: Client, email: str, password: str, path: str = "/accounts/login/"):
    return client.post(path, {"login": email, "password": password})


@pytest.mark.django_db
def test_repeated_failed_logins_lock_the_account_from_that_address(settings, fresh_cache, seller, buyer):
    client = Client()
    for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT):
        assert _login(client, seller.email, "wrong-password").status_code == 200
        figures.add(SECTION, "bad logins tried")
    locked = _login(client, seller.email, "pass-word-123")
    _check(locked.status_code == 429 and "_auth_user_id" not in client.session, "login lockouts")
    assert locked.status_code == 429
    assert b"Too many failed logins" in locked.content
    assert "_auth_user_id" not in client.session
    # The admin's login is the sign-in page, so it shares the limit.
    staff_client = Client()
    sign_in = staff_client.get("/admin/login/")["Location"]
    assert sign_in.startswith("/accounts/login/?next=")
    admin_try = _login(staff_client, seller.email, "pass-word-123", sign_in)
    assert admin_try.status_code == 429 and "_auth_user_id" not in staff_client.session
    # Someone else logging in from the same address is not affected.
    assert _login(Client(), buyer.email, "pass-word-123").status_code == 302
    # The window ends (here: the counters expire) and the right password works again.
    cache.clear()
    assert _login(client, seller.email, "pass-word-123").status_code == 302


@pytest.mark.django_db
def test_one_address_guessing_many_accounts_is_stopped(settings, fresh_cache, seller):
    client = Client()
    for i in range(settings.LOGIN_FAILURES_PER_IP):
        _login(client, f"guess{i}@example.test", "wrong-password")
        figures.add(SECTION, "bad logins tried")
    locked = _login(client, seller.email, "pass-word-123")
    _check(locked.status_code == 429, "login lockouts")
    assert locked.status_code == 429
    other_address = Client(REMOTE_ADDR="10.0.0.7")
    assert _login(other_address, seller.email, "pass-word-123").status_code == 302


@pytest.mark.django_db
def test_a_successful_login_forgets_earlier_failures(settings, fresh_cache, seller):
    client = Client()
    for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT - 1):
        _login(client, seller.email, "wrong-password")
    assert _login(client, seller.email, "pass-word-123").status_code == 302
    client.logout()
    for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT - 1):
        _login(client, seller.email, "wrong-password")
    assert _login(client, seller.email, "pass-word-123").status_code == 302


# -- API keys at rest and in logs -------------------------------------------------------------


def _every_stored_text() -> str:
    """Every value of every row of every table, as text."""
    chunks = []
    for model in apps.get_models():
        for row in model.objects.all().values_list():
            chunks.append(repr(row))
    return "\n".join(chunks)


@pytest.mark.django_db
def test_api_keys_are_never_stored_or_logged_in_clear(caplog, settings):
    user = UserFactory()
    client = Client()
    client.force_login(user)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django")
    # Log every SQL statement with its parameters too (django.db.backends at DEBUG).
    connection.force_debug_cursor = True
    try:
        with CaptureQueriesContext(connection) as queries:
            page = client.post("/settings/api-keys/", {"name": "CI key"}, follow=True)
            assert page.status_code == 200
            key = page.context["new_key"]
            assert key.startswith("sk_test_") and len(key) > 30
            used = Client().post(
                "/v1/payment/topup",
                json.dumps({"amount": 5}),
                content_type="application/json",
                HTTP_X_API_KEY=key,
            )
            assert used.status_code in (200, 201), used.content
            wrong = Client().post(
                "/v1/payment/topup",
                json.dumps({"amount": 5}),
                content_type="application/json",
                HTTP_X_API_KEY=key[:-1] + ("A" if key[-1] != "A" else "B"),
            )
            assert wrong.status_code == 401
    finally:
        connection.force_debug_cursor = False
    secret_part = key.split(".", 1)[1]
    row = APIKey.objects.get(user=user)
    stored = _every_stored_text()
    logged = caplog.text + "\n".join(q["sql"] for q in queries.captured_queries)
    checks = {
        "key in the database": secret_part in stored,
        "key in the logs or SQL": secret_part in logged,
        "row keeps a hash, not the key": row.hashed_key == key or secret_part in row.hashed_key,
    }
    for what, leaked in checks.items():
        _check(not leaked, "API key leak checks")
        assert not leaked, what
    assert "django.db.backends" in caplog.text  # the SQL really was logged and searched
    assert row.is_valid(key) and not row.is_valid(key + "x")
