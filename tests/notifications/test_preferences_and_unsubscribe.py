"""Email on or off per kind of notice: the settings page (money and disputes always on, and it
says so), the one-click unsubscribe link in each email (signed, no sign-in, RFC 8058 headers),
and what an opted-out notice does: it stays in the app, its email is skipped with the reason."""

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from core.errors import InvalidRequest
from notifications import services as notification_services
from notifications.emails import message_id
from notifications.models import Category, EmailStatus, Notification, NotificationPreference
from notifications.tokens import unsubscribe_token
from tests.helpers import make_escrow, refresh
from tests.notifications.helpers import dispatch, send_all

pytestmark = pytest.mark.django_db


def switches(html: str) -> dict[str, str]:
    """The email switches on the settings page: category -> its <input> tag."""
    return {
        m["value"]: m[0] for m in re.finditer(r'<input[^>]*name="email" value="(?P<value>\w+)"[^>]*>', html)
    }


def unsubscribe_link(message) -> str:
    header = message.extra_headers["List-Unsubscribe"]
    assert header.startswith("<https://escrow.example.test/notifications/unsubscribe/") and header.endswith(
        ">"
    )
    return header[1:-1].removeprefix("https://escrow.example.test")


def test_the_settings_page_lists_every_kind_and_says_money_and_disputes_are_always_on(client, buyer):
    client.force_login(buyer)
    page = client.get(reverse("notification_settings"))
    assert page.status_code == 200
    for category in Category:
        assert category.label in page.text
    assert page.text.count("Always on: money and disputes affect what you hold") == 2
    tags = switches(page.text)
    assert set(tags) == set(Category.values)
    for category, tag in tags.items():
        assert "checked" in tag, "all on by default"
        assert ("disabled" in tag) == (category in ("money", "disputes"))


def test_switching_a_kind_off_skips_its_emails_but_not_money(client, in_review, buyer):
    client.force_login(buyer)
    saved = client.post(reverse("notification_settings"), {"email": ["reminders", "account", "webhooks"]})
    assert saved.status_code == 302
    assert NotificationPreference.objects.get(user=buyer, category=Category.REQUESTS).email_enabled is False
    dispatch()
    send_all()
    delivered = Notification.objects.get(event__kind="milestone.completed")
    assert delivered.category == Category.REQUESTS
    assert (delivered.email_status, delivered.last_error) == (
        EmailStatus.SKIPPED,
        "Opted out of requests and replies emails",
    )
    assert delivered.read_at is None, "still shown in the app"
    invitation = Notification.objects.get(event__kind="escrow.created")
    assert invitation.email_status == EmailStatus.SENT
    page = client.get(reverse("notification_settings"))
    assert (
        'value="requests"\n               >' in page.text
        or 'value="requests"\n                >' in page.text
    )


def test_money_and_disputes_cannot_be_switched_off(buyer):
    with pytest.raises(InvalidRequest, match="always sent"):
        notification_services.notification_preferences_set(user=buyer, email_enabled={"money": False})
    with pytest.raises(InvalidRequest, match="always sent"):
        notification_services.notifications_unsubscribe(recipient_key=f"user:{buyer.pk}", category="disputes")
    assert not NotificationPreference.objects.exists()


def test_every_optional_email_carries_one_click_unsubscribe_and_money_emails_do_not(in_review, seller, buyer):
    dispatch()
    send_all()
    by_subject = {m.subject: m for m in mail.outbox}
    delivered = next(m for s, m in by_subject.items() if "delivered" in s)
    funded = next(m for s, m in by_subject.items() if "is paid" in s)
    assert delivered.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe_link(delivered) in delivered.body
    assert "List-Unsubscribe" not in funded.extra_headers
    assert "Emails about money movements and disputes are always sent." in funded.body
    notice = Notification.objects.get(event__kind="milestone.completed")
    assert (
        delivered.extra_headers["Message-ID"]
        == message_id(notice)
        == f"<notification-{notice.pk}@escrow.example.test>"
    )


