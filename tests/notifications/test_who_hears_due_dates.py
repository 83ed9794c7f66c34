"""Due dates told to people: the seller hears before a stage not yet delivered is due; when the
date passes, the seller and the buyer both hear it, each with the stage's amount, the due date
in words and one link to the stage. Nobody else hears of it, and nobody is told twice."""

from datetime import timedelta

import pytest
from django.utils import timezone

from escrows import services
from escrows.models import Milestone
from escrows.services import EscrowTerms, MilestoneInput
from notifications.models import Category, Notification
from notifications.rules import when
from tests.factories import UserFactory
from tests.helpers import fund, milestones, refresh
from tests.notifications.helpers import dispatch, emails_of, told
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def design(seller, buyer):
    """Stage 2 ("Design", 500.00 USD) of a paid escrow, due in a day."""
    escrow = services.escrow_create(
        seller=seller,
        terms=EscrowTerms(title="Website build", currency="USD", amount=100_000, buyer_email=buyer.email),
        milestones=[
            MilestoneInput(amount=30_000, title="Plan"),
            MilestoneInput(amount=50_000, title="Design", due_date=timezone.now() + timedelta(days=1)),
            MilestoneInput(amount=20_000, title="Launch"),
        ],
    )
    fund(escrow, buyer)
    return milestones(escrow)[1]


def stage_page(milestone: Milestone) -> str:
    return f"/escrows/{milestone.escrow.public_id}/#stage-{milestone.index + 1}"


def test_the_seller_alone_is_reminded_before_the_due_date(design, seller):
    assert services.milestone_due_remind(milestone=design) is not None
    notices = told("milestone.due_reminder_sent")
    assert set(notices) == {seller.email}
    notice = notices[seller.email]
    deadline = when(design.due_date)
    assert notice.subject == f"Stage 2 of “Website build” is due by {deadline}"
    assert "Stage 2 (“Design”) of “Website build” (500.00 USD)" in notice.body_text
    assert f"is due by {deadline} and is not marked delivered yet" in notice.body_text
    assert notice.url == stage_page(design)
    assert notice.category == Category.REMINDERS and notice.action_required


def test_both_parties_hear_when_the_due_date_passes(design, seller, buyer):
    Milestone.objects.filter(pk=design.pk).update(due_date=timezone.now() - timedelta(minutes=1))
    design = refresh(design)
    assert services.milestone_overdue_notify(milestone=design) is not None
    notices = told("milestone.overdue")
    assert set(notices) == {seller.email, buyer.email}
    deadline = when(design.due_date)
    subject = f"Stage 2 of “Website build” is overdue: it was due by {deadline}"
    assert {n.subject for n in notices.values()} == {subject}
    assert {n.url for n in notices.values()} == {stage_page(design)}
    assert "Bea Buyer has been told" in notices[seller.email].body_text
    assert "Sam Seller has not marked Stage 2 (“Design”)" in notices[buyer.email].body_text
    assert "500.00 USD" in notices[buyer.email].body_text
    assert "stays held in escrow" in notices[buyer.email].body_text
    assert notices[seller.email].action_required and not notices[buyer.email].action_required


def test_the_emails_go_once_each_with_the_link_to_the_stage(design, seller, buyer):
    Milestone.objects.filter(pk=design.pk).update(due_date=timezone.now() - timedelta(minutes=1))
    services.milestone_overdue_notify(milestone=refresh(design))
    services.milestone_overdue_notify(milestone=refresh(design))
    dispatch()
    emails = emails_of("milestone.overdue")
    assert sorted(m.to[0] for m in emails) == [buyer.email, seller.email]
    assert all(f"https://escrow.example.test{stage_page(design)}" in m.body for m in emails)


def test_a_payee_and_a_stranger_hear_nothing_of_a_due_date(seller, buyer):
    payee = UserFactory(email="payee@example.test")
    UserFactory(email="stranger@example.test")
    escrow = services.escrow_create(
        seller=seller,
        terms=EscrowTerms(title="Shared job", currency="USD", amount=100_000),
        milestones=[
            MilestoneInput(amount=40_000, payee=payee, due_date=timezone.now() + timedelta(hours=1)),
            MilestoneInput(amount=60_000),
        ],
    )
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    services.milestone_due_remind(milestone=first)
    Milestone.objects.filter(pk=first.pk).update(due_date=timezone.now() - timedelta(minutes=1))
    services.milestone_overdue_notify(milestone=refresh(first))
    dispatch()
    told_addresses = set(
        Notification.objects.filter(
            event__kind__in=["milestone.due_reminder_sent", "milestone.overdue"]
        ).values_list("email", flat=True)
    )
    assert told_addresses == {seller.email, buyer.email}


def test_both_kinds_reach_the_parties_webhook_endpoints(design, seller, buyer):
    endpoints = {
        who.email: WebhookEndpoint.objects.create(customer=who, url="https://93.184.216.34/")
        for who in (seller, buyer)
    }
    services.milestone_due_remind(milestone=design)
    Milestone.objects.filter(pk=design.pk).update(due_date=timezone.now() - timedelta(minutes=1))
    services.milestone_overdue_notify(milestone=refresh(design))
    dispatch()
    sent = {
        (d.endpoint_id, d.event_type)
        for d in WebhookDelivery.objects.filter(
            event_type__in=["milestone.due_reminder_sent", "milestone.overdue"]
        )
    }
    assert sent == {
        (endpoints[who].pk, kind)
        for who in (seller.email, buyer.email)
        for kind in ("milestone.due_reminder_sent", "milestone.overdue")
    }
