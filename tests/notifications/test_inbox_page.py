"""The bell and the notifications page: the unread count in the header (one count query), the
reader's own notices with the unread ones marked, one followed to its page and read, one or all
marked read by a plain form post. Another person's notice is "not found"."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from notifications.models import Category, Notification
from tests.factories import UserFactory
from tests.helpers import make_escrow
from tests.notifications.helpers import dispatch
from tests.views.conftest import client_for

pytestmark = pytest.mark.django_db


def notice(user, subject="Something happened", url="/dashboard/", **extra):
    """A notification of its own (its event: a fresh escrow's creation)."""
    escrow = make_escrow(UserFactory())
    return Notification.objects.create(
        recipient=user,
        recipient_key=f"user:{user.pk}",
        email=user.email,
        event=escrow.events.get(kind="escrow.created"),
        escrow=escrow,
        category=Category.ACCOUNT,
        subject=subject,
        body_text="",
        url=url,
        **extra,
    )


def only_the_delivery_unread(buyer):
    """The buyer named by email was told of the invitation too; only the delivery is new."""
    dispatch()
    Notification.objects.filter(recipient=buyer).exclude(event__kind="milestone.completed").update(
        read_at=timezone.now()
    )


def bell(html: str) -> str:
    start = html.index('class="bell"')
    return html[start : html.index("</a>", start)]


def test_the_bell_says_how_many_are_unread(paid, in_review, buyer, seller):
    only_the_delivery_unread(buyer)
    html = client_for(buyer).get(reverse("dashboard")).content.decode()
    assert 'aria-label="Notifications, 1 unread"' in bell(html)
    assert '<span class="bell-count" aria-hidden="true">1</span>' in bell(html)
    html = client_for(UserFactory()).get(reverse("dashboard")).content.decode()
    assert 'aria-label="Notifications, 0 unread"' in bell(html)
    assert "bell-count" not in bell(html)


def test_a_large_count_is_shortened(buyer):
    for i in range(100):
        Notification.objects.create(
            recipient=buyer,
            recipient_key=f"user:{buyer.pk}",
            event=notice(UserFactory()).event,
            category=Category.ACCOUNT,
            subject=f"n{i}",
            body_text="",
            url="/",
        )
    html = client_for(buyer).get(reverse("dashboard")).content.decode()
    assert 'aria-label="Notifications, 100 unread"' in bell(html)
    assert ">99+</span>" in bell(html)


def test_no_bell_when_signed_out(client):
    assert 'class="bell"' not in client.get(reverse("login")).content.decode()


def test_the_count_is_one_query_and_only_on_pages_that_show_it(buyer):
    notice(buyer)
    client = client_for(buyer)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(reverse("dashboard")).status_code == 200
    assert sum("notifications_notification" in q["sql"] for q in ctx.captured_queries) == 1
    with CaptureQueriesContext(connection) as ctx:
        # The fee quote refreshed while typing is a partial without the header.
        assert client.get(reverse("fee_quote"), {"currency": "USD", "amount": "100"}).status_code == 200
    assert not any("notifications_notification" in q["sql"] for q in ctx.captured_queries)


def test_the_page_lists_the_readers_own_notices_unread_marked(buyer, stranger):
    read = notice(buyer, "Old news")
    Notification.objects.filter(pk=read.pk).update(read_at=read.created_at)
    fresh = notice(buyer, "Fresh news")
    notice(stranger, "Not yours")
    html = client_for(buyer).get(reverse("notifications")).content.decode()
    assert "Not yours" not in html
    assert html.index("Fresh news") < html.index("Old news")  # newest first
    assert '<span class="visually-hidden">Unread: </span>Fresh news' in html
    assert '<span class="visually-hidden">Unread: </span>Old news' not in html
    assert reverse("notification_open", args=[fresh.pk]) in html
    assert reverse("notification_read", args=[fresh.pk]) in html
    assert reverse("notification_read", args=[read.pk]) not in html


def test_needs_your_action_comes_first(buyer):
    notice(buyer, "Asks you to act", action_required=True)
    notice(buyer, "Newer, for your information")
    html = client_for(buyer).get(reverse("notifications")).content.decode()
    assert html.index("Asks you to act") < html.index("Newer, for your information")
    assert html.count("Needs your action") == 1


def test_the_page_is_paged(buyer):
    for i in range(25):
        notice(buyer, f"Notice number {i:02d}")
    client = client_for(buyer)
    first = client.get(reverse("notifications")).content.decode()
    second = client.get(reverse("notifications"), {"page": 2}).content.decode()
    assert "Notice number 24" in first and "Notice number 05" in first and "Notice number 04" not in first
    assert "Notice number 04" in second and "Notice number 00" in second and "Page 2 of 2" in second


def test_following_one_reads_it_and_lands_on_its_page(paid, in_review, buyer):
    only_the_delivery_unread(buyer)
    delivered = Notification.objects.get(recipient=buyer, event__kind="milestone.completed")
    client = client_for(buyer)
    r = client.get(reverse("notification_open", args=[delivered.pk]))
    assert r.status_code == 302
    assert r.url == f"/escrows/{paid.public_id}/#stage-1"
    assert Notification.objects.get(pk=delivered.pk).read_at is not None
    html = client.get(reverse("dashboard")).content.decode()
    assert 'aria-label="Notifications, 0 unread"' in bell(html)


def test_another_persons_notice_is_not_found_and_stays_unread(buyer, stranger):
    theirs = notice(stranger)
    client = client_for(buyer)
    assert client.get(reverse("notification_open", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("notification_read", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("notification_open", args=[10**9])).status_code == 404
    assert Notification.objects.get(pk=theirs.pk).read_at is None


@pytest.mark.parametrize(
    "url", ["https://evil.example/x", "//evil.example/x", "/\\evil.example", "javascript:x"]
)
def test_a_link_off_the_site_opens_the_list_instead(buyer, url):
    n = notice(buyer, url=url)
    r = client_for(buyer).get(reverse("notification_open", args=[n.pk]))
    assert r.status_code == 302 and r.url == reverse("notifications")


def test_mark_one_read_by_a_form_post_with_csrf(buyer):
    n = notice(buyer)
    url = reverse("notification_read", args=[n.pk])
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(buyer)
    assert strict.post(url).status_code == 403
    client = client_for(buyer)
    assert client.get(url).status_code == 405
    r = client.post(url, {"page": "2"})
    assert r.status_code == 302 and r.url == reverse("notifications") + "?page=2"
    assert Notification.objects.get(pk=n.pk).read_at is not None


def test_mark_all_read(buyer, stranger):
    mine = [notice(buyer), notice(buyer)]
    theirs = notice(stranger)
    client = client_for(buyer)
    html = client.get(reverse("notifications")).content.decode()
    assert "Mark all as read" in html
    assert client.get(reverse("notifications_read_all")).status_code == 405
    r = client.post(reverse("notifications_read_all"), follow=True)
    assert "Marked 2 notifications as read." in r.content.decode()
    assert all(Notification.objects.get(pk=n.pk).read_at for n in mine)
    assert Notification.objects.get(pk=theirs.pk).read_at is None
    assert "Mark all as read" not in r.content.decode()


def test_signed_out_visitors_are_sent_to_log_in(client, buyer):
    n = notice(buyer)
    for url in (reverse("notifications"), reverse("notification_open", args=[n.pk])):
        r = client.get(url)
        assert r.status_code == 302 and r.url.startswith(reverse("login"))
    assert Notification.objects.get(pk=n.pk).read_at is None
