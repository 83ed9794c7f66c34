"""What the record says about parts, edits and refund requests, word for word: the refusals of a
part (the API's message, its field and code, the page's words), who the record names for a part
that releases the rest and for its payout, who proposed an edit or an added stage, and that an
open refund request on another escrow does not stand in the way of a new one."""

import pytest

from core.errors import InvalidRequest, StageChanged
from escrows import services
from escrows.models import (
    ActorKind,
    Event,
    MilestoneStatus,
    RefundRequestStatus,
    Settlement,
    TermsReason,
    TermsVersion,
)
from escrows.services import EscrowTerms, MilestoneInput
from tests.factories import UserFactory
from tests.helpers import (
    fund,
    ledger_fingerprint,
    make_escrow,
    make_settling_escrow,
    make_standard,
    milestones,
    refresh,
)

pytestmark = pytest.mark.django_db


def part(milestone, buyer, amount, **kwargs):
    return services.milestone_release_part(milestone=milestone, by=buyer, amount=amount, **kwargs)


# -- a part confirmed against what was left before: the API's words --------------------------------


def test_a_part_confirmed_again_is_refused_naming_what_is_left_in_minor_units(funded, buyer):
    first = milestones(funded)[0]  # 300.00 USD
    part(first, buyer, 10_000, remaining_seen=30_000)
    before = ledger_fingerprint()
    with pytest.raises(StageChanged) as exc:
        part(refresh(first), buyer, 10_000, remaining_seen=30_000)
    assert (exc.value.code, exc.value.message) == (
        "stage_changed",
        "The milestone changed since the release was confirmed (20000 minor units remain); "
        "nothing was released",
    )
    assert ledger_fingerprint() == before


def test_the_rest_confirmed_again_after_the_release_is_refused_naming_nothing_left(funded, buyer):
    first = milestones(funded)[0]
    part(first, buyer, 30_000, remaining_seen=30_000)
    assert refresh(first).status == MilestoneStatus.RELEASED
    with pytest.raises(StageChanged) as exc:
        services.milestone_release_part_check(milestone=refresh(first), amount=30_000, remaining_seen=30_000)
    assert exc.value.message == (
        "The milestone changed since the release was confirmed (0 minor units remain); nothing was released"
    )


# -- an amount that is not whole minor units: the message, the field and the page's words ----------


@pytest.mark.parametrize("amount", [1.5, "100", None, True])
def test_an_amount_not_in_whole_minor_units_is_refused_on_the_amount_field(funded, buyer, amount):
    first = milestones(funded)[0]
    before = ledger_fingerprint()
    for attempt in (
        lambda: part(first, buyer, amount),
        lambda: services.milestone_release_part_check(milestone=first, amount=amount),
    ):
        with pytest.raises(InvalidRequest) as exc:
            attempt()
        assert (exc.value.code, exc.value.message, exc.value.field, exc.value.for_person) == (
            "invalid_request",
            "amount must be an exact number of minor units",
            "amount",
            "Enter the amount to release as money, such as 100.00.",
        )
    assert ledger_fingerprint() == before


# -- who the record names ---------------------------------------------------------------------------


def test_a_part_that_is_all_that_is_left_records_the_buyer_as_releasing_it(funded, seller, buyer):
    first = milestones(funded)[0]
    part(first, buyer, 10_000)
    part(refresh(first), buyer, 20_000)
    released = Event.objects.get(kind="milestone.released", milestone=first)
    assert (released.actor, released.actor_kind) == (buyer, ActorKind.USER)
    assert released.details == {
        "index": 0,
        "amount": 20_000,
        "payee": seller.customer_id,
        "reason": "",
        "releasedBefore": 10_000,
    }


def test_the_payout_of_a_part_is_scheduled_by_the_buyer(seller, buyer, django_capture_on_commit_callbacks):
    escrow = make_settling_escrow(seller)  # 300.00 + 700.00 USD, paid out to bank_account_123
    fund(escrow, buyer)
    with django_capture_on_commit_callbacks(execute=False):
        part(milestones(escrow)[0], buyer, 10_000)
    payout = Settlement.objects.get()
    scheduled = Event.objects.get(kind="settlement.scheduled")
    assert (scheduled.settlement_id, scheduled.actor, scheduled.actor_kind) == (
        payout.pk,
        buyer,
        ActorKind.USER,
    )
    assert scheduled.details == {"amount": 10_000, "currency": "USD", "destination": "bank_account_123"}


def test_an_edit_records_the_seller_as_proposing_the_new_terms(seller):
    escrow = make_escrow(seller, parts=(30_000, 50_000))
    services.escrow_edit(
        escrow=escrow,
        by=seller,
        terms=EscrowTerms(title="Website build", currency="USD", amount=90_000),
        milestones=[MilestoneInput(amount=40_000), MilestoneInput(amount=50_000)],
    )
    edited = TermsVersion.objects.get(escrow=escrow, number=2)
    assert (edited.reason, edited.proposed_by, edited.proposer_role) == (TermsReason.EDITED, seller, "seller")


def test_an_added_stage_records_the_seller_as_proposing_it(seller):
    escrow = services.escrow_create(
        seller=seller, terms=EscrowTerms(title="Shop", currency="USD", amount=50_000), milestones=None
    )
    services.milestone_add(escrow=escrow, by=seller, index=0, milestone=MilestoneInput(amount=20_000))
    added = TermsVersion.objects.get(escrow=escrow, number=2)
    assert (added.reason, added.proposed_by, added.proposer_role) == (
        TermsReason.STAGE_ADDED,
        seller,
        "seller",
    )


# -- one open refund request per escrow, not per buyer ---------------------------------------------


def test_an_open_refund_request_on_another_escrow_does_not_stop_a_new_one(seller, buyer):
    other = make_escrow(UserFactory(), buyer=buyer)
    fund(other, buyer)
    elsewhere = services.refund_request_create(escrow=other, by=buyer, reason="Not needed")
    standard = make_standard(seller)
    fund(standard, buyer)
    request = services.refund_request_create(escrow=standard, by=buyer, reason="Never arrived")
    assert (request.status, request.amount) == (RefundRequestStatus.REQUESTED, 50_000)
    assert refresh(elsewhere).status == RefundRequestStatus.REQUESTED
