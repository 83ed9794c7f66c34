"""When an email cannot go: an address the mail server refuses fails at once with the server's
answer; a server that is down is retried with growing waits, then the email is recorded as
failed; a person who deleted their account, closed it or may no longer see the escrow is
skipped with the reason. None of it touches the money action it tells about."""

import smtplib
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse
from django.utils import timezone

from core.errors import InvalidState, NotFound
from escrows import services
from escrows.models import Milestone, MilestoneStatus
from escrows.services import EscrowTerms, MilestoneInput
from notifications import services as notification_services
from notifications.models import EmailStatus, Notification
from notifications.tasks import run_notification_timers
from tests.factories import UserFactory
from tests.helpers import (
    assert_ledger_invariants,
    clear_ledger_before_flush,
    make_escrow,
    milestones,
    refresh,
)
from tests.notifications.helpers import dispatch

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivered_notice(in_review):
    """The buyer's "stage delivered" notice, not sent yet; every other notice already sent."""
    dispatch()
    notice = Notification.objects.get(event__kind="milestone.completed")
    for other in Notification.objects.exclude(pk=notice.pk):
        notification_services.notification_email_send(notification_id=other.pk)
    mail.outbox.clear()
    return notice


def failing(exc):
    return mock.patch.object(EmailMultiAlternatives, "send", side_effect=exc)


