"""Due dates on the pages: the seller sets one per stage on the create and edit forms (a day,
due by its end), a past one is refused in a person's words with everything typed kept; the
payment page shows them before paying; the escrow page and the dashboard show a late stage;
the timeline, the evidence record and the admin say what was sent."""

import html as entities
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from escrows import services
from escrows.models import Escrow, Milestone
from tests.helpers import fund, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db

REFUSAL = "Stage 2 due date: must be in the future."


def text(html):
    """What a person reads: the page without its tags and attributes."""
    return " ".join(entities.unescape(re.sub(r"<[^>]+>", " ", html)).split())


def form_data(**extra):
    return {
        "title": "Logo design",
        "description": "Three concepts",
        "currency": "USD",
        "amount": "300.00",
        "inspection_days": "14",
        "form-TOTAL_FORMS": "2",
        "form-INITIAL_FORMS": "0",
        "form-0-title": "Sketches",
        "form-0-amount": "100.00",
        "form-1-title": "Final files",
        "form-1-amount": "200.00",
        **extra,
    }


def value_of(html, name):
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    assert match, name
    found = re.search(r'value="([^"]*)"', match.group(0))
    return found.group(1) if found else None


def in_days(n):
    return (timezone.localdate() + timedelta(days=n)).isoformat()


def test_the_form_offers_an_optional_due_date_per_stage(seller_client):
    html = seller_client.get(reverse("escrow_new")).content.decode()
    assert re.search(r'<input type="date" name="form-0-due_date"', html)
    assert re.search(r'<input type="date" name="form-1-due_date"', html)
    assert "Due by" in html and "(optional)" in html


def test_the_seller_sets_a_due_date_and_the_stage_is_due_by_the_end_of_that_day(seller, seller_client):
    day = timezone.localdate() + timedelta(days=10)
    response = seller_client.post(reverse("escrow_new"), form_data(**{"form-1-due_date": day.isoformat()}))
    assert response.status_code == 302
    first, second = milestones(Escrow.objects.get(seller=seller))
    assert first.due_date is None
    assert second.due_date == datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)


def test_today_is_accepted_as_a_due_date(seller, seller_client):
    response = seller_client.post(reverse("escrow_new"), form_data(**{"form-0-due_date": in_days(0)}))
    assert response.status_code == 302


def test_a_past_due_date_is_refused_in_words_and_nothing_typed_is_lost(seller_client):
    yesterday = in_days(-1)
    response = seller_client.post(
        reverse("escrow_new"), form_data(**{"form-0-due_date": in_days(5), "form-1-due_date": yesterday})
    )
    html = response.content.decode()
    assert response.status_code == 200 and Escrow.objects.count() == 0
    assert REFUSAL in html
    assert value_of(html, "form-1-due_date") == yesterday and value_of(html, "form-0-due_date") == in_days(5)
    assert value_of(html, "title") == "Logo design" and value_of(html, "form-1-amount") == "200.00"
    assert "dueDate" not in html and "milestones[1]" not in html


def test_a_date_that_is_no_date_is_refused_on_its_row(seller_client):
    response = seller_client.post(reverse("escrow_new"), form_data(**{"form-1-due_date": "next tuesday"}))
    html = response.content.decode()
    assert response.status_code == 200 and Escrow.objects.count() == 0
    assert "Enter a date as year-month-day, for example 2026-12-31." in html
    assert value_of(html, "form-1-due_date") == "next tuesday"


def test_the_edit_form_shows_the_due_date_and_changes_it(seller, seller_client):
    escrow = make_escrow(seller, parts=(10_000, 20_000))
    Milestone.objects.filter(escrow=escrow, index=0).update(
        due_date=datetime(2099, 5, 6, 23, 59, 59, tzinfo=UTC)
    )
    url = reverse("escrow_edit", args=[escrow.public_id])
    html = seller_client.get(url).content.decode()
    assert value_of(html, "form-0-due_date") == "2099-05-06" and value_of(html, "form-1-due_date") is None
    data = form_data(**{"form-INITIAL_FORMS": "2", "form-0-due_date": "", "form-1-due_date": "2099-07-08"})
    assert seller_client.post(url, data).status_code == 302
    assert [m.due_date for m in milestones(escrow)] == [None, datetime(2099, 7, 8, 23, 59, 59, tzinfo=UTC)]


def with_due_dates(seller, *dues, buyer=None):
    escrow = make_escrow(seller, buyer=buyer)
    for m, due in zip(milestones(escrow), dues, strict=False):
        Milestone.objects.filter(pk=m.pk).update(due_date=due)
    return escrow


def test_the_payment_page_shows_the_due_dates_before_paying(seller, buyer):
    escrow = with_due_dates(seller, None, datetime(2099, 12, 10, 23, 59, 59, tzinfo=UTC))
    client = Client()
    client.force_login(buyer)
    page = text(client.get(reverse("pay", args=[escrow.payment_token])).content.decode())
    assert "Stage 1 Due by 10 Dec 2099 500.00 USD" in page
    assert page.count("Due by") == 1


