"""The two clock-driven steps of a dispute, at their edges: a reminder is due from
ESCROW_DISPUTE_REMINDER_BEFORE before the deadline until the deadline itself (not at it), once per
dispute, with the opener's request in its event; the request is due from the deadline on. Only
disputes nobody answered are picked: a contested one waits for an arbiter, and a settled or
withdrawn one is over."""

from datetime import UTC, datetime, timedelta

import pytest

from escrows import services
from escrows.models import Dispute, Event
from tests.helpers import at, milestones, refresh

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
BEFORE = timedelta(hours=48)
SECOND = timedelta(seconds=1)


@pytest.fixture(autouse=True)
def _reminder_window(settings):
    settings.ESCROW_DISPUTE_REMINDER_BEFORE = BEFORE


def open_with_deadline(escrow, index, by, deadline, **kw):
    dispute = services.dispute_open(
        escrow=escrow, milestone=milestones(escrow)[index], by=by, reason="Late", **kw
    )
    Dispute.objects.filter(pk=dispute.pk).update(deadline=deadline)
    return refresh(dispute)


def test_a_reminder_is_due_inside_the_window_only(funded, buyer):
    inside_last = open_with_deadline(funded, 0, buyer, NOW + BEFORE)
    inside_first = open_with_deadline(funded, 1, buyer, NOW + SECOND)
    open_with_deadline(funded, 2, buyer, NOW + BEFORE + SECOND)
    assert set(services.disputes_reminder_due(NOW)) == {inside_last, inside_first}
    Dispute.objects.filter(pk=inside_first.pk).update(deadline=NOW)
    assert list(services.disputes_reminder_due(NOW)) == [inside_last]


def test_the_reminder_event_says_when_and_what_and_is_written_once(funded, seller, buyer):
    dispute = open_with_deadline(
        funded,
        1,
        seller,
        NOW + BEFORE,
        default_outcome="split",
        default_seller_amount=20_000,
        default_buyer_amount=30_000,
    )
    other = open_with_deadline(funded, 0, buyer, NOW + BEFORE)
    with at(NOW):
        event = services.dispute_deadline_remind(dispute=dispute)
    assert (event.kind, event.actor, event.actor_kind, event.escrow_id, event.milestone_id) == (
        "dispute.deadline_reminder_sent",
        None,
        "system",
        funded.pk,
        milestones(funded)[1].pk,
    )
    assert refresh(event).details == {
        "dispute": dispute.public_id,
        "deadline": (NOW + BEFORE).isoformat(),
        "defaultOutcome": "split",
        "defaultSellerAmount": 20_000,
        "defaultBuyerAmount": 30_000,
    }
    # That dispute was reminded; the other one on the same escrow was not.
    assert list(services.disputes_reminder_due(NOW)) == [other]
    with at(NOW):
        assert services.dispute_deadline_remind(dispute=dispute) is None
        assert services.dispute_deadline_remind(dispute=other) is not None
    assert Event.objects.filter(kind="dispute.deadline_reminder_sent").count() == 2


@pytest.mark.parametrize(
    "clock",
    [
        pytest.param(NOW - SECOND, id="before-the-window"),
        pytest.param(NOW + BEFORE, id="at-the-deadline"),
        pytest.param(NOW + BEFORE + SECOND, id="past-the-deadline"),
    ],
)
def test_no_reminder_outside_the_window(funded, buyer, clock):
    dispute = open_with_deadline(funded, 1, buyer, NOW + BEFORE)
    with at(clock):
        assert services.dispute_deadline_remind(dispute=dispute) is None
    assert not Event.objects.filter(kind="dispute.deadline_reminder_sent").exists()


def test_the_reminder_is_due_a_second_before_the_deadline_and_at_the_window_start(funded, buyer):
    dispute = open_with_deadline(funded, 1, buyer, NOW + BEFORE)
    with at(NOW):
        assert services.dispute_deadline_remind(dispute=dispute) is not None
    other = open_with_deadline(funded, 0, buyer, NOW + BEFORE)
    with at(NOW + BEFORE - SECOND):
        assert services.dispute_deadline_remind(dispute=other) is not None


def test_a_settled_withdrawn_or_contested_dispute_is_neither_reminded_nor_defaulted(
    funded, seller, buyer, admin_user
):
    withdrawn = open_with_deadline(funded, 0, buyer, NOW + SECOND)
    services.dispute_withdraw(dispute=withdrawn, by=buyer)
    resolved = open_with_deadline(funded, 1, buyer, NOW + SECOND)
    services.dispute_resolve(dispute=resolved, by=admin_user, outcome="refund")
    contested = open_with_deadline(funded, 2, buyer, NOW + SECOND)
    services.dispute_answer(dispute=contested, by=seller, answer="contest")
    assert list(services.disputes_reminder_due(NOW)) == []
    with at(NOW):
        for dispute in (withdrawn, contested):
            assert services.dispute_deadline_remind(dispute=dispute) is None
    assert list(services.disputes_due(NOW + SECOND)) == []
    with at(NOW + SECOND):
        assert services.dispute_apply_default(dispute=contested) is None
    assert refresh(contested).status == "ANSWERED"


def test_the_default_outcome_is_due_from_the_deadline_on(funded, buyer):
    due = open_with_deadline(funded, 0, buyer, NOW)
    open_with_deadline(funded, 1, buyer, NOW + SECOND)
    assert list(services.disputes_due(NOW)) == [due]
    assert list(services.disputes_due(NOW - SECOND)) == []
    with at(NOW):
        assert list(services.disputes_due()) == [due]
