"""The site's own pages for a mistyped address, a refusal and a server error, in the site's
look and words (never Django's debug page), and the icon every browser asks for."""

import pytest
from django.core.exceptions import PermissionDenied
from django.template import loader
from django.test import Client
from django.urls import reverse

from tests.helpers import make_escrow

pytestmark = pytest.mark.django_db


def test_a_mistyped_address_shows_the_sites_404_page(client):
    r = client.get("/escrow/new/")
    html = r.content.decode()
    assert r.status_code == 404
    assert "We could not find that page" in html and "payment link" in html
    assert 'class="site-header"' in html and reverse("login") in html
    assert "Traceback" not in html and "Page not found at" not in html


def test_another_customers_escrow_is_the_same_404_with_the_way_back(seller, stranger):
    escrow = make_escrow(seller)
    client = Client()
    client.force_login(stranger)
    r = client.get(reverse("escrow_detail", args=[escrow.public_id]))
    html = r.content.decode()
    assert r.status_code == 404 and "We could not find that page" in html
    assert "Go to your dashboard" in html and escrow.title not in html


def test_a_refusal_shows_the_sites_403_page(seller, monkeypatch):
    from escrows.views import dashboard

    def refuse(*args, **kwargs):
        raise PermissionDenied

    monkeypatch.setattr(dashboard, "render", refuse)
    client = Client()
    client.force_login(seller)
    r = client.get(reverse("dashboard"))
    assert r.status_code == 403 and "You cannot open this page" in r.content.decode()


def test_a_server_error_shows_the_sites_500_page_without_needing_a_request(seller, monkeypatch):
    from escrows.views import dashboard

    def fail(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(dashboard, "render", fail)
    client = Client(raise_request_exception=False)
    client.force_login(seller)
    r = client.get(reverse("dashboard"))
    html = r.content.decode()
    assert r.status_code == 500 and "Something went wrong on our side" in html
    assert "boom" not in html and "Traceback" not in html
    # Rendered with no context at all: no context processor, no user, no database.
    alone = loader.get_template("500.html").render()
    assert "Something went wrong on our side" in alone and "pico.min.css" in alone


def test_an_expired_form_token_shows_the_sites_page(seller):
    client = Client(enforce_csrf_checks=True)
    client.force_login(seller)
    r = client.post(reverse("escrow_new"), {"title": "x"})
    assert r.status_code == 403 and "This form has expired" in r.content.decode()


def test_the_icon_is_linked_on_every_page_and_at_favicon_ico(client):
    assert '<link rel="icon" href="/static/favicon.svg"' in client.get("/").content.decode()
    r = client.get("/favicon.ico")
    assert r.status_code == 302 and r["Location"] == "/static/favicon.svg"