def escrow_page(client, escrow):
    return client.get(reverse("escrow_detail", args=[escrow.public_id])).content.decode()


def test_the_escrow_page_shows_a_late_stage_and_the_next_due_date(seller, buyer, seller_client, buyer_client):
    late = timezone.now() - timedelta(days=2)
    escrow = with_due_dates(seller, None, late, datetime(2099, 12, 10, 23, 59, 59, tzinfo=UTC))
    fund(escrow, buyer)
    for client in (seller_client, buyer_client):
        html = escrow_page(client, escrow)
        stage = re.search(r'id="stage-2".*?</li>', html, re.S).group(0)
        assert f"Overdue since {late:%-d %b %Y}" in text(stage) and "data-overdue" in stage
        third = re.search(r'id="stage-3".*?</li>', html, re.S).group(0)
        assert "Due by 10 Dec 2099" in text(third) and "Overdue" not in third


def test_an_unpaid_or_delivered_stage_is_not_shown_late(seller, buyer, seller_client):
    late = timezone.now() - timedelta(days=2)
    escrow = with_due_dates(seller, late)
    assert "Overdue" not in escrow_page(seller_client, escrow)
    fund(escrow, buyer)
    assert "Overdue since" in escrow_page(seller_client, escrow)
    services.milestone_complete(milestone=milestones(escrow)[0], by=seller)
    assert "Overdue" not in escrow_page(seller_client, escrow)


def test_a_stage_sent_back_for_changes_after_its_due_date_is_not_shown_late(seller, buyer, seller_client):
    escrow = with_due_dates(seller, timezone.now() + timedelta(hours=1))
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    services.milestone_complete(milestone=first, by=seller)
    # The buyer reviews past the due date and sends it back: delivered, not late.
    Milestone.objects.filter(pk=first.pk).update(due_date=timezone.now() - timedelta(days=1))
    services.milestone_request_changes(milestone=refresh(first), by=buyer, note="Bigger logo")
    assert "Overdue" not in escrow_page(seller_client, escrow)
    assert "data-overdue" not in seller_client.get(reverse("dashboard")).content.decode()


def test_the_dashboard_marks_an_escrow_with_a_late_stage_in_its_own_query(seller, buyer, seller_client):
    late = timezone.now() - timedelta(days=3)
    fund(with_due_dates(seller, late), buyer)
    fund(with_due_dates(seller, timezone.now() + timedelta(days=3)), buyer)
    html = seller_client.get(reverse("dashboard")).content.decode()
    assert html.count("data-overdue") == 1
    assert f"A stage is overdue since {late:%-d %b %Y}" in text(html)


def test_the_timeline_and_the_evidence_record_say_what_was_sent(seller, buyer, seller_client):
    soon = timezone.now() + timedelta(hours=1)
    escrow = with_due_dates(seller, None, soon)
    fund(escrow, buyer)
    stage = refresh(milestones(escrow)[1])
    services.milestone_due_remind(milestone=stage)
    Milestone.objects.filter(pk=stage.pk).update(due_date=timezone.now() - timedelta(minutes=1))
    services.milestone_overdue_notify(milestone=refresh(stage))
    passed = refresh(stage).due_date
    page = text(escrow_page(seller_client, escrow))
    reminded = "Reminder emailed: the stage is due soon · Stage 1 automatically"
    assert f"{reminded} Due on {soon:%-d %b %Y} (500.00 USD), not delivered yet." in page
    late = "Stage overdue: both parties told · Stage 1 automatically"
    assert f"{late} Was due on {passed:%-d %b %Y} (500.00 USD), not delivered yet." in page
    record = text(seller_client.get(reverse("evidence_export", args=[escrow.public_id])).content.decode())
    assert (
        "Stage overdue: both parties told" in record and "Reminder emailed: the stage is due soon" in record
    )
    assert f"Due by: {passed:%-d %b %Y, %H:%M} UTC" in record
    assert f"{passed:%-d %b %Y}; overdue, both parties told" in record
    data = seller_client.get(reverse("evidence_export_json", args=[escrow.public_id])).json()
    second = data["milestones"][1]
    m = refresh(stage)
    assert [second[k] for k in ("dueDate", "dueReminderSentAt", "overdueNotifiedAt")] == [
        t.isoformat().replace("+00:00", "Z") for t in (passed, m.due_reminder_sent_at, m.overdue_notified_at)
    ]


def test_the_admin_shows_the_due_date_and_what_was_sent(admin_user, seller, buyer):
    escrow = with_due_dates(seller, timezone.now() + timedelta(hours=1))
    fund(escrow, buyer)
    services.milestone_due_remind(milestone=refresh(milestones(escrow)[0]))
    client = Client()
    client.force_login(admin_user)
    html = client.get(reverse("admin:escrows_escrow_change", args=[escrow.pk])).content.decode()
    for label in ("Due date", "Due reminder sent at", "Overdue notified at"):
        assert label in html
    assert 'name="milestones-0-due_date"' not in html  # read-only
