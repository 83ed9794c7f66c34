"""The timer picks delivered milestones whose review ends within ESCROW_REVIEW_REMINDER_BEFORE
and calls milestone_review_remind for each; the service decides again from the locked rows. A
review that ends later (or was extended after the pick), one already over, and a stage no longer
in review get no reminder; one inside the window gets exactly one."""

from datetime import timedelta

import pytest
from django.utils import timezone

from escrows import services
from escrows.models import Event, Milestone
from tests.helpers import fund, make_escrow, milestones, refresh
from tests.notifications.helpers import emails_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _window(settings):
    settings.ESCROW_REVIEW_REMINDER_BEFORE = timedelta(days=2)
    settings.ESCROW_REVIEW_EXTENSION = timedelta(days=7)


@pytest.fixture
def delivered(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    services.milestone_complete(milestone=first, by=seller)
    return refresh(first)


def ending_in(milestone, delta):
    Milestone.objects.filter(pk=milestone.pk).update(review_deadline=timezone.now() + delta)
    return refresh(milestone)


def assert_no_reminder(milestone):
    assert services.milestone_review_remind(milestone=milestone) is None
    assert emails_of("milestone.review_reminder_sent") == []
    assert not Event.objects.filter(kind="milestone.review_reminder_sent").exists()
    assert refresh(milestone).reminder_sent_at is None


def test_a_review_ending_after_the_window_gets_no_reminder(delivered):
    assert_no_reminder(ending_in(delivered, timedelta(days=2, minutes=1)))


def test_a_review_extended_after_the_pick_gets_no_reminder(delivered, buyer):
    picked = ending_in(delivered, timedelta(days=1))
    services.milestone_review_extend(milestone=delivered, by=buyer)
    assert_no_reminder(picked)


def test_a_review_already_over_gets_no_reminder(delivered):
    assert_no_reminder(ending_in(delivered, -timedelta(minutes=1)))


def test_a_stage_confirmed_after_the_pick_gets_no_reminder(delivered, buyer):
    picked = ending_in(delivered, timedelta(days=1))
    services.milestone_release(milestone=delivered, by=buyer)
    assert services.milestone_review_remind(milestone=picked) is None
    assert emails_of("milestone.review_reminder_sent") == []


def test_a_review_ending_inside_the_window_gets_one_reminder(delivered, buyer):
    picked = ending_in(delivered, timedelta(days=2) - timedelta(minutes=1))
    assert services.milestone_review_remind(milestone=picked) is not None
    assert services.milestone_review_remind(milestone=picked) is None
    assert [m.to for m in emails_of("milestone.review_reminder_sent")] == [[buyer.email]]
