"""Due dates of stages: the seller is reminded once, ESCROW_DUE_REMINDER_BEFORE before the due
date of a stage not delivered yet, and both parties are told once when it passes. Only a pending
stage of a paid, open escrow: a delivered, disputed or settled stage, or an unpaid or closed
escrow, hears nothing. Each service decides again from the rows it reads under the escrow lock.
No money moves."""

from datetime import UTC, datetime, timedelta

import pytest

from core.errors import InvalidRequest
from escrows import services
from escrows.models import Event, Milestone, MilestoneStatus
from escrows.services import EscrowTerms, MilestoneInput
from tests.helpers import _dispute, at, fund, ledger_fingerprint, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
BEFORE = timedelta(hours=48)
SECOND = timedelta(seconds=1)


@pytest.fixture(autouse=True)
def _reminder_window(settings):
    settings.ESCROW_DUE_REMINDER_BEFORE = BEFORE


def due(milestone, when):
    Milestone.objects.filter(pk=milestone.pk).update(due_date=when)
    return refresh(milestone)


@pytest.fixture
def stage(funded):
    """Stage 1 (500.00 USD) of a paid escrow, due a day after NOW."""
    return due(milestones(funded)[1], NOW + timedelta(days=1))


# -- the reminder before the due date ----------------------------------------------------------


def test_the_seller_is_reminded_once_with_the_amount_and_the_due_date(stage, funded):
    before = ledger_fingerprint()
    with at(NOW):
        event = services.milestone_due_remind(milestone=stage)
        again = services.milestone_due_remind(milestone=stage)
    assert again is None
    assert (event.kind, event.actor, event.actor_kind, event.escrow_id, event.milestone_id) == (
        "milestone.due_reminder_sent",
        None,
        "system",
        funded.pk,
        stage.pk,
    )
    assert refresh(event).details == {
        "index": 1,
        "amount": 50_000,
        "dueDate": (NOW + timedelta(days=1)).isoformat(),
    }
    assert refresh(stage).due_reminder_sent_at == NOW
    assert refresh(stage).overdue_notified_at is None
    assert Event.objects.filter(kind="milestone.due_reminder_sent").count() == 1
    assert ledger_fingerprint() == before


@pytest.mark.parametrize(
    ("clock", "reminded"),
    [
        (NOW + timedelta(days=1) - BEFORE - SECOND, False),  # before the window opens
        (NOW + timedelta(days=1) - BEFORE, True),  # the window's first moment
        (NOW + timedelta(days=1) - SECOND, True),  # its last
        (NOW + timedelta(days=1), False),  # the due date itself: overdue, not due soon
    ],
)
def test_the_reminder_is_due_inside_its_window_only(stage, clock, reminded):
    with at(clock):
        assert (services.milestone_due_remind(milestone=stage) is not None) is reminded
    assert (refresh(stage).due_reminder_sent_at is not None) is reminded


def test_a_stage_without_a_due_date_is_never_reminded_nor_overdue(funded):
    first = milestones(funded)[0]
    with at(NOW):
        assert services.milestone_due_remind(milestone=first) is None
        assert services.milestone_overdue_notify(milestone=first) is None
    assert not Event.objects.filter(kind__in=["milestone.due_reminder_sent", "milestone.overdue"]).exists()


def deliver_first_two(escrow, seller):
    first, second = milestones(escrow)[:2]
    services.milestone_complete(milestone=first, by=seller)
    services.milestone_complete(milestone=second, by=seller)


def refund(escrow, seller):
    services.milestone_refund(milestone=milestones(escrow)[1], by=seller, reason="Not needed")


def release(escrow, buyer):
    services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    services.milestone_release(milestone=milestones(escrow)[1], by=buyer)


