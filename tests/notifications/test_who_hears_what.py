"""For every event: who is told, what the subject says, and the one link where they act; and who
is not told (the person who acted, a stranger, a payee about anything but their own stage)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from escrows import services
from escrows.models import Escrow, Event, Milestone, Settlement
from escrows.services import MilestoneInput
from notifications.models import Category, Notification
from notifications.rules import when
from tests.factories import UserFactory
from tests.helpers import fund, make_escrow, milestones, refresh
from tests.notifications.helpers import dispatch, nobody_told, told

pytestmark = pytest.mark.django_db


def page(escrow: Escrow, anchor: str = "") -> str:
    return f"/escrows/{escrow.public_id}/" + (f"#{anchor}" if anchor else "")


# -- invitation ----------------------------------------------------------------------------------


def test_an_invited_address_without_an_account_gets_the_payment_link(seller):
    escrow = make_escrow(seller, buyer_email="New.Buyer@Example.test")
    [notice] = told("escrow.created").values()
    assert (notice.recipient, notice.email) == (None, "new.buyer@example.test")
    assert notice.recipient_key == "email:new.buyer@example.test"
    assert notice.subject == "Sam Seller asks you to pay 1,000.00 USD for “Website build”"
    assert notice.url == f"/pay/{escrow.payment_token}"
    assert "15.00 USD" in notice.body_text and "1,015.00 USD in all" in notice.body_text
    assert notice.category == Category.ACCOUNT and notice.action_required


def test_an_invited_address_with_an_account_sees_it_in_the_app(seller, buyer):
    make_escrow(seller, buyer_email="BUYER@example.test")
    [notice] = told("escrow.created").values()
    assert notice.recipient == buyer


def test_an_escrow_naming_no_buyer_tells_nobody(seller):
    make_escrow(seller)
    assert nobody_told("escrow.created")


def test_sending_the_invitation_again_tells_the_address_again(seller):
    escrow = make_escrow(seller, buyer_email="invited@example.test")
    Event.objects.create(
        kind="escrow.invitation_resent",
        escrow=escrow,
        actor=seller,
        details={"buyerEmail": "invited@example.test"},
    )
    dispatch()
    invitations = Notification.objects.filter(email="invited@example.test").order_by("pk")
    assert [n.event.kind for n in invitations] == ["escrow.created", "escrow.invitation_resent"]


def test_an_edit_that_names_a_new_buyer_invites_the_new_address_only(seller):
    escrow = make_escrow(seller, buyer_email="first@example.test")
    dispatch()
    services.escrow_edit(
        escrow=escrow,
        by=seller,
        terms=services.EscrowTerms(
            title="Website build", currency="USD", amount=100_000, buyer_email="second@example.test"
        ),
        milestones=[MilestoneInput(amount=60_000, title="A"), MilestoneInput(amount=40_000, title="B")],
    )
    assert set(told("escrow.edited")) == {"second@example.test"}
    services.escrow_edit(
        escrow=refresh(escrow),
        by=seller,
        terms=services.EscrowTerms(
            title="Website build, v2", currency="USD", amount=100_000, buyer_email="second@example.test"
        ),
        milestones=[MilestoneInput(amount=60_000, title="A"), MilestoneInput(amount=40_000, title="B")],
    )
    dispatch()
    assert Notification.objects.filter(email="second@example.test").count() == 1, (
        "same buyer: no new invitation"
    )


# -- payment, delivery, release ----------------------------------------------------------------


def test_funded_tells_the_seller_to_start_and_not_the_buyer_who_paid(paid, seller, buyer):
    notices = told("escrow.funded")
    assert set(notices) == {seller.email}
    notice = notices[seller.email]
    assert notice.subject == "“Website build” is paid: 1,000.00 USD is held, start work"
    assert notice.url == page(paid, "stage-1")
    assert "Bea Buyer paid 1,000.00 USD" in notice.body_text
    assert notice.category == Category.MONEY and notice.action_required


def test_delivered_asks_the_buyer_to_review_by_the_deadline(paid, in_review, seller, buyer):
    notices = told("milestone.completed")
    assert set(notices) == {buyer.email}
    notice = notices[buyer.email]
    deadline = when(refresh(in_review).review_deadline)
    assert notice.subject == f"Stage 1 delivered on “Website build”: review by {deadline}"
    assert f"300.00 USD is released to Sam Seller automatically on {deadline}" in notice.body_text
    assert "Their note: done" in notice.body_text
    assert notice.url == page(paid, "stage-1")
    assert notice.action_required and notice.category == Category.REQUESTS


def test_release_tells_the_seller_the_amount_and_not_the_buyer_who_released(paid, in_review, seller, buyer):
    services.milestone_release(milestone=in_review, by=buyer)
    notices = told("milestone.released")
    assert set(notices) == {seller.email}
    assert notices[seller.email].subject == "300.00 USD released for Stage 1 of “Website build”"
    assert "Bea Buyer released Stage 1" in notices[seller.email].body_text
    assert notices[seller.email].url == page(paid, "stage-1")


def test_auto_release_tells_both_parties_it_released_itself(paid, in_review, seller, buyer):
    Milestone.objects.filter(pk=in_review.pk).update(review_deadline=timezone.now() - timedelta(minutes=1))
    assert services.milestone_auto_release(milestone=in_review) is not None
    notices = told("milestone.released")
    assert set(notices) == {seller.email, buyer.email}
    assert "released automatically" in notices[seller.email].body_text
    assert notices[buyer.email].subject == "Stage 1 of “Website build” released: 300.00 USD to Sam Seller"


def test_completed_tells_both(paid, seller, buyer):
    for m in milestones(paid):
        services.milestone_complete(milestone=m, by=seller)
        services.milestone_release(milestone=m, by=buyer)
    notices = told("escrow.completed")
    assert set(notices) == {seller.email, buyer.email}
    assert {n.subject for n in notices.values()} == {"“Website build” is complete"}


def test_review_reminder_goes_to_the_buyer(paid, in_review, buyer, settings):
    deadline = refresh(in_review).review_deadline
    settings.ESCROW_REVIEW_REMINDER_BEFORE = deadline - timezone.now() + timedelta(hours=1)
    assert services.milestone_review_remind(milestone=refresh(in_review)) is not None
    notices = told("milestone.review_reminder_sent")
    assert set(notices) == {buyer.email}
    assert notices[buyer.email].subject == f"Review “Stage 0” by {when(deadline)}: it releases automatically"
    assert notices[buyer.email].category == Category.REMINDERS
    assert notices[buyer.email].url == page(paid, "stage-1")


def test_review_extension_tells_the_seller_the_new_deadline(paid, in_review, seller, buyer):
    services.milestone_review_extend(milestone=in_review, by=buyer)
    notices = told("milestone.review_extended")
    assert set(notices) == {seller.email}
    assert when(refresh(in_review).review_deadline) in notices[seller.email].body_text


# -- a payee hears only of their own stage ------------------------------------------------------


def test_a_payee_hears_only_of_the_money_of_their_own_stage(seller, buyer):
    payee = UserFactory(email="payee@example.test", first_name="Pat", last_name="Payee")
    escrow = services.escrow_create(
        seller=seller,
        terms=services.EscrowTerms(title="Shared job", currency="USD", amount=100_000),
        milestones=[MilestoneInput(amount=40_000, title="Mine"), MilestoneInput(amount=60_000, payee=payee)],
    )
    fund(escrow, buyer)
    first, second = milestones(escrow)
    for m in (first, second):
        services.milestone_complete(milestone=m, by=seller)
        services.milestone_release(milestone=m, by=buyer)
    dispatch()
    [notice] = Notification.objects.filter(email=payee.email)
    assert notice.event.kind == "milestone.released" and notice.event.milestone_id == second.pk
    assert notice.subject == "600.00 USD released to you for Stage 2 of “Shared job”"
    assert notice.url == "/balance/" and notice.escrow is None
    seller_side = told("milestone.released")[seller.email]
    assert "600.00 USD went to Pat Payee" in seller_side.body_text


# -- disputes ------------------------------------------------------------------------------------


def test_a_dispute_opened_asks_the_other_party_to_answer_with_the_openers_request(
    paid, in_review, seller, buyer
):
    dispute = services.dispute_open(escrow=paid, milestone=in_review, by=buyer, reason="Not as agreed")
    notices = told("dispute.opened")
    assert set(notices) == {seller.email, buyer.email}
    to_seller, to_buyer = notices[seller.email], notices[buyer.email]
    deadline = when(dispute.deadline)
    assert (
        to_seller.subject == f"Bea Buyer opened a dispute on Stage 1 of “Website build”: answer by {deadline}"
    )
    assert "Not as agreed" in to_seller.body_text
    assert (
        f"If the seller has not answered by {deadline}, the buyer's request applies: 150.00 USD goes to "
        "Sam Seller and 150.00 USD back to Bea Buyer. If they contest, an administrator decides."
        in to_seller.body_text
    )
    assert to_seller.action_required and not to_buyer.action_required
    assert to_buyer.subject == "Your dispute on Stage 1 of “Website build” is open"
    assert to_seller.url == f"/escrows/{paid.public_id}/disputes/{dispute.public_id}/"
    assert to_seller.category == Category.DISPUTES


def test_a_contested_dispute_tells_both_that_an_administrator_decides(paid, in_review, seller, buyer):
    dispute = services.dispute_open(escrow=paid, milestone=in_review, by=buyer, reason="Broken")
    services.dispute_answer(dispute=dispute, by=seller, answer="contest", text="It works")
    notices = told("dispute.answered")
    assert set(notices) == {seller.email, buyer.email}
    assert notices[buyer.email].subject == "Sam Seller contested your dispute on Stage 1 of “Website build”"
    assert "It works" in notices[buyer.email].body_text
    for notice in notices.values():
        assert "An administrator will decide; nothing moves by itself meanwhile." in notice.body_text
        # The deadline no longer applies: nobody is told of a request that would apply then.
        assert when(dispute.deadline) not in notice.body_text and "request applies" not in notice.body_text


def test_a_resolution_tells_both_parties_and_not_the_administrator(
    paid, in_review, seller, buyer, admin_user
):
    dispute = services.dispute_open(escrow=paid, milestone=in_review, by=buyer, reason="Broken")
    services.dispute_resolve(dispute=dispute, by=admin_user, outcome="refund")
    notices = told("dispute.resolved")
    assert set(notices) == {seller.email, buyer.email}
    notice = notices[buyer.email]
    assert (
        notice.subject
        == "Dispute on Stage 1 of “Website build” resolved: 300.00 USD is refunded to Bea Buyer"
    )
    assert notice.body_text.startswith("An administrator decided")
    dispatch()
    assert not Notification.objects.filter(email=admin_user.email).exists()
    assert nobody_told("milestone.refunded"), "the refund is told as the resolution, once"


def test_the_default_outcome_at_the_deadline_says_so(paid, in_review, seller, buyer):
    from escrows.models import Dispute

    dispute = services.dispute_open(escrow=paid, milestone=in_review, by=seller, reason="Unpaid work")
    Dispute.objects.filter(pk=dispute.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    services.dispute_apply_default(dispute=refresh(dispute))
    notice = told("dispute.resolved")[buyer.email]
    assert notice.body_text.startswith(
        "The buyer did not answer by the deadline, so the seller's request applied"
    )


def test_the_dispute_deadline_reminder_tells_both_the_default_outcome_and_when(
    paid, in_review, seller, buyer, settings
):
    from escrows.models import Dispute

    dispute = services.dispute_open(escrow=paid, milestone=in_review, by=buyer, reason="Broken")
    settings.ESCROW_DISPUTE_REMINDER_BEFORE = timedelta(days=2)
    Dispute.objects.filter(pk=dispute.pk).update(deadline=timezone.now() + timedelta(days=1))
    deadline = refresh(dispute).deadline
    assert list(services.disputes_reminder_due()) == [refresh(dispute)]
    assert services.dispute_deadline_remind(dispute=dispute) is not None
    assert services.dispute_deadline_remind(dispute=dispute) is None, "once"
    assert list(services.disputes_reminder_due()) == []
    notices = told("dispute.deadline_reminder_sent")
    assert set(notices) == {seller.email, buyer.email}
    assert notices[seller.email].subject == (
        f"Dispute on Stage 1 of “Website build”: the buyer's request applies on {when(deadline)}"
    )
    assert "150.00 USD goes to Sam Seller and 150.00 USD back to Bea Buyer" in notices[seller.email].body_text


def test_a_withdrawn_dispute_tells_the_other_party(paid, in_review, seller, buyer):
    dispute = services.dispute_open(escrow=paid, milestone=in_review, by=buyer, reason="Broken")
    services.dispute_withdraw(dispute=dispute, by=buyer)
    assert set(told("dispute.withdrawn")) == {seller.email}


# -- refund requests -----------------------------------------------------------------------------


def test_refund_request_accept_and_decline(paid, seller, buyer):
    request = services.refund_request_create(escrow=paid, by=buyer, reason="Changed my mind")
    notices = told("refund.requested")
    assert set(notices) == {seller.email}
    assert notices[seller.email].subject == "Bea Buyer asks for a refund of 1,000.00 USD on “Website build”"
    assert notices[seller.email].url == page(paid, "refunds") and notices[seller.email].action_required
    services.refund_request_decline(refund_request=request, by=seller, reason="Work has started")
    declined = told("refund.declined")
    assert set(declined) == {buyer.email}
    assert "Work has started" in declined[buyer.email].body_text
    again = services.refund_request_create(escrow=paid, by=buyer, reason="Please")
    services.refund_request_accept(refund_request=again, by=seller)
    accepted = told("refund.accepted")
    assert set(accepted) == {buyer.email}
    assert accepted[buyer.email].subject == "Refund of 1,000.00 USD accepted on “Website build”"
    assert "goes back to your balance" in accepted[buyer.email].body_text
    assert accepted[buyer.email].category == Category.MONEY


# -- mutual cancellation -------------------------------------------------------------------------


def test_cancellation_proposed_accepted_and_declined(paid, seller, buyer):
    proposal = services.cancellation_propose(
        escrow=paid, by=seller, buyer_amount=70_000, seller_amount=30_000
    )
    proposed = told("cancellation.proposed")
    assert set(proposed) == {buyer.email}
    assert proposed[buyer.email].subject == "Sam Seller proposes to cancel “Website build”"
    assert "700.00 USD back to Bea Buyer and 300.00 USD to Sam Seller" in proposed[buyer.email].body_text
    services.cancellation_decline(proposal=proposal, by=buyer, reason="No")
    assert set(told("cancellation.declined")) == {seller.email}
    again = services.cancellation_propose(escrow=paid, by=buyer, buyer_amount=100_000, seller_amount=0)
    services.cancellation_accept(proposal=again, by=seller)
    accepted = told("cancellation.accepted")
    assert set(accepted) == {buyer.email}
    assert accepted[buyer.email].subject == "Sam Seller accepted cancelling “Website build”"
    assert nobody_told("milestone.refunded") and nobody_told("escrow.cancelled"), (
        "told once, as the acceptance"
    )


# -- unpaid escrows: reminder and expiry ------------------------------------------------------------


def test_an_unpaid_escrow_is_reminded_once_then_expires(seller, settings):
    settings.ESCROW_EXPIRY_REMINDER_BEFORE = timedelta(days=3)
    escrow = make_escrow(seller, buyer_email="invited@example.test")
    Escrow.objects.filter(pk=escrow.pk).update(expires_at=timezone.now() + timedelta(days=2))
    assert list(services.escrows_expiry_reminder_due()) == [refresh(escrow)]
    assert services.escrow_expiry_remind(escrow=escrow) is not None
    assert services.escrow_expiry_remind(escrow=escrow) is None, "once"
    notices = told("escrow.expiry_reminder_sent")
    assert set(notices) == {seller.email, "invited@example.test"}
    expires = when(refresh(escrow).expires_at)
    assert notices["invited@example.test"].subject == f"Pay for “Website build” by {expires}, or it expires"
    assert notices["invited@example.test"].url == f"/pay/{escrow.payment_token}"
    assert notices[seller.email].subject == f"“Website build” expires unpaid on {expires}"
    Escrow.objects.filter(pk=escrow.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    services.escrow_expire(escrow=escrow)
    expired = told("escrow.cancelled")
    assert set(expired) == {seller.email, "invited@example.test"}
    assert {n.subject for n in expired.values()} == {"“Website build” expired unpaid"}


def test_cancelling_an_unpaid_escrow_tells_the_other_party(seller, buyer):
    escrow = make_escrow(seller, buyer_email=buyer.email)
    services.escrow_cancel(escrow=escrow, by=seller)
    notices = told("escrow.cancelled")
    assert set(notices) == {buyer.email}
    assert notices[buyer.email].subject == "“Website build” was cancelled"


# -- payouts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("destination", "kind", "subject"),
    [
        ("bank-1", "settlement.paid", "Payout of 300.00 USD sent"),
        (
            "reject-bank",
            "settlement.failed",
            "Payout of 300.00 USD failed: the money is back in your balance",
        ),
    ],
)
def test_a_payout_is_told_to_its_owner_only(seller, buyer, destination, kind, subject):
    escrow = make_escrow(
        seller, parts=(30_000, 70_000), settlement_method="OFF_RAMP_MOCK", settlement_destination=destination
    )
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    services.milestone_complete(milestone=first, by=seller)
    services.milestone_release(milestone=first, by=buyer)
    services.settlement_process(settlement_id=Settlement.objects.get(escrow=escrow).pk)
    notices = told(kind)
    assert set(notices) == {seller.email}
    assert notices[seller.email].subject == subject
    assert notices[seller.email].url == "/balance/" and notices[seller.email].escrow is None


# -- strangers -----------------------------------------------------------------------------------


def test_a_stranger_is_never_told_of_another_persons_escrow(seller, buyer, stranger, admin_user):
    other_buyer = UserFactory(email="other@example.test")
    theirs = make_escrow(stranger, buyer_email=other_buyer.email, title="Their deal")
    ours = make_escrow(seller, buyer_email=buyer.email)
    for escrow, b, s in ((ours, buyer, seller), (theirs, other_buyer, stranger)):
        fund(escrow, b)
        first = milestones(escrow)[0]
        services.milestone_complete(milestone=first, by=s)
        dispute = services.dispute_open(escrow=escrow, milestone=first, by=b, reason="No")
        services.dispute_resolve(dispute=dispute, by=admin_user, outcome="release")
    dispatch()
    ours_told = set(Notification.objects.filter(event__escrow=ours).values_list("email", flat=True))
    theirs_told = set(Notification.objects.filter(event__escrow=theirs).values_list("email", flat=True))
    assert ours_told == {seller.email, buyer.email}
    assert theirs_told == {stranger.email, other_buyer.email}
    assert not Notification.objects.filter(email=admin_user.email).exists()


def test_a_withdrawal_payout_is_told_to_its_owner(seller):
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    settlement = services.wallet_withdraw(customer=seller, amount=2_000, currency="USD", destination="iban-1")
    services.settlement_process(settlement_id=settlement.pk)
    notices = told("settlement.paid")
    assert set(notices) == {seller.email}
    assert notices[seller.email].body_text.startswith("20.00 USD was paid out to iban-1 (reference ")
