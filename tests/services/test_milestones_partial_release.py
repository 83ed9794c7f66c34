"""The buyer releases part of a stage: the part goes to the payee's balance, the rest stays held
for the stage; all of what is left releases the rest and the stage settles as a release does.
Every refusal, the ledger after each step, and every other way out of a partly released stage
(refund, dispute, cancellation, the review timer, the seed surface's confirm) moving only what
is left."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import Forbidden, InvalidRequest, InvalidState, NotFound, StageChanged
from escrows import selectors, services
from escrows.ledger import cached_balance, hold_account
from escrows.models import (
    PART_RELEASE_MEMO,
    REST_RELEASE_MEMO,
    ActorKind,
    DisputeStatus,
    EscrowStatus,
    Event,
    LedgerEntry,
    LedgerTransaction,
    Milestone,
    MilestoneStatus,
    RefundRequestStatus,
    Settlement,
)
from escrows.selectors import wallet_balance
from tests.factories import UserFactory
from tests.helpers import (
    _dispute,
    assert_ledger_invariants,
    fund,
    ledger_fingerprint,
    make_escrow,
    make_settling_escrow,
    milestones,
    refresh,
    statuses,
)

pytestmark = pytest.mark.django_db


def part(milestone, buyer, amount):
    return services.milestone_release_part(milestone=milestone, by=buyer, amount=amount)


def held(escrow):
    return cached_balance(hold_account(refresh(escrow)))


def assert_hold_is_what_is_left(escrow):
    """The hold equals what is left of the unsettled stages, by the model's rule and the ledger."""
    escrow = refresh(escrow)
    left = sum(m.amount - m.released_part for m in milestones(escrow) if not m.is_settled)
    assert held(escrow) == escrow.held_amount(milestones(escrow)) == left
    assert_ledger_invariants()


def release_postings(milestone):
    return [
        (t.memo, [(e.account.kind, e.amount) for e in t.entries.order_by("id")])
        for t in LedgerTransaction.objects.filter(kind="RELEASE", milestone=milestone).order_by("id")
    ]


# -- the part and the rest ------------------------------------------------------------------------


def test_a_part_goes_to_the_seller_and_the_rest_stays_held_for_the_stage(funded, seller, buyer):
    first = milestones(funded)[0]  # 300.00 USD
    returned = part(first, buyer, 10_000)
    assert (returned.released_part, returned.remaining_amount) == (10_000, 20_000)
    first = refresh(first)
    assert (first.status, first.released_part, first.remaining_amount) == (
        MilestoneStatus.PENDING,
        10_000,
        20_000,
    )
    assert first.released_at is None
    assert refresh(funded).status == EscrowStatus.OPENED
    assert wallet_balance(seller, "USD") == 10_000
    assert held(funded) == 90_000
    assert release_postings(first) == [
        (PART_RELEASE_MEMO, [("ESCROW_HOLD", -10_000), ("CUSTOMER_MAIN", 10_000)])
    ]
    event = Event.objects.get(kind="milestone.partially_released")
    assert (event.escrow_id, event.milestone_id, event.actor, event.actor_kind) == (
        funded.pk,
        first.pk,
        buyer,
        ActorKind.USER,
    )
    assert (event.from_status, event.to_status) == ("", "")
    assert event.details == {
        "index": 0,
        "amount": 10_000,
        "released": 10_000,
        "remaining": 20_000,
        "payee": seller.customer_id,
    }
    assert_hold_is_what_is_left(funded)


def test_parts_add_up_and_the_last_part_releases_the_stage(funded, seller, buyer):
    first = milestones(funded)[0]
    part(first, buyer, 10_000)
    assert_hold_is_what_is_left(funded)
    part(first, buyer, 5_000)
    assert_hold_is_what_is_left(funded)
    assert refresh(first).released_part == 15_000
    assert [e.details["released"] for e in Event.objects.filter(kind="milestone.partially_released")] == [
        10_000,
        15_000,
    ]
    # All of what is left: the rest, released as a release releases it.
    part(first, buyer, 15_000)
    first = refresh(first)
    assert first.status == MilestoneStatus.RELEASED and first.released_at is not None
    # The part released before stays recorded on the settled stage.
    assert first.released_part == 15_000
    assert wallet_balance(seller, "USD") == 30_000
    assert held(funded) == 70_000
    assert release_postings(first) == [
        (PART_RELEASE_MEMO, [("ESCROW_HOLD", -10_000), ("CUSTOMER_MAIN", 10_000)]),
        (PART_RELEASE_MEMO, [("ESCROW_HOLD", -5_000), ("CUSTOMER_MAIN", 5_000)]),
        (REST_RELEASE_MEMO, [("ESCROW_HOLD", -15_000), ("CUSTOMER_MAIN", 15_000)]),
    ]
    released = Event.objects.get(kind="milestone.released")
    assert released.details == {
        "index": 0,
        "amount": 15_000,
        "payee": seller.customer_id,
        "reason": "",
        "releasedBefore": 15_000,
    }
    assert Event.objects.filter(kind="milestone.partially_released").count() == 2
    assert_hold_is_what_is_left(funded)