@pytest.mark.parametrize(
    ("change", "status"),
    [
        (lambda e, s, b: deliver_first_two(e, s), MilestoneStatus.COMPLETED),
        (lambda e, s, b: release(e, b), MilestoneStatus.RELEASED),
        (lambda e, s, b: refund(e, s), MilestoneStatus.REFUNDED),
        (lambda e, s, b: _dispute(milestones(e)[1]), MilestoneStatus.DISPUTED),
    ],
    ids=["delivered", "released", "refunded", "disputed"],
)
def test_a_stage_delivered_settled_or_disputed_hears_nothing(stage, funded, seller, buyer, change, status):
    change(funded, seller, buyer)
    assert refresh(stage).status == status
    for clock in (NOW, NOW + timedelta(days=2)):
        with at(clock):
            assert services.milestone_due_remind(milestone=stage) is None
            assert services.milestone_overdue_notify(milestone=stage) is None
    assert not Event.objects.filter(kind__in=["milestone.due_reminder_sent", "milestone.overdue"]).exists()
    m = refresh(stage)
    assert (m.due_reminder_sent_at, m.overdue_notified_at) == (None, None)


def test_an_unpaid_escrow_hears_nothing_until_it_is_paid(seller, buyer):
    escrow = make_escrow(seller)
    unpaid = due(milestones(escrow)[1], NOW + timedelta(days=1))
    with at(NOW):
        assert services.milestone_due_remind(milestone=unpaid) is None
    with at(NOW + timedelta(days=2)):
        assert services.milestone_overdue_notify(milestone=unpaid) is None
    fund(escrow, buyer)
    with at(NOW + timedelta(days=2)):
        assert services.milestone_overdue_notify(milestone=unpaid) is not None


def test_a_closed_escrow_hears_nothing(stage, funded, seller):
    services.escrow_refund(escrow=funded, by=seller)
    with at(NOW):
        assert services.milestone_due_remind(milestone=stage) is None
    with at(NOW + timedelta(days=2)):
        assert services.milestone_overdue_notify(milestone=stage) is None


# -- decided again under the lock ----------------------------------------------------------------


def test_a_stage_delivered_between_the_pick_and_the_lock_is_not_reminded(stage, funded, seller):
    with at(NOW):
        [picked] = services.milestones_due_reminder_due(NOW)
    deliver_first_two(funded, seller)
    with at(NOW):
        assert services.milestone_due_remind(milestone=picked) is None
    assert refresh(stage).due_reminder_sent_at is None
    assert not Event.objects.filter(kind="milestone.due_reminder_sent").exists()


def test_a_due_date_moved_between_the_pick_and_the_lock_is_not_reminded_early(stage):
    [picked] = services.milestones_due_reminder_due(NOW)
    due(stage, NOW + timedelta(days=5))
    with at(NOW):
        assert services.milestone_due_remind(milestone=picked) is None
    assert refresh(stage).due_reminder_sent_at is None


def test_an_overdue_stage_delivered_between_the_pick_and_the_lock_is_not_told(stage, funded, seller):
    later = NOW + timedelta(days=2)
    [picked] = services.milestones_overdue_due(later)
    deliver_first_two(funded, seller)
    with at(later):
        assert services.milestone_overdue_notify(milestone=picked) is None
    assert not Event.objects.filter(kind="milestone.overdue").exists()


def test_a_reminder_another_run_already_claimed_is_not_sent_again(stage):
    Milestone.objects.filter(pk=stage.pk).update(due_reminder_sent_at=NOW - SECOND)
    with at(NOW):
        assert services.milestone_due_remind(milestone=stage) is None
    assert not Event.objects.filter(kind="milestone.due_reminder_sent").exists()


# -- overdue -------------------------------------------------------------------------------------


def test_both_parties_are_told_once_when_the_due_date_passes(stage, funded):
    before = ledger_fingerprint()
    later = NOW + timedelta(days=1)
    with at(later):
        event = services.milestone_overdue_notify(milestone=stage)
        assert services.milestone_overdue_notify(milestone=stage) is None
    assert (event.kind, event.actor, event.milestone_id) == ("milestone.overdue", None, stage.pk)
    assert refresh(event).details == {"index": 1, "amount": 50_000, "dueDate": later.isoformat()}
    m = refresh(stage)
    assert m.overdue_notified_at == later and m.status == MilestoneStatus.PENDING
    assert Event.objects.filter(kind="milestone.overdue").count() == 1
    assert ledger_fingerprint() == before


def test_a_stage_is_not_overdue_before_its_due_date(stage):
    with at(NOW + timedelta(days=1) - SECOND):
        assert services.milestone_overdue_notify(milestone=stage) is None
        assert not refresh(stage).is_overdue()
    with at(NOW + timedelta(days=1)):
        assert refresh(stage).is_overdue()


# -- a new due date earns new reminders ------------------------------------------------------------