def test_one_click_unsubscribe_works_without_signing_in(in_review, buyer):
    dispatch()
    send_all()
    delivered = next(m for m in mail.outbox if "delivered" in m.subject)
    link = unsubscribe_link(delivered)
    anonymous = Client(enforce_csrf_checks=True)
    confirm = anonymous.get(link)
    assert confirm.status_code == 200
    assert "Stop emails about requests and replies?" in confirm.text
    assert not NotificationPreference.objects.exists(), "a GET (a link scanner) changes nothing"
    # What a mail client sends for List-Unsubscribe-Post: no cookie, no CSRF token.
    done = anonymous.post(
        link, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    preference = NotificationPreference.objects.get()
    assert (preference.user, preference.category, preference.email_enabled) == (buyer, "requests", False)
    assert anonymous.post(link).status_code == 200, "again is harmless"
    assert NotificationPreference.objects.count() == 1


def test_an_invited_address_without_an_account_can_unsubscribe_too(seller):
    make_escrow(seller, buyer_email="invited@example.test")
    dispatch()
    send_all()
    [invitation] = mail.outbox
    Client().post(unsubscribe_link(invitation))
    preference = NotificationPreference.objects.get()
    assert (preference.user, preference.email, preference.category) == (
        None,
        "invited@example.test",
        "account",
    )
    make_escrow(seller, buyer_email="invited@example.test", title="Another")
    dispatch()
    send_all()
    assert len(mail.outbox) == 1
    second = Notification.objects.filter(email="invited@example.test").latest("pk")
    assert second.email_status == EmailStatus.SKIPPED


@pytest.mark.parametrize(
    "token",
    [
        "nonsense",
        "",
        "a" * 3000,
        "%00",
        "eyJyIjoidXNlcjoxIiwiYyI6InJlcXVlc3RzIn0:1abcde:forged",
    ],
)
def test_a_changed_or_broken_link_gets_a_clear_answer_not_an_error(client, token):
    for method in (client.get, client.post):
        response = method(f"/notifications/unsubscribe/{token}/")
        assert response.status_code in (400, 404)
        if response.status_code == 400:
            assert "This unsubscribe link is not valid" in response.text
    assert not NotificationPreference.objects.exists()


def test_a_tampered_category_is_refused(client, buyer):
    token = unsubscribe_token(recipient_key=f"user:{buyer.pk}", category="requests")
    body, _, signature = token.rpartition(":")
    forged = unsubscribe_token(recipient_key=f"user:{buyer.pk}", category="reminders").rpartition(":")[0]
    for bad in (f"{forged}:{signature}", f"{body}:{signature[:-1]}x", token[:-3]):
        response = client.post(f"/notifications/unsubscribe/{bad}/")
        assert response.status_code == 400 and "This unsubscribe link is not valid" in response.text
    assert not NotificationPreference.objects.exists()


def test_a_link_for_money_emails_explains_they_are_always_sent(client, buyer):
    token = unsubscribe_token(recipient_key=f"user:{buyer.pk}", category="money")
    response = client.post(f"/notifications/unsubscribe/{token}/")
    assert response.status_code == 400
    assert "Money movements: these emails are always sent" in response.text
    assert not NotificationPreference.objects.exists()


def test_a_link_of_a_deleted_account_changes_nothing(client, buyer):
    token = unsubscribe_token(recipient_key=f"user:{buyer.pk}", category="requests")
    buyer.delete()
    assert client.post(f"/notifications/unsubscribe/{token}/").status_code == 200
    assert not NotificationPreference.objects.exists()


def test_settings_need_signing_in(client):
    response = client.get(reverse("notification_settings"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_switching_back_on_sends_again(client, buyer):
    notification_services.notifications_unsubscribe(recipient_key=f"user:{buyer.pk}", category="reminders")
    client.force_login(buyer)
    client.post(reverse("notification_settings"), {"email": ["requests", "reminders", "account", "webhooks"]})
    assert refresh(NotificationPreference.objects.get(user=buyer, category="reminders")).email_enabled is True
