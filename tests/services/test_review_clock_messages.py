"""What the review clock tells people, word for word: the reminder the buyer gets before a
delivered stage releases by itself, the event it leaves, the extension's event, and each refusal
of an extension."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from core.errors import Forbidden, InvalidState, NotFound
from escrows import services
from escrows.models import Event, Milestone
from escrows.services import EscrowTerms, MilestoneInput
from tests.factories import UserFactory
from tests.helpers import at, fund, milestones, refresh
from tests.notifications.helpers import emails_of

pytestmark = pytest.mark.django_db

DELIVERED = datetime(2030, 3, 4, 9, 30, tzinfo=timezone.UTC)


@pytest.fixture
def delivered(settings, buyer):
    settings.SITE_URL = "https://escrow.example.test/FX/"
    settings.ESCROW_REVIEW_REMINDER_BEFORE = timedelta(days=2)
    settings.ESCROW_REVIEW_EXTENSION = timedelta(days=7)
    seller = UserFactory(email="ada@example.test", first_name="Ada", last_name="Lovelace")
    with at(DELIVERED - timedelta(days=1)):
        escrow = services.escrow_create(
            seller=seller,
            buyer=buyer,
            terms=EscrowTerms(
                title="Shop redesign", currency="USD", amount=100_000, inspection_period=timedelta(days=5)
            ),
            milestones=[
                MilestoneInput(amount=30_000, title=""),
                MilestoneInput(amount=70_000, title="Launch"),
            ],
        )
        fund(escrow, buyer)
    with at(DELIVERED):
        services.milestone_complete(milestone=milestones(escrow)[0], by=seller, proof="done")
    return refresh(milestones(escrow)[0])


def test_the_reminder_email_says_what_releases_when_and_where_to_review(delivered, buyer):
    escrow = delivered.escrow
    deadline = DELIVERED + timedelta(days=5)
    with at(deadline - timedelta(days=2)):
        sent = services.milestone_review_remind(milestone=delivered)
    assert sent.reminder_sent_at == deadline - timedelta(days=2)
    [message] = emails_of("milestone.review_reminder_sent")
    assert message.to == [buyer.email]
    assert message.subject == "Review “Stage 1” by 09 Mar 2030, 09:30 UTC: it releases automatically"
    assert (
        "Ada Lovelace marked “Stage 1” of “Shop redesign” delivered.\n\n"
        "Unless you confirm or dispute it, 300.00 USD is released to Ada Lovelace automatically on "
        "09 Mar 2030, 09:30 UTC.\n\n"
        f"Review the stage: https://escrow.example.test/FX/escrows/{escrow.public_id}/#stage-1\n"
    ) in message.body
    event = Event.objects.get(kind="milestone.review_reminder_sent")
    assert (event.actor, event.customer, event.milestone_id) == (None, buyer, delivered.pk)
    assert event.details == {"index": 0, "reviewDeadline": deadline.isoformat()}
    assert refresh(delivered).reminder_sent_at == deadline - timedelta(days=2)


def test_no_reminder_outside_the_window_or_twice(delivered):
    deadline = DELIVERED + timedelta(days=5)
    with at(deadline - timedelta(days=2, seconds=1)):
        assert services.milestone_review_remind(milestone=delivered) is None
    with at(deadline):
        assert services.milestone_review_remind(milestone=delivered) is None
    with at(deadline - timedelta(days=2)):
        assert services.milestone_review_remind(milestone=delivered) is not None
        assert services.milestone_review_remind(milestone=refresh(delivered)) is None
    assert len(emails_of("milestone.review_reminder_sent")) == 1


def test_a_reminder_marks_only_its_own_stage(delivered, buyer):
    with at(DELIVERED - timedelta(days=1)):
        other = services.escrow_create(
            seller=delivered.escrow.seller,
            buyer=buyer,
            terms=EscrowTerms(
                title="Other", currency="USD", amount=2_000, inspection_period=timedelta(days=5)
            ),
            milestones=[MilestoneInput(amount=1_000), MilestoneInput(amount=1_000)],
        )
        fund(other, buyer)
    with at(DELIVERED):
        services.milestone_complete(milestone=milestones(other)[0], by=other.seller, proof="done")
    with at(DELIVERED + timedelta(days=3)):
        assert services.milestone_review_remind(milestone=delivered) is not None
    assert refresh(milestones(other)[0]).reminder_sent_at is None
    assert len(emails_of("milestone.review_reminder_sent")) == 1


def test_no_reminder_before_the_buyer_has_paid(settings, seller, buyer):
    settings.ESCROW_REVIEW_REMINDER_BEFORE = timedelta(days=2)
    escrow = services.escrow_create(
        seller=seller,
        buyer=buyer,
        terms=EscrowTerms(title="Unpaid", currency="USD", amount=2_000, inspection_period=timedelta(days=5)),
        milestones=[MilestoneInput(amount=1_000), MilestoneInput(amount=1_000)],
    )
    with at(DELIVERED):
        services.milestone_complete(milestone=milestones(escrow)[0], by=seller, proof="done")
    first = refresh(milestones(escrow)[0])
    assert first.review_deadline is not None
    with at(first.review_deadline - timedelta(days=1)):
        assert services.milestone_review_remind(milestone=first) is None
    assert emails_of("milestone.review_reminder_sent") == []


def test_a_reminder_is_not_sent_when_the_row_was_already_marked(delivered):
    deadline = DELIVERED + timedelta(days=5)
    with at(deadline - timedelta(days=1)):
        stale = refresh(delivered)
        Milestone.objects.filter(pk=delivered.pk).update(reminder_sent_at=timezone.now())
        assert services.milestone_review_remind(milestone=stale) is None
    assert emails_of("milestone.review_reminder_sent") == []


def test_the_extension_event_records_both_deadlines(delivered, buyer):
    with at(DELIVERED + timedelta(days=1)):
        services.milestone_review_extend(milestone=delivered, by=buyer)
    extended = refresh(delivered)
    assert extended.review_deadline == DELIVERED + timedelta(days=12)
    assert extended.review_extended_at == DELIVERED + timedelta(days=1)
    event = Event.objects.get(kind="milestone.review_extended")
    assert (event.actor, event.milestone_id) == (buyer, delivered.pk)
    assert event.details == {
        "index": 0,
        "previousDeadline": (DELIVERED + timedelta(days=5)).isoformat(),
        "reviewDeadline": (DELIVERED + timedelta(days=12)).isoformat(),
        "extensionSeconds": 7 * 24 * 3600,
    }


def test_each_refused_extension_says_why(delivered, buyer, stranger):
    escrow = delivered.escrow
    with pytest.raises(Forbidden, match="^Only the buyer can extend the review period$"):
        services.milestone_review_extend(milestone=delivered, by=escrow.seller)
    with pytest.raises(NotFound, match="^Escrow not found$"):
        services.milestone_review_extend(milestone=delivered, by=stranger)
    second = milestones(escrow)[1]
    with pytest.raises(
        InvalidState, match="^Only a delivered milestone that is waiting for your review can be extended$"
    ):
        services.milestone_review_extend(milestone=second, by=buyer)
    with (
        at(DELIVERED + timedelta(days=5)),
        pytest.raises(InvalidState, match="^The review period of this milestone has already ended$"),
    ):
        services.milestone_review_extend(milestone=delivered, by=buyer)
    with at(DELIVERED + timedelta(days=1)):
        services.milestone_review_extend(milestone=delivered, by=buyer)
        with pytest.raises(
            InvalidState, match="^The review period of this milestone was already extended once$"
        ) as refused:
            services.milestone_review_extend(milestone=delivered, by=buyer)
    assert refused.value.code == "already_extended"