def test_moving_the_due_date_resets_both_reminders(stage):
    with at(NOW + timedelta(days=1)):
        services.milestone_overdue_notify(milestone=stage)
    m = refresh(stage)
    Milestone.objects.filter(pk=m.pk).update(due_reminder_sent_at=NOW)
    m = refresh(stage)
    new = NOW + timedelta(days=10)
    assert m.move_due_date(new) == ["due_date", "due_reminder_sent_at", "overdue_notified_at"]
    assert (m.due_date, m.due_reminder_sent_at, m.overdue_notified_at) == (new, None, None)
    assert m.move_due_date(new) == []


def test_the_same_due_date_keeps_what_was_sent(stage):
    Milestone.objects.filter(pk=stage.pk).update(due_reminder_sent_at=NOW)
    m = refresh(stage)
    assert m.move_due_date(m.due_date) == []
    assert m.due_reminder_sent_at == NOW


# -- setting a due date --------------------------------------------------------------------------


def refusal(call):
    with pytest.raises(InvalidRequest) as caught:
        call()
    return caught.value.message, caught.value.field, caught.value.for_person


def test_a_due_date_in_the_past_is_refused_naming_the_stage(seller):
    past = NOW - SECOND
    terms = EscrowTerms(title="Logo", currency="USD", amount=30_000)
    with at(NOW):
        assert refusal(
            lambda: services.escrow_create(
                seller=seller,
                terms=terms,
                milestones=[MilestoneInput(amount=10_000), MilestoneInput(amount=20_000, due_date=past)],
            )
        ) == (
            "milestones[1].dueDate must be in the future",
            "milestones",
            "Stage 2 due date: must be in the future.",
        )
        # Now is not in the future either.
        assert refusal(
            lambda: services.escrow_create(
                seller=seller,
                terms=terms,
                milestones=[MilestoneInput(amount=10_000, due_date=NOW), MilestoneInput(amount=20_000)],
            )
        )[2] == ("Stage 1 due date: must be in the future.")


def test_an_edit_keeps_no_due_date_that_has_passed(seller):
    with at(NOW - timedelta(days=3)):
        escrow = services.escrow_create(
            seller=seller,
            terms=EscrowTerms(title="Logo", currency="USD", amount=30_000),
            milestones=[MilestoneInput(amount=10_000, due_date=NOW - SECOND), MilestoneInput(amount=20_000)],
        )
    same = [MilestoneInput(amount=10_000, due_date=NOW - SECOND), MilestoneInput(amount=20_000)]
    with at(NOW):
        message = refusal(
            lambda: services.escrow_edit(
                escrow=escrow,
                by=seller,
                terms=EscrowTerms(title="Logo", currency="USD", amount=30_000),
                milestones=same,
            )
        )[2]
        assert message == "Stage 1 due date: must be in the future."
        later = [MilestoneInput(amount=10_000, due_date=NOW + SECOND), MilestoneInput(amount=20_000)]
        services.escrow_edit(
            escrow=escrow,
            by=seller,
            terms=EscrowTerms(title="Logo", currency="USD", amount=30_000),
            milestones=later,
        )
    assert [m.due_date for m in milestones(escrow)] == [NOW + SECOND, None]


def test_a_milestone_added_with_a_past_due_date_is_refused(seller):
    escrow = services.escrow_create(
        seller=seller,
        terms=EscrowTerms(title="Logo", currency="USD", amount=30_000),
        milestones=None,
    )
    with at(NOW):
        assert refusal(
            lambda: services.milestone_add(
                escrow=escrow, by=seller, index=0, milestone=MilestoneInput(amount=10_000, due_date=NOW)
            )
        ) == ("dueDate must be in the future", "dueDate", "Due date: must be in the future.")
        added = services.milestone_add(
            escrow=escrow, by=seller, index=0, milestone=MilestoneInput(amount=10_000, due_date=NOW + SECOND)
        )
    assert refresh(added).due_date == NOW + SECOND


def test_a_day_picked_on_the_form_is_due_by_its_end():
    day = datetime(2026, 12, 10, tzinfo=UTC).date()
    assert services.due_date_from_day(day) == datetime(2026, 12, 10, 23, 59, 59, tzinfo=UTC)
    assert services.due_date_from_day(None) is None