def test_a_full_release_after_a_part_releases_only_the_rest(funded, seller, buyer):
    first = milestones(funded)[0]
    part(first, buyer, 12_345)
    services.milestone_release(milestone=refresh(first), by=buyer)
    assert refresh(first).status == MilestoneStatus.RELEASED
    assert wallet_balance(seller, "USD") == 30_000
    assert [entries[0][1] for _, entries in release_postings(first)] == [-12_345, -17_655]
    assert_hold_is_what_is_left(funded)


def test_a_stage_untouched_by_parts_releases_as_before(funded, seller, buyer):
    first = milestones(funded)[0]
    services.milestone_release(milestone=first, by=buyer)
    assert release_postings(first) == [("", [("ESCROW_HOLD", -30_000), ("CUSTOMER_MAIN", 30_000)])]
    assert "releasedBefore" not in Event.objects.get(kind="milestone.released").details
    assert refresh(first).released_part == 0


def test_releasing_the_last_stage_in_parts_completes_the_escrow(funded, seller, buyer):
    first, second, third = milestones(funded)
    services.milestone_release(milestone=first, by=buyer)
    services.milestone_release(milestone=second, by=buyer)
    part(third, buyer, 1)
    assert refresh(funded).status == EscrowStatus.OPENED
    part(refresh(third), buyer, 19_999)
    escrow = refresh(funded)
    assert escrow.status == EscrowStatus.COMPLETED and escrow.closed_at is not None
    assert Event.objects.filter(kind="escrow.completed", escrow=escrow).count() == 1
    assert wallet_balance(seller, "USD") == 100_000
    assert held(funded) == 0
    assert_ledger_invariants()


def test_a_part_of_a_stage_with_its_own_payee_goes_to_that_payee(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    payee = UserFactory()
    Milestone.objects.filter(escrow=escrow, index=0).update(payee=payee)
    fund(escrow, buyer)
    part(milestones(escrow)[0], buyer, 7_000)
    assert wallet_balance(payee, "USD") == 7_000 and wallet_balance(seller, "USD") == 0
    assert Event.objects.get(kind="milestone.partially_released").details["payee"] == payee.customer_id
    assert_hold_is_what_is_left(escrow)


def test_each_part_is_paid_out_as_a_release_is(seller, buyer, django_capture_on_commit_callbacks):
    escrow = make_settling_escrow(seller)  # 300.00 + 700.00 USD, paid out to bank_account_123
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    with django_capture_on_commit_callbacks(execute=False):
        part(first, buyer, 10_000)
        services.milestone_release(milestone=refresh(first), by=buyer)
    payouts = list(Settlement.objects.order_by("id").values_list("customer", "amount", "milestone", "escrow"))
    # The stage's own payout is the one of the release that settles it; a part's names the escrow.
    assert payouts == [(seller.pk, 10_000, None, escrow.pk), (seller.pk, 20_000, first.pk, escrow.pk)]
    assert wallet_balance(seller, "USD") == 0
    assert_hold_is_what_is_left(escrow)


def test_a_part_of_a_delivered_stage_keeps_its_review_running(delivered, buyer):
    deadline = delivered.review_deadline
    part(delivered, buyer, 10_000)
    first = refresh(delivered)
    assert (first.status, first.review_deadline) == (MilestoneStatus.COMPLETED, deadline)


# -- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "code", "message", "for_person"),
    [
        (
            0,
            "amount_not_positive",
            "amount must be greater than zero",
            "Amount to release must be greater than zero.",
        ),
        (
            -100,
            "amount_not_positive",
            "amount must be greater than zero",
            "Amount to release must be greater than zero.",
        ),
        (
            30_001,
            "amount_above_remaining",
            "amount can be at most 300.00 USD, what is left of this stage",
            "Amount to release can be at most 300.00 USD, what is left of this stage.",
        ),
    ],
)
def test_an_amount_of_nothing_or_more_than_is_left_is_refused(
    funded, buyer, amount, code, message, for_person
):
    before = ledger_fingerprint()
    with pytest.raises(InvalidRequest) as exc:
        part(milestones(funded)[0], buyer, amount)
    assert (exc.value.code, exc.value.message, exc.value.for_person, exc.value.field) == (
        code,
        message,
        for_person,
        "amount",
    )
    assert ledger_fingerprint() == before


