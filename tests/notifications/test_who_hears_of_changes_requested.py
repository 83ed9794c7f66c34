"""The buyer sends a delivered stage back: the seller is told, with the note, the round, the
amount still held and one link to the stage; nobody else is."""

import pytest

from escrows import services
from notifications.models import Category
from tests.helpers import refresh
from tests.notifications.helpers import emails_of, told

pytestmark = pytest.mark.django_db


def test_the_seller_reads_the_note_and_where_to_deliver_again(paid, in_review, seller, buyer):
    services.milestone_request_changes(milestone=in_review, by=buyer, note="The header is cut off on phones.")
    notices = told("milestone.changes_requested")
    assert set(notices) == {seller.email}
    notice = notices[seller.email]
    assert notice.recipient == seller
    assert notice.subject == "Bea Buyer asked for changes to Stage 1 of “Website build”"
    assert notice.body_text == (
        "Bea Buyer sent Stage 1 (“Stage 0”) of “Website build” back for changes (round 1). Their note:\n\n"
        "“The header is cut off on phones.”\n\n"
        "The stage is in progress again and its 300.00 USD stays held; its review period has stopped. "
        "Make the changes and mark it delivered again: the buyer then has 14 days to review it."
    )
    assert notice.url == f"/escrows/{paid.public_id}/#stage-1"
    assert notice.category == Category.REQUESTS and notice.action_required


def test_each_round_is_told_with_its_own_number(paid, in_review, seller, buyer):
    services.milestone_request_changes(milestone=in_review, by=buyer, note="First")
    services.milestone_complete(milestone=refresh(in_review), by=seller, proof="again")
    services.milestone_request_changes(milestone=refresh(in_review), by=buyer, note="Second")
    notice = told("milestone.changes_requested")[seller.email]
    assert "back for changes (round 2)" in notice.body_text and "“Second”" in notice.body_text


def test_the_email_carries_the_note_and_the_link(paid, in_review, seller, buyer):
    services.milestone_request_changes(milestone=in_review, by=buyer, note="Use the new logo")
    [email] = emails_of("milestone.changes_requested")
    assert email.to == [seller.email]
    assert "Use the new logo" in email.body
    assert f"https://escrow.example.test/escrows/{paid.public_id}/#stage-1" in email.body
