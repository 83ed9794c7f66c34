"""Pages carry a Content-Security-Policy that allows scripts and styles only from our static
files (no inline script, no eval), forbids plugins, framing and foreign form targets; the
templates hold nothing the policy would block; the API docs pages relax only their styles."""

import re
from pathlib import Path

import pytest
from django.test import Client

from tests.helpers import fund, make_escrow

ROOT = Path(__file__).resolve().parents[2]


def directives(response) -> dict[str, str]:
    header = response.headers.get("Content-Security-Policy", "")
    return dict(part.strip().partition(" ")[::2] for part in header.split(";") if part.strip())


def assert_strict(response) -> None:
    policy = directives(response)
    assert policy.get("default-src") == "'self'", policy
    assert policy.get("script-src") == "'self'", policy
    assert policy.get("style-src") == "'self'", policy
    assert policy.get("object-src") == "'none'", policy
    assert policy.get("base-uri") == "'self'", policy
    assert policy.get("frame-ancestors") == "'none'", policy
    assert policy.get("form-action") == "'self'", policy
    assert "unsafe" not in response.headers["Content-Security-Policy"]


@pytest.mark.django_db
def test_pages_carry_the_strict_policy(client, seller_client, buyer_client, buyer, seller, admin_user):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    staff = Client()
    staff.force_login(admin_user)
    pages = [
        (client, "/"),
        (client, "/accounts/login/"),
        (seller_client, "/dashboard/"),
        (seller_client, "/escrows/new/"),
        (seller_client, f"/escrows/{escrow.public_id}/"),
        (buyer_client, f"/escrows/{escrow.public_id}/"),
        (buyer_client, "/balance/"),
        (seller_client, "/settings/api-keys/"),
        (seller_client, "/settings/webhooks/"),
        (staff, "/admin/"),
        (staff, f"/admin/escrows/escrow/{escrow.pk}/change/"),
    ]
    for who, path in pages:
        response = who.get(path)
        assert response.status_code == 200, path
        assert_strict(response)
    # The htmx fee quote is a fragment, served under the same policy.
    quote = seller_client.get("/escrows/fee-quote/", {"amount": "100.00", "currency": "USD"})
    assert_strict(quote)


@pytest.mark.django_db
def test_api_docs_relax_styles_only(client):
    for path in ("/v1/docs", "/v1/redoc"):
        response = client.get(path)
        assert response.status_code == 200
        policy = directives(response)
        assert policy["script-src"] == "'self'", path
        assert policy["style-src"] == "'self' 'unsafe-inline'", path
        assert policy["frame-ancestors"] == "'none'", path
        assert "<script>" not in response.content.decode(), path
    # Swagger UI's start-up script is a file of its own.
    script = client.get("/v1/docs", {"script": ""})
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")


def templates() -> list[Path]:
    """Every page template, less the API docs pages' (their own, relaxed policy)."""
    found = [p for p in (ROOT / "templates").rglob("*.html") if "api" not in p.relative_to(ROOT).parts]
    for app in ("accounts", "escrows", "webhooks"):
        found += (ROOT / app / "templates").rglob("*.html")
    return found


def test_templates_hold_no_inline_script_handler_or_style():
    """What the policy would block, found before a browser does: inline <script> (one with a
    src is a file), on*= handlers, javascript: links, style attributes and <style> elements."""
    blocked = re.compile(
        r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=|javascript:|\sstyle\s*=|<style\b|hx-on|\bjs:",
        re.IGNORECASE,
    )
    files = templates()
    assert len(files) > 20
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in files
        for match in blocked.finditer(path.read_text())
    ]
    assert found == []


def test_htmx_runs_without_eval_or_its_injected_style():
    base = (ROOT / "templates" / "base.html").read_text()
    config = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", base)
    assert config, "base.html sets htmx's config"
    assert '"allowEval": false' in config.group(1)
    assert '"includeIndicatorStyles": false' in config.group(1)