def test_what_is_left_is_the_limit_after_a_part(funded, buyer):
    first = milestones(funded)[0]
    part(first, buyer, 10_000)
    before = ledger_fingerprint()
    with pytest.raises(InvalidRequest, match="at most 200.00 USD, what is left"):
        part(refresh(first), buyer, 20_001)
    # The lock reads the stage again: a stale object cannot release past what is left.
    with pytest.raises(InvalidRequest, match="at most 200.00 USD, what is left"):
        part(first, buyer, 30_000)
    assert ledger_fingerprint() == before


@pytest.mark.parametrize("amount", [1.5, "100", None, True, 10_000.0])
def test_an_amount_that_is_not_whole_minor_units_is_refused(funded, buyer, amount):
    before = ledger_fingerprint()
    with pytest.raises(InvalidRequest, match="exact number of minor units") as exc:
        part(milestones(funded)[0], buyer, amount)
    assert exc.value.for_person == "Enter the amount to release as money, such as 100.00."
    assert ledger_fingerprint() == before


def test_only_the_buyer_releases_a_part(funded, seller, stranger, admin_user):
    first = milestones(funded)[0]
    before = ledger_fingerprint()
    with pytest.raises(Forbidden, match="Only the buyer can release a milestone"):
        part(first, seller, 10_000)
    # Anyone else, staff too, is told nothing about the escrow.
    for outsider in (stranger, admin_user):
        with pytest.raises(NotFound, match="Escrow not found"):
            part(first, outsider, 10_000)
    assert ledger_fingerprint() == before


def test_a_part_keeps_the_release_order(funded, buyer):
    first, second, _ = milestones(funded)
    before = ledger_fingerprint()
    with pytest.raises(InvalidRequest, match=r"Previous milestone \(index 0\) must be released first"):
        part(second, buyer, 10_000)
    # A stage released only in part is not out of the way.
    part(first, buyer, 10_000)
    before = ledger_fingerprint()
    with pytest.raises(InvalidRequest, match=r"Previous milestone \(index 0\) must be released first"):
        part(second, buyer, 10_000)
    assert ledger_fingerprint() == before
    services.milestone_release(milestone=refresh(first), by=buyer)
    part(second, buyer, 10_000)
    assert refresh(second).released_part == 10_000
    assert_hold_is_what_is_left(funded)


def test_a_disputed_stage_is_frozen_and_the_next_one_may_go_in_parts(funded, buyer):
    first, second, _ = milestones(funded)
    _dispute(first)
    before = ledger_fingerprint()
    with pytest.raises(InvalidState, match="disputed; it is frozen") as exc:
        part(first, buyer, 10_000)
    assert exc.value.code == "milestone_disputed"
    assert ledger_fingerprint() == before
    # A dispute freezes only its own stage (the release order skips it).
    part(second, buyer, 10_000)
    assert refresh(second).released_part == 10_000


@pytest.mark.parametrize(
    ("settle", "error", "message"),
    [
        (
            lambda m, seller, buyer: services.milestone_release(milestone=m, by=buyer),
            InvalidRequest,
            "already released",
        ),
        (
            lambda m, seller, buyer: services.milestone_refund(milestone=m, by=seller),
            InvalidState,
            "was refunded",
        ),
    ],
)
def test_a_settled_stage_has_no_part_to_release(funded, seller, buyer, settle, error, message):
    first = milestones(funded)[0]
    settle(first, seller, buyer)
    before = ledger_fingerprint()
    with pytest.raises(error, match=message):
        part(refresh(first), buyer, 10_000)
    assert ledger_fingerprint() == before


