"""Milestones delivered, confirmed and released, in order; a standard escrow confirmed whole;
the review timer's auto-release. Every path and every refusal, with the ledger invariants."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core.errors import Forbidden, InvalidRequest, InvalidState, NotFound
from escrows import ledger, services
from escrows.ledger import cached_balance, hold_account
from escrows.models import (
    ActorKind,
    EscrowStatus,
    Event,
    LedgerTransaction,
    Milestone,
    MilestoneStatus,
    Settlement,
    SettlementStatus,
)
from escrows.selectors import balances_for_user, wallet_balance
from escrows.services import EscrowTerms, MilestoneInput
from tests.api.conftest import client_for as api_client_for
from tests.factories import UserFactory
from tests.helpers import (
    assert_ledger_invariants,
    at,
    fund,
    ledger_fingerprint,
    make_escrow,
    milestones,
    refresh,
)
from tests.views.conftest import client_for

pytestmark = pytest.mark.django_db


def test_full_flow_complete_and_release_each_stage(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    for m in milestones(escrow):
        services.milestone_complete(
            milestone=m, by=seller, completed_by="0xabc", proof="hash", proof_uri="https://x.test/p"
        )
        assert_ledger_invariants()
        services.milestone_release(milestone=m, by=buyer)
        assert_ledger_invariants()
    escrow = refresh(escrow)
    assert escrow.status == EscrowStatus.COMPLETED
    assert all(m.status == MilestoneStatus.RELEASED for m in milestones(escrow))
    assert wallet_balance(seller, "USD") == 100_000
    assert wallet_balance(buyer, "USD") == 0


def test_buyer_may_release_a_stage_the_seller_never_marked(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    services.milestone_release(milestone=first, by=buyer)
    assert refresh(first).status == MilestoneStatus.RELEASED
    assert_ledger_invariants()


def test_released_milestone_cannot_be_released_again(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    services.milestone_release(milestone=first, by=buyer)
    before = ledger_fingerprint()
    with pytest.raises(InvalidRequest, match="Milestone already released"):
        services.milestone_release(milestone=first, by=buyer)
    with pytest.raises(InvalidRequest, match="Milestone already released"):
        services.milestone_complete(milestone=first, by=seller)
    assert ledger_fingerprint() == before
    assert LedgerTransaction.objects.filter(kind="RELEASE", milestone=first).count() == 1


def test_out_of_order_is_refused(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    _, second, third = milestones(escrow)
    before = ledger_fingerprint()
    with pytest.raises(InvalidRequest, match=r"Previous milestone \(index 0\) must be completed first"):
        services.milestone_complete(milestone=second, by=seller)
    with pytest.raises(InvalidRequest, match=r"Previous milestone \(index 1\) must be released first"):
        services.milestone_release(milestone=third, by=buyer)
    assert ledger_fingerprint() == before


def test_complete_twice_is_refused(seller, buyer):
    escrow = make_escrow(seller)
    first = milestones(escrow)[0]
    services.milestone_complete(milestone=first, by=seller)
    with pytest.raises(InvalidRequest, match="Milestone already completed"):
        services.milestone_complete(milestone=first, by=seller)


def test_wrong_actors(seller, buyer, stranger):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    before = ledger_fingerprint()
    with pytest.raises(Forbidden, match="Only the buyer"):
        services.milestone_release(milestone=first, by=seller)
    with pytest.raises(Forbidden, match="Only the seller"):
        services.milestone_complete(milestone=first, by=buyer)
    with pytest.raises(NotFound):
        services.milestone_release(milestone=first, by=stranger)
    with pytest.raises(NotFound):
        services.milestone_complete(milestone=first, by=stranger)
    assert ledger_fingerprint() == before


def test_release_before_funding_is_refused_but_completion_is_recorded(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    first = milestones(escrow)[0]
    services.milestone_complete(milestone=first, by=seller, proof="early")
    assert refresh(first).status == MilestoneStatus.COMPLETED
    with pytest.raises(InvalidState, match="not funded"):
        services.milestone_release(milestone=first, by=buyer)


def test_payee_routing(seller, buyer):
    payee = UserFactory()
    escrow = services.escrow_create(
        seller=seller,
        terms=EscrowTerms(title="x", currency="USD", amount=100_000),
        milestones=[MilestoneInput(amount=40_000, payee=payee), MilestoneInput(amount=60_000)],
    )
    fund(escrow, buyer)
    for m in milestones(escrow):
        services.milestone_release(milestone=m, by=buyer)
    assert wallet_balance(payee, "USD") == 40_000
    assert wallet_balance(seller, "USD") == 60_000
    assert refresh(escrow).status == EscrowStatus.COMPLETED
    assert_ledger_invariants()


def test_auto_release_on_proof_releases_in_order(seller, buyer):
    escrow = services.escrow_create(
        seller=seller,
        terms=EscrowTerms(title="x", currency="USD", amount=100_000, auto_release_on_proof=True),
        milestones=[MilestoneInput(amount=30_000), MilestoneInput(amount=70_000)],
    )
    first, second = milestones(escrow)
    # Completed before funding: recorded, released once funded.
    services.milestone_complete(milestone=first, by=seller)
    fund(escrow, buyer)
    assert refresh(first).status == MilestoneStatus.RELEASED
    services.milestone_complete(milestone=second, by=seller)
    assert refresh(second).status == MilestoneStatus.RELEASED
    assert refresh(escrow).status == EscrowStatus.COMPLETED
    assert_ledger_invariants()


def test_milestone_add_rules(seller):
    escrow = services.escrow_create(
        seller=seller, terms=EscrowTerms(title="x", currency="USD", amount=100_000), milestones=None
    )
    services.milestone_add(escrow=escrow, by=seller, index=0, milestone=MilestoneInput(amount=30_000))
    with pytest.raises(InvalidRequest, match="Milestone with index 0 already exists"):
        services.milestone_add(escrow=escrow, by=seller, index=0, milestone=MilestoneInput(amount=10))
    with pytest.raises(InvalidRequest, match="Total milestone amounts exceed escrow order amount"):
        services.milestone_add(escrow=escrow, by=seller, index=1, milestone=MilestoneInput(amount=70_001))
    standard = services.escrow_create(
        seller=seller,
        terms=EscrowTerms(
            title="x", currency="USD", amount=100, settlement_type="STANDARD", release_type="DELIVERY_PROOF"
        ),
        milestones=[],
    )
    with pytest.raises(
        InvalidRequest, match="Cannot create milestone for order with release type: DELIVERY_PROOF"
    ):
        services.milestone_add(escrow=standard, by=seller, index=0, milestone=MilestoneInput(amount=10))


# Milestones go in order: a stage may be marked delivered once the one before it is delivered,
# and released only once the one before it is released (or otherwise settled). Here the stage
# before is delivered but not released yet: delivering the next one is allowed, releasing it is
# refused by the buyer's service call, the provider API's confirm route, the escrow page and the
# review timer alike.
NOT_RELEASED = "Previous milestone (index 0) must be released first"


@pytest.fixture
def escrow(seller, buyer):
    """Funded; stage 0 delivered and waiting for the buyer, stage 1 delivered after it."""
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first, second, _ = milestones(escrow)
    services.milestone_complete(milestone=first, by=seller, proof="stage 0")
    services.milestone_complete(milestone=second, by=seller, proof="stage 1")
    assert [m.status for m in milestones(escrow)] == [
        MilestoneStatus.COMPLETED,
        MilestoneStatus.COMPLETED,
        MilestoneStatus.PENDING,
    ]
    return escrow


def test_a_stage_may_be_delivered_once_the_previous_one_is_delivered(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first, second, third = milestones(escrow)
    services.milestone_complete(milestone=first, by=seller)
    # Not past a stage that is not delivered ...
    with pytest.raises(InvalidRequest, match=r"Previous milestone \(index 1\) must be completed first"):
        services.milestone_complete(milestone=third, by=seller)
    # ... but a stage delivered and not released yet is enough: Finternet's "must be completed
    # first" is about the previous stage's delivery, not its release.
    services.milestone_complete(milestone=second, by=seller)
    services.milestone_complete(milestone=third, by=seller)
    assert [m.status for m in milestones(escrow)] == [MilestoneStatus.COMPLETED] * 3


def test_the_buyer_cannot_release_a_stage_while_the_previous_one_is_only_delivered(escrow, buyer, seller):
    first, second, _ = milestones(escrow)
    before = ledger_fingerprint()
    with pytest.raises(InvalidRequest) as refused:
        services.milestone_release(milestone=second, by=buyer)
    assert refused.value.message == NOT_RELEASED
    assert ledger_fingerprint() == before
    # In order, both go through.
    services.milestone_release(milestone=first, by=buyer)
    services.milestone_release(milestone=second, by=buyer)
    assert wallet_balance(seller, "USD") == 80_000
    assert_ledger_invariants()


def test_the_provider_confirm_route_refuses_it(escrow, buyer):
    _, second, _ = milestones(escrow)
    before = ledger_fingerprint()
    r = api_client_for(buyer).post(f"/v1/escrow/milestone/confirm/{escrow.public_id}/{second.public_id}")
    assert r.status_code == 400, r.json()
    assert (r.json()["status"], r.json()["message"], r.json()["data"]) == (400, NOT_RELEASED, {})
    assert ledger_fingerprint() == before


def test_the_escrow_page_offers_only_the_previous_stage_and_refuses_the_next(escrow, buyer):
    first, second, _ = milestones(escrow)
    page = client_for(buyer)
    html = page.get(reverse("escrow_detail", args=[escrow.public_id])).content.decode()
    assert reverse("milestone_release", args=[escrow.public_id, first.public_id]) in html
    assert reverse("milestone_release", args=[escrow.public_id, second.public_id]) not in html
    before = ledger_fingerprint()
    url = reverse("milestone_release", args=[escrow.public_id, second.public_id])
    asked = page.get(url, follow=True).content.decode()
    assert "This stage cannot be released by you right now." in asked
    posted = page.post(url, follow=True).content.decode()
    assert NOT_RELEASED in posted
    assert ledger_fingerprint() == before
    assert refresh(second).status == MilestoneStatus.COMPLETED


def test_the_payment_intents_complete_route_delivers_the_next_stage(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first, second, third = milestones(escrow)
    api = api_client_for(seller)

    def complete(m):
        return api.post(
            f"/v1/payment-intents/{escrow.public_id}/escrow/milestones/{m.public_id}/complete",
            {"completedBy": "0x742d35Cc6634C0532925a3b844Bc9e7595f42318"},
            format="json",
        )

    assert complete(first).status_code == 200
    r = complete(second)
    assert r.status_code == 200, r.json()
    assert (r.json()["object"], r.json()["status"]) == ("milestone", "completed")
    assert refresh(first).status == MilestoneStatus.COMPLETED  # delivering never releases here
    r = api.post(
        f"/v1/payment-intents/{escrow.public_id}/escrow/milestones/{third.public_id}/complete",
        {"completedBy": "0x742d35Cc6634C0532925a3b844Bc9e7595f42318"},
        format="json",
    )
    assert r.status_code == 200  # stage 1 is delivered too: stage 2 may follow


def test_the_review_timer_does_not_release_a_stage_before_the_previous_one(escrow):
    first, second, _ = milestones(escrow)
    # Both reviews lapsed; the timer may meet the later stage first.
    Milestone.objects.filter(pk__in=[first.pk, second.pk]).update(
        review_deadline=timezone.now() - timedelta(minutes=1)
    )
    before = ledger_fingerprint()
    assert services.milestone_auto_release(milestone=second) is None
    assert ledger_fingerprint() == before
    assert services.milestone_auto_release(milestone=first) is not None
    assert services.milestone_auto_release(milestone=second) is not None
    assert [m.status for m in milestones(escrow)][:2] == [MilestoneStatus.RELEASED] * 2
    assert_ledger_invariants()


# The API's confirm addresses a stage by the escrow's and the milestone's public ids: an escrow
# that is missing and one that is someone else's get the same "Escrow not found", a stage of
# another escrow "Milestone not found", and a release is recorded as the buyer's.


def test_the_buyer_confirms_and_the_release_is_theirs(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    services.milestone_confirm(escrow_id=escrow.public_id, milestone_id=first.public_id, by=buyer)
    assert refresh(first).status == MilestoneStatus.RELEASED
    released = Event.objects.get(kind="milestone.released", milestone=first)
    assert (released.actor, released.actor_kind) == (buyer, "user")


def test_who_and_what_is_not_found(seller, buyer, stranger):
    escrow = make_escrow(seller, buyer=buyer)
    other = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    before = ledger_fingerprint()
    for escrow_id, by in (("esc_missing", buyer), (escrow.public_id, stranger)):
        with pytest.raises(NotFound, match="^Escrow not found$"):
            services.milestone_confirm(escrow_id=escrow_id, milestone_id=first.public_id, by=by)
    with pytest.raises(NotFound, match="^Milestone not found$"):
        services.milestone_confirm(
            escrow_id=escrow.public_id, milestone_id=milestones(other)[0].public_id, by=buyer
        )
    with pytest.raises(Forbidden, match="^Only the buyer can release a milestone$"):
        services.milestone_confirm(escrow_id=escrow.public_id, milestone_id=first.public_id, by=seller)
    assert ledger_fingerprint() == before


# A standard escrow (no milestones) is released whole when its buyer confirms delivery: the
# amount goes from the hold to the seller, the escrow closes, and a payout to the seller's
# destination is scheduled when the escrow names one. Only the buyer of a funded standard escrow
# may confirm.


def _standard(seller, buyer, **terms):
    return services.escrow_create(
        seller=seller,
        buyer=buyer,
        terms=EscrowTerms(title="Logo", currency="USD", amount=40_000, settlement_type="STANDARD", **terms),
        milestones=[],
    )


def test_the_buyer_confirms_and_the_seller_is_paid_the_whole_amount(seller, buyer):
    escrow = _standard(seller, buyer)
    fund(escrow, buyer)
    done = services.escrow_confirm_delivery(escrow=escrow, by=buyer)
    assert done.status == EscrowStatus.COMPLETED
    closed = refresh(escrow)
    assert closed.status == EscrowStatus.COMPLETED
    assert abs(closed.closed_at - timezone.now()) < timedelta(seconds=5)
    assert balances_for_user(seller)["USD"]["available"] == 40_000
    assert cached_balance(hold_account(closed)) == 0
    event = Event.objects.get(kind="escrow.completed")
    assert (event.escrow_id, event.actor) == (escrow.pk, buyer)
    assert (event.from_status, event.to_status) == (EscrowStatus.OPENED, EscrowStatus.COMPLETED)
    assert not Settlement.objects.exists()
    assert_ledger_invariants()


def test_a_named_destination_gets_a_payout_of_the_amount(seller, buyer, django_capture_on_commit_callbacks):
    escrow = _standard(seller, buyer, settlement_method="OFF_RAMP_MOCK", settlement_destination="iban-9")
    fund(escrow, buyer)
    with django_capture_on_commit_callbacks(execute=False):
        services.escrow_confirm_delivery(escrow=escrow, by=buyer)
    settlement = Settlement.objects.get()
    assert (settlement.customer, settlement.amount, settlement.currency) == (seller, 40_000, "USD")
    assert (settlement.method, settlement.destination) == ("OFF_RAMP_MOCK", "iban-9")
    assert (settlement.escrow_id, settlement.milestone_id) == (escrow.pk, None)
    assert settlement.status == SettlementStatus.SCHEDULED
    assert balances_for_user(seller)["USD"] == {"available": 0, "in_flight": 40_000}
    scheduled = Event.objects.get(kind="settlement.scheduled")
    assert (scheduled.actor, scheduled.customer, scheduled.escrow_id) == (buyer, seller, escrow.pk)
    assert scheduled.details == {"amount": 40_000, "currency": "USD", "destination": "iban-9"}
    assert_ledger_invariants()


def test_only_the_buyer_of_a_funded_standard_escrow_confirms(seller, buyer, stranger):
    escrow = _standard(seller, buyer)
    with pytest.raises(InvalidState, match="^This escrow is not funded yet$") as refused:
        services.escrow_confirm_delivery(escrow=escrow, by=buyer)
    assert refused.value.code == "not_funded"
    fund(escrow, buyer)
    before = ledger_fingerprint()
    with pytest.raises(Forbidden, match="^Only the buyer can confirm delivery$"):
        services.escrow_confirm_delivery(escrow=escrow, by=seller)
    with pytest.raises(NotFound, match="^Escrow not found$"):
        services.escrow_confirm_delivery(escrow=escrow, by=stranger)
    assert ledger_fingerprint() == before


def test_a_milestone_escrow_is_not_confirmed_whole(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    before = ledger_fingerprint()
    with pytest.raises(InvalidRequest, match="^A milestone escrow is released milestone by milestone$"):
        services.escrow_confirm_delivery(escrow=escrow, by=buyer)
    assert ledger_fingerprint() == before


def test_standard_escrow_confirm_delivery(seller, buyer):
    escrow = services.escrow_create(
        seller=seller,
        terms=EscrowTerms(
            title="Laptop",
            currency="USD",
            amount=80_000,
            settlement_type="STANDARD",
            release_type="DELIVERY_PROOF",
        ),
        milestones=[],
    )
    fund(escrow, buyer)
    assert_ledger_invariants()
    with pytest.raises(Forbidden):
        services.escrow_confirm_delivery(escrow=escrow, by=seller)
    services.escrow_confirm_delivery(escrow=escrow, by=buyer)
    assert refresh(escrow).status == EscrowStatus.COMPLETED
    assert wallet_balance(seller, "USD") == 80_000
    assert_ledger_invariants()


# A release pays the seller's main balance in the escrow's currency, whatever other accounts the
# seller has: a balance in another currency, or payouts in flight, are never credited by mistake
# (the account is found by kind, currency and owner in the escrow lock's own query).


def test_the_release_reaches_the_main_balance_in_the_escrows_currency(seller, buyer):
    services.wallet_topup(customer=seller, amount=700, currency="EUR")
    ledger.clearing_account(seller, "USD")  # made before the main USD account
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    balances = balances_for_user(seller)
    assert balances["USD"] == {"available": 30_000, "in_flight": 0}
    assert balances["EUR"] == {"available": 700, "in_flight": 0}
    assert_ledger_invariants()


# The review timer picks the delivered milestones whose review deadline has passed, then calls
# milestone_auto_release for each. Between the two the buyer may extend the review, confirm the
# stage or dispute it, so the service decides again from the locked rows, not from the milestone
# it is handed: a milestone whose deadline is still ahead, or that is no longer waiting for
# review, is left alone; a lapsed one is released.


def lapse(milestone, **changes):
    Milestone.objects.filter(pk=milestone.pk).update(
        review_deadline=timezone.now() - timedelta(minutes=1), **changes
    )
    return refresh(milestone)


def assert_left_alone(milestone, before, status=None):
    assert services.milestone_auto_release(milestone=milestone) is None
    assert ledger_fingerprint() == before
    if status is not None:
        assert refresh(milestone).status == status
    assert not Event.objects.filter(kind="milestone.released", milestone_id=milestone.pk).exists()


def test_a_milestone_whose_review_is_still_running_is_not_released(delivered):
    assert refresh(delivered).review_deadline > timezone.now()
    assert_left_alone(delivered, ledger_fingerprint(), MilestoneStatus.COMPLETED)


def test_a_review_extended_after_the_timer_picked_the_milestone_is_honoured(delivered, buyer):
    # The timer read the milestone while its deadline looked passed ...
    picked = refresh(delivered)
    picked.review_deadline = timezone.now() - timedelta(seconds=1)
    # ... and the buyer extended the review before the service took the lock.
    services.milestone_review_extend(milestone=delivered, by=buyer)
    assert refresh(delivered).review_deadline > timezone.now()
    assert_left_alone(picked, ledger_fingerprint(), MilestoneStatus.COMPLETED)


def test_a_stage_the_buyer_already_confirmed_is_not_released_again(delivered, buyer):
    picked = lapse(delivered)
    services.milestone_release(milestone=delivered, by=buyer)
    before = ledger_fingerprint()
    assert services.milestone_auto_release(milestone=picked) is None
    assert ledger_fingerprint() == before


def test_a_stage_disputed_after_it_was_picked_stays_frozen(delivered, buyer):
    picked = lapse(delivered)
    services.dispute_open(escrow=delivered.escrow, milestone=delivered, by=buyer, reason="Broken")
    assert_left_alone(picked, ledger_fingerprint(), MilestoneStatus.DISPUTED)


def test_a_stage_never_delivered_is_not_released(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    # A deadline left on a stage that is not delivered (written by hand, or left by a dispute
    # withdrawn back to pending) is not a review.
    pending = lapse(milestones(escrow)[0], completed_at=timezone.now() - timedelta(days=30))
    assert pending.status == MilestoneStatus.PENDING
    assert_left_alone(pending, ledger_fingerprint(), MilestoneStatus.PENDING)


def test_a_lapsed_review_is_released_by_the_system(delivered, seller):
    released = services.milestone_auto_release(milestone=lapse(delivered))
    assert released is not None and refresh(delivered).status == MilestoneStatus.RELEASED
    event = Event.objects.get(kind="milestone.released", milestone_id=delivered.pk)
    assert (event.actor_kind, event.details["reason"]) == (ActorKind.SYSTEM, "inspection period lapsed")
    assert_ledger_invariants()


def test_without_a_stored_deadline_the_inspection_period_from_delivery_decides(delivered):
    period = delivered.escrow.inspection_period
    Milestone.objects.filter(pk=delivered.pk).update(
        review_deadline=None, completed_at=timezone.now() - period + timedelta(minutes=1)
    )
    assert_left_alone(refresh(delivered), ledger_fingerprint(), MilestoneStatus.COMPLETED)
    Milestone.objects.filter(pk=delivered.pk).update(
        completed_at=timezone.now() - period - timedelta(minutes=1)
    )
    assert services.milestone_auto_release(milestone=refresh(delivered)) is not None
    assert refresh(delivered).status == MilestoneStatus.RELEASED
    assert_ledger_invariants()


# A delivered stage releases at its review deadline itself, not a moment after, as the sweep
# that picks it (deadline <= now) expects.


def test_a_delivered_stage_releases_at_its_review_deadline(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    services.milestone_complete(milestone=milestones(escrow)[0], by=seller, proof="done")
    first = refresh(milestones(escrow)[0])
    with at(first.review_deadline - timedelta(seconds=1)):
        assert services.milestone_auto_release(milestone=first) is None
    with at(first.review_deadline):
        assert services.milestone_auto_release(milestone=first) is not None
    assert refresh(first).status == MilestoneStatus.RELEASED