def test_a_refused_address_fails_at_once_with_the_servers_answer(delivered_notice):
    refused = smtplib.SMTPRecipientsRefused({"buyer@example.test": (550, b"5.1.1 No such user")})
    with failing(refused):
        outcome = notification_services.notification_email_send(notification_id=delivered_notice.pk)
    assert outcome.retry_in is None
    failed = refresh(delivered_notice)
    assert (failed.email_status, failed.attempts) == (EmailStatus.FAILED, 1)
    assert failed.last_error == "The mail server refused the address: 550 5.1.1 No such user"
    later = timezone.now() + timedelta(days=1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert run_notification_timers()["notification_emails_retried"] == 0
    assert refresh(delivered_notice).attempts == 1, "no retries of a refused address"


def test_a_temporary_refusal_is_retried(delivered_notice):
    busy = smtplib.SMTPRecipientsRefused({"buyer@example.test": (450, b"4.2.1 Try again later")})
    with failing(busy):
        outcome = notification_services.notification_email_send(notification_id=delivered_notice.pk)
    assert outcome.retry_in is not None
    assert refresh(delivered_notice).email_status == EmailStatus.PENDING


def test_a_server_that_is_down_is_retried_with_growing_waits_then_failed(delivered_notice, settings):
    settings.NOTIFICATION_EMAIL_MAX_ATTEMPTS = 3
    settings.NOTIFICATION_EMAIL_BACKOFF_SECONDS = 60
    now = timezone.now()
    waits = []
    with failing(ConnectionRefusedError(111, "Connection refused")):
        for step in range(3):
            with mock.patch("django.utils.timezone.now", return_value=now):
                outcome = notification_services.notification_email_send(notification_id=delivered_notice.pk)
                # Not due yet: a duplicate task does not jump the wait.
                assert notification_services.notification_email_send(
                    notification_id=delivered_notice.pk
                ).skipped
            row = refresh(delivered_notice)
            if step < 2:
                assert row.email_status == EmailStatus.PENDING
                waits.append(outcome.retry_in)
                now = row.next_attempt_at
    assert waits == [timedelta(seconds=60), timedelta(seconds=120)]
    failed = refresh(delivered_notice)
    assert (failed.email_status, failed.attempts) == (EmailStatus.FAILED, 3)
    assert failed.last_error == "ConnectionRefusedError: [Errno 111] Connection refused"
    assert mail.outbox == []


def test_a_deleted_account_is_skipped_with_the_reason(seller):
    invited = UserFactory(email="invited@example.test")
    make_escrow(seller, buyer_email=invited.email)
    dispatch()
    notice = Notification.objects.get(recipient=invited)
    account = f"user:{invited.pk}"
    invited.delete()
    notification_services.notification_email_send(notification_id=notice.pk)
    skipped = refresh(notice)
    assert (skipped.email_status, skipped.last_error) == (EmailStatus.SKIPPED, "The account was deleted")
    assert skipped.recipient_key == account and skipped.attempts == 0
    assert mail.outbox == []


def test_a_closed_account_is_skipped(delivered_notice, buyer):
    buyer.is_active = False
    buyer.save(update_fields=["is_active"])
    notification_services.notification_email_send(notification_id=delivered_notice.pk)
    assert refresh(delivered_notice).last_error == "The account is closed"
    assert mail.outbox == []


def test_an_address_no_longer_named_as_buyer_is_skipped(seller):
    escrow = make_escrow(seller, buyer_email="first@example.test")
    dispatch()
    notice = Notification.objects.get(email="first@example.test")
    services.escrow_edit(
        escrow=escrow,
        by=seller,
        terms=EscrowTerms(
            title="Website build", currency="USD", amount=100_000, buyer_email="second@example.test"
        ),
        milestones=[MilestoneInput(amount=50_000), MilestoneInput(amount=50_000)],
    )
    notification_services.notification_email_send(notification_id=notice.pk)
    skipped = refresh(notice)
    assert (skipped.email_status, skipped.last_error) == (
        EmailStatus.SKIPPED,
        "The reader can no longer see this escrow",
    )
    assert mail.outbox == []


@pytest.fixture
def _empty_ledger_before_flush(transactional_db):
    yield
    clear_ledger_before_flush()


@pytest.mark.django_db(transaction=True)
def test_a_mail_server_failure_never_undoes_the_release(seller, buyer, _empty_ledger_before_flush):
    """Eager tasks, real commits: the release commits, then its notices fail to send."""
    escrow = make_escrow(seller, buyer_email=buyer.email)
    services.wallet_topup(customer=buyer, amount=escrow.total_charge, currency="USD")
    with failing(ConnectionRefusedError(111, "Connection refused")):
        services.escrow_fund(escrow=escrow, by=buyer)
        first = milestones(escrow)[0]
        services.milestone_complete(milestone=first, by=seller)
        released = services.milestone_release(milestone=first, by=buyer)
    assert released.status == MilestoneStatus.RELEASED
    assert Milestone.objects.get(pk=first.pk).status == MilestoneStatus.RELEASED
    notice = Notification.objects.get(event__kind="milestone.released")
    assert notice.email_status == EmailStatus.PENDING and notice.attempts == 1
    assert "Connection refused" in notice.last_error
    assert_ledger_invariants()


def test_staff_send_a_failed_email_again_from_the_admin(delivered_notice, admin_user, client, buyer):
    with failing(smtplib.SMTPRecipientsRefused({"b": (550, b"no")})):
        notification_services.notification_email_send(notification_id=delivered_notice.pk)
    assert refresh(delivered_notice).email_status == EmailStatus.FAILED
    client.force_login(admin_user)
    listing = client.get(
        reverse("admin:notifications_notification_changelist") + "?email_status__exact=failed"
    )
    assert listing.status_code == 200 and delivered_notice.subject in listing.text
    response = client.post(
        reverse("admin:notifications_notification_changelist"),
        {"action": "resend", "_selected_action": [delivered_notice.pk]},
        follow=True,
    )
    assert "1 emails queued again." in response.text
    again = refresh(delivered_notice)
    assert (again.email_status, again.attempts, again.last_error) == (EmailStatus.PENDING, 0, "")
    notification_services.notification_email_send(notification_id=delivered_notice.pk)
    assert refresh(delivered_notice).email_status == EmailStatus.SENT
    assert [m.to for m in mail.outbox] == [[buyer.email]]


def test_only_staff_resend_and_never_one_still_being_sent(delivered_notice, buyer, admin_user):
    with pytest.raises(NotFound):
        notification_services.notification_email_resend(notification=delivered_notice, by=buyer)
    with pytest.raises(InvalidState, match="still being sent"):
        notification_services.notification_email_resend(notification=delivered_notice, by=admin_user)