def test_an_unpaid_escrow_has_nothing_to_release(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    with pytest.raises(InvalidState, match="not funded yet") as exc:
        part(milestones(escrow)[0], buyer, 10_000)
    assert exc.value.code == "not_funded"
    assert not LedgerTransaction.objects.exists()


def test_a_closed_escrow_has_nothing_to_release(funded, seller, buyer):
    services.escrow_refund(escrow=funded, by=seller)
    before = ledger_fingerprint()
    with pytest.raises(InvalidState, match="Milestone was refunded"):
        part(milestones(funded)[0], buyer, 10_000)
    assert ledger_fingerprint() == before


def test_the_check_the_page_asks_first_refuses_in_the_same_words(funded, buyer):
    first = milestones(funded)[0]
    assert services.milestone_release_part_check(milestone=first, amount=30_000) == 30_000
    with pytest.raises(InvalidRequest) as exc:
        services.milestone_release_part_check(milestone=first, amount=30_001)
    assert exc.value.for_person == "Amount to release can be at most 300.00 USD, what is left of this stage."


# -- what was left when the buyer confirmed: a resubmitted confirmation releases nothing twice --


def test_a_part_confirmed_against_what_was_left_before_is_refused(funded, seller, buyer):
    first = milestones(funded)[0]  # 300.00 USD
    services.milestone_release_part(milestone=first, by=buyer, amount=10_000, remaining_seen=30_000)
    before = ledger_fingerprint()
    # The same confirmation sent again: it was made when 300.00 USD was left.
    with pytest.raises(StageChanged) as exc:
        services.milestone_release_part(
            milestone=refresh(first), by=buyer, amount=10_000, remaining_seen=30_000
        )
    assert exc.value.code == "stage_changed"
    assert exc.value.for_person == (
        "This stage changed since you confirmed: 200.00 USD of it is left now. Nothing was released."
    )
    assert ledger_fingerprint() == before
    assert refresh(first).released_part == 10_000
    assert wallet_balance(seller, "USD") == 10_000
    assert Event.objects.filter(kind="milestone.partially_released").count() == 1


def test_a_part_confirmed_against_what_is_left_now_is_released(funded, seller, buyer):
    first = milestones(funded)[0]
    part(first, buyer, 10_000)
    returned = services.milestone_release_part(
        milestone=refresh(first), by=buyer, amount=5_000, remaining_seen=20_000
    )
    assert (returned.released_part, returned.remaining_amount) == (15_000, 15_000)
    # All of what is left, confirmed against it: the stage is released.
    services.milestone_release_part(milestone=refresh(first), by=buyer, amount=15_000, remaining_seen=15_000)
    assert refresh(first).status == MilestoneStatus.RELEASED
    assert wallet_balance(seller, "USD") == 30_000
    assert_hold_is_what_is_left(funded)


def test_the_rest_confirmed_again_after_the_stage_was_released_is_refused_in_words(funded, seller, buyer):
    first = milestones(funded)[0]
    part(first, buyer, 10_000)
    services.milestone_release_part(milestone=refresh(first), by=buyer, amount=20_000, remaining_seen=20_000)
    before = ledger_fingerprint()
    with pytest.raises(StageChanged) as exc:
        services.milestone_release_part(
            milestone=refresh(first), by=buyer, amount=20_000, remaining_seen=20_000
        )
    assert exc.value.for_person == (
        "This stage changed since you confirmed: none of it is held now. Nothing was released."
    )
    assert ledger_fingerprint() == before
    assert wallet_balance(seller, "USD") == 30_000


def test_the_check_the_page_asks_first_knows_what_was_left(funded, buyer):
    first = milestones(funded)[0]
    assert services.milestone_release_part_check(milestone=first, amount=100, remaining_seen=30_000) == 100
    with pytest.raises(StageChanged) as exc:
        services.milestone_release_part_check(milestone=first, amount=100, remaining_seen=29_999)
    assert exc.value.for_person == (
        "This stage changed since you confirmed: 300.00 USD of it is left now. Nothing was released."
    )


# -- every other way out of a partly released stage moves only what is left ------------------


def test_a_refund_gives_back_only_what_is_left(funded, seller, buyer):
    first = milestones(funded)[0]
    part(first, buyer, 10_000)
    amount = services.milestone_refund(milestone=refresh(first), by=seller)
    assert amount == 20_000
    assert refresh(first).status == MilestoneStatus.REFUNDED
    assert wallet_balance(buyer, "USD") == 20_000 and wallet_balance(seller, "USD") == 10_000
    refunded = Event.objects.get(kind="milestone.refunded")
    assert refunded.details["amount"] == 20_000
    assert_hold_is_what_is_left(funded)


def test_refunding_the_whole_escrow_gives_back_only_what_is_left(funded, seller, buyer):
    part(milestones(funded)[0], buyer, 10_000)
    services.escrow_refund(escrow=funded, by=seller)
    escrow = refresh(funded)
    assert escrow.status == EscrowStatus.REFUNDED
    assert wallet_balance(buyer, "USD") == 90_000 and wallet_balance(seller, "USD") == 10_000
    assert Event.objects.get(kind="escrow.refunded").details == {"amount": 90_000}
    assert_ledger_invariants()


def test_a_refund_request_asks_for_what_is_left_and_a_part_released_since_makes_it_stale(
    funded, seller, buyer
):
    first = milestones(funded)[0]
    part(first, buyer, 10_000)
    request = services.refund_request_create(escrow=funded, by=buyer, reason="Stop", milestones=[first])
    assert request.amount == 20_000
    services.refund_request_withdraw(refund_request=request, by=buyer)
    request = services.refund_request_create(escrow=funded, by=buyer, reason="Stop", milestones=[first])
    part(refresh(first), buyer, 5_000)
    before = ledger_fingerprint()
    with pytest.raises(InvalidState) as exc:
        services.refund_request_accept(refund_request=request, by=seller)
    assert exc.value.code == "refund_request_stale"
    assert (
        "part of it has since been released: 150.00 USD is left of the 200.00 USD asked for"
        in exc.value.message
    )
    assert ledger_fingerprint() == before
    assert refresh(request).status == RefundRequestStatus.REQUESTED


def test_an_accepted_refund_request_refunds_what_is_left(funded, seller, buyer):
    first = milestones(funded)[0]
    part(first, buyer, 10_000)
    request = services.refund_request_create(escrow=funded, by=buyer, reason="Stop", milestones=[first])
    services.refund_request_accept(refund_request=request, by=seller)
    assert wallet_balance(buyer, "USD") == 20_000
    assert_hold_is_what_is_left(funded)


@pytest.mark.parametrize(
    ("outcome", "to_seller", "to_buyer", "status"),
    [
        ("release", 30_000, 0, MilestoneStatus.RELEASED),
        ("refund", 10_000, 20_000, MilestoneStatus.REFUNDED),
    ],
)
def test_a_dispute_freezes_and_settles_only_what_is_left(
    funded, seller, buyer, admin_user, outcome, to_seller, to_buyer, status
):
    first = milestones(funded)[0]
    part(first, buyer, 10_000)
    dispute = services.dispute_open(escrow=funded, milestone=refresh(first), by=buyer, reason="Late")
    assert dispute.amount == 20_000
    assert (dispute.default_seller_amount + dispute.default_buyer_amount) == 20_000
    assert held(funded) == 90_000
    services.dispute_resolve(dispute=dispute, by=admin_user, outcome=outcome)
    assert refresh(dispute).status == DisputeStatus.RESOLVED
    assert refresh(first).status == status
    assert wallet_balance(seller, "USD") == to_seller and wallet_balance(buyer, "USD") == to_buyer
    assert_hold_is_what_is_left(funded)


def test_a_dispute_split_of_a_partly_released_stage_splits_what_is_left(funded, seller, buyer, admin_user):
    first = milestones(funded)[0]
    part(first, buyer, 10_000)
    dispute = services.dispute_open(escrow=funded, milestone=refresh(first), by=buyer, reason="Late")
    with pytest.raises(InvalidRequest):
        services.dispute_resolve(
            dispute=dispute, by=admin_user, outcome="split", seller_amount=15_000, buyer_amount=15_000
        )
    services.dispute_resolve(
        dispute=dispute, by=admin_user, outcome="split", seller_amount=5_000, buyer_amount=15_000
    )
    assert wallet_balance(seller, "USD") == 15_000 and wallet_balance(buyer, "USD") == 15_000
    assert_hold_is_what_is_left(funded)


def test_a_cancellation_splits_only_what_is_held(funded, seller, buyer):
    first = milestones(funded)[0]
    part(first, buyer, 10_000)
    with pytest.raises(InvalidRequest) as exc:
        services.cancellation_propose(escrow=funded, by=buyer, buyer_amount=50_000, seller_amount=50_000)
    assert exc.value.code == "split_mismatch" and "900.00 USD" in exc.value.message
    proposal = services.cancellation_propose(
        escrow=funded, by=buyer, buyer_amount=65_000, seller_amount=25_000
    )
    services.cancellation_accept(proposal=proposal, by=seller)
    assert refresh(funded).status == EscrowStatus.CANCELLED
    assert wallet_balance(seller, "USD") == 35_000 and wallet_balance(buyer, "USD") == 65_000
    # The seller's 250.00 fills what is left of stage 1 first (its 200.00), then stage 2.
    first_split, second_split, _ = (
        Event.objects.get(kind="milestone.split", milestone=m).details for m in milestones(funded)
    )
    assert (first_split["amount"], first_split["sellerShare"], first_split["buyerShare"]) == (
        20_000,
        20_000,
        0,
    )
    assert (second_split["amount"], second_split["sellerShare"], second_split["buyerShare"]) == (
        50_000,
        5_000,
        45_000,
    )
    assert_ledger_invariants()


def test_a_cancellation_proposed_before_a_part_is_released_no_longer_matches(funded, seller, buyer):
    proposal = services.cancellation_propose(escrow=funded, by=seller, buyer_amount=100_000, seller_amount=0)
    part(milestones(funded)[0], buyer, 10_000)
    before = ledger_fingerprint()
    with pytest.raises(InvalidState) as exc:
        services.cancellation_accept(proposal=proposal, by=buyer)
    assert exc.value.code == "cancellation_stale"
    assert ledger_fingerprint() == before


def test_the_review_timer_releases_the_rest(delivered, seller, buyer):
    part(delivered, buyer, 10_000)
    Milestone.objects.filter(pk=delivered.pk).update(review_deadline=timezone.now() - timedelta(minutes=1))
    assert services.milestone_auto_release(milestone=refresh(delivered)) is not None
    first = refresh(delivered)
    assert first.status == MilestoneStatus.RELEASED
    assert wallet_balance(seller, "USD") == 30_000
    event = Event.objects.get(kind="milestone.released", milestone=first)
    assert (event.actor_kind, event.details["amount"], event.details["releasedBefore"]) == (
        ActorKind.SYSTEM,
        20_000,
        10_000,
    )
    assert_hold_is_what_is_left(delivered.escrow)


def test_auto_release_on_proof_releases_the_rest(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer, auto_release_on_proof=True)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    part(first, buyer, 10_000)
    services.milestone_complete(milestone=refresh(first), by=seller, proof="done")
    assert refresh(first).status == MilestoneStatus.RELEASED
    assert wallet_balance(seller, "USD") == 30_000
    assert_hold_is_what_is_left(escrow)


def test_the_seed_surface_confirm_releases_the_rest(funded, seller, buyer):
    first = milestones(funded)[0]
    part(first, buyer, 10_000)
    services.milestone_confirm(escrow_id=funded.public_id, milestone_id=first.public_id, by=buyer)
    assert refresh(first).status == MilestoneStatus.RELEASED
    assert wallet_balance(seller, "USD") == 30_000
    assert statuses(funded) == [MilestoneStatus.RELEASED, MilestoneStatus.PENDING, MilestoneStatus.PENDING]
    assert_hold_is_what_is_left(funded)


def test_the_ledger_is_exact_through_a_whole_escrow_in_parts(funded, seller, buyer):
    for m in milestones(funded):
        part(m, buyer, m.amount // 3)
        assert_hold_is_what_is_left(funded)
        part(refresh(m), buyer, m.amount // 3)
        assert_hold_is_what_is_left(funded)
        services.milestone_release(milestone=refresh(m), by=buyer)
        assert_hold_is_what_is_left(funded)
    assert refresh(funded).status == EscrowStatus.COMPLETED
    assert wallet_balance(seller, "USD") == 100_000
    hold_entries = LedgerEntry.objects.filter(account__kind="ESCROW_HOLD", transaction__escrow=funded)
    assert sum(hold_entries.values_list("amount", flat=True)) == 0
    assert LedgerTransaction.objects.filter(kind="RELEASE", escrow=funded).count() == 9
    assert_ledger_invariants()


def test_the_balance_totals_count_a_part_as_the_sellers_and_the_rest_as_held(funded, seller, buyer):
    part(milestones(funded)[0], buyer, 10_000)
    [mine] = selectors.statement_totals(seller)
    assert (mine.available, mine.held_for_you) == (10_000, 90_000)
    [theirs] = selectors.statement_totals(buyer)
    assert (theirs.available, theirs.held_for_purchases) == (0, 90_000)
