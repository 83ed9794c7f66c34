"""Every page answers with the Content-Security-Policy: each HTML route, walked as a visitor, the
seller, the buyer and staff, and every admin list, add and change page. Scripts come only from
our own files (no inline script, no eval), nothing frames a page, forms post only to us."""

import re

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from escrows import services
from tests.helpers import fund, make_escrow, milestones
from tests.reliability import figures

pytestmark = pytest.mark.django_db
SECTION = "money and security defects"
REQUIRED = {
    "script-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def page_paths(values: dict[str, str], resolver: URLResolver | None = None, prefix: str = "") -> list[str]:
    """A concrete path for every `path()` page route, with real ids where we have them (the
    admin's regex routes are walked through its registry instead)."""
    resolver = resolver or get_resolver()
    paths = []
    for entry in resolver.url_patterns:
        pattern = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            paths += page_paths(values, entry, pattern)
        elif isinstance(entry, URLPattern) and not pattern.startswith("^") and "(?P" not in pattern:
            paths.append("/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values.get(m.group(1), "x"), pattern))
    return paths


def admin_paths() -> list[str]:
    paths = ["/admin/"]
    for model in admin.site._registry:
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        paths += [reverse(f"{name}_changelist"), reverse(f"{name}_add")]
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            paths.append(reverse(f"{name}_change", args=[first.pk]))
    return paths


def missing_directives(response) -> list[str]:
    header = response.headers.get("Content-Security-Policy", "")
    policy = dict(part.strip().partition(" ")[::2] for part in header.split(";") if part.strip())
    return [f"{name} {value}" for name, value in REQUIRED.items() if policy.get(name) != value]


def test_every_page_answers_with_the_content_security_policy(seller, buyer, admin_user):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    first, second, _ = milestones(escrow)
    dispute = services.dispute_open(escrow=escrow, milestone=second, by=buyer, reason="Never arrived")
    values = {
        "public_id": escrow.public_id,
        "milestone_id": first.public_id,
        "dispute_id": dispute.public_id,
        "payment_token": escrow.payment_token,
    }
    visitors = {"visitor": Client()}
    for who, user in (("seller", seller), ("buyer", buyer), ("staff", admin_user)):
        visitors[who] = Client()
        visitors[who].force_login(user)
    paths = page_paths(values)
    assert len(paths) > 40, paths

    checked, failures = 0, []
    for who, client in visitors.items():
        for path in paths + (admin_paths() if who == "staff" else ["/admin/login/"]):
            response = client.get(path)
            checked += 1
            if missing := missing_directives(response):
                failures.append((who, path, response.status_code, missing))
    figures.add(SECTION, "content security policy: page responses", checked)
    figures.add(SECTION, "violations: page without the content security policy", len(failures))
    assert failures == []
