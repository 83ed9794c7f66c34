"""The webhooks page: a labelled Format select in a person's words, the endpoint made in the
format chosen, a format that is not one refused on the form, the format shown on the endpoint."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db


class _Form(HTMLParser):
    """Labels (for -> text) and selects (id -> [(value, text, selected)])."""

    def __init__(self) -> None:
        super().__init__()
        self.labels: dict[str, str] = {}
        self.selects: dict[str, list[tuple[str, str, bool]]] = {}
        self._label: str | None = None
        self._select: str | None = None
        self._option: tuple[str, bool] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label":
            self._label = a.get("for") or ""
            self.labels[self._label] = ""
        elif tag == "select":
            self._select = a.get("id") or ""
            self.selects[self._select] = []
        elif tag == "option" and self._select is not None:
            self._option = (a.get("value") or "", "selected" in a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._label is not None:
            self.labels[self._label] += data
        if self._option is not None and self._select is not None:
            value, selected = self._option
            self.selects[self._select].append((value, data.strip(), selected))
            self._option = None


def read(html: bytes) -> _Form:
    form = _Form()
    form.feed(html.decode())
    return form


def test_the_form_has_a_labelled_format_select_in_a_persons_words(client, seller):
    client.force_login(seller)
    form = read(client.get(reverse("webhooks")).content)
    select_id = next(for_ for for_, text in form.labels.items() if text.strip() == "Format")
    assert form.selects[select_id] == [
        ("native", "This server's own", True),
        ("payluk", "Payluk", False),
        ("finternet", "Finternet", False),
    ]


@pytest.mark.parametrize(
    ("chosen", "shown", "header"),
    [
        ("payluk", b"Payluk", b"x-payluk-signature"),
        ("finternet", b"Finternet", b"finternet-signature"),
        ("native", b"This server&#x27;s own", b"Escrow-Signature"),
    ],
)
def test_an_endpoint_is_made_in_the_format_chosen_and_shows_it(client, seller, chosen, shown, header):
    client.force_login(seller)
    response = client.post(reverse("webhooks"), {"url": "https://example.com/h", "format": chosen})
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 302 and endpoint.format == chosen
    detail = client.get(response["Location"]).content
    assert b"<dt>Format</dt><dd>" + shown in detail and header in detail
    assert b'data-label="Format">' + shown in client.get(reverse("webhooks")).content


def test_without_a_format_it_is_this_servers_own(client, seller):
    client.force_login(seller)
    client.post(reverse("webhooks"), {"url": "https://example.com/h"})
    assert WebhookEndpoint.objects.get().format == "native"


def test_a_format_that_is_not_one_is_refused_on_the_form(client, seller):
    client.force_login(seller)
    response = client.post(reverse("webhooks"), {"url": "https://example.com/h", "format": "stripe"})
    assert response.status_code == 400
    assert b'<small id="format-error" class="error">Choose one of the formats in the list.</small>' in (
        response.content
    )
    assert b'aria-invalid="true"' in response.content
    assert not WebhookEndpoint.objects.exists()
