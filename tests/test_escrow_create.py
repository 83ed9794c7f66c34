from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import InvalidRequest
from escrows import services
from escrows.models import Escrow, EscrowStatus, Event, SettlementType
from escrows.services import EscrowTerms, MilestoneInput
from tests.helpers import assert_ledger_invariants, make_escrow, milestones

pytestmark = pytest.mark.django_db


def test_create_milestone_escrow_computes_fee_and_ids(seller):
    escrow = make_escrow(seller, parts=(30_000, 50_000, 20_000))
    assert escrow.status == EscrowStatus.AWAITING_PAYMENT
    assert escrow.amount == 100_000
    # 1.5% of 1000.00 USD = 15.00
    assert escrow.fee == 1_500
    assert escrow.fee_schedule_version
    assert escrow.public_id.startswith("intent_")
    assert escrow.payment_token != escrow.public_id and len(escrow.payment_token) > 30
    ms = milestones(escrow)
    assert [m.index for m in ms] == [0, 1, 2]
    assert [m.amount for m in ms] == [30_000, 50_000, 20_000]
    assert Event.objects.filter(escrow=escrow, kind="escrow.created").count() == 1
    assert_ledger_invariants()


def test_fee_is_clamped_to_minimum_and_maximum(seller):
    small = make_escrow(seller, parts=(100, 100))  # 2.00 USD -> 1.5% is 3 cents, min 1.00
    assert small.fee == 100
    huge = make_escrow(seller, parts=(50_000_000_00, 50_000_000_00))  # 100M USD -> max 1000.00
    assert huge.fee == 1000_00


@pytest.mark.parametrize(
    "parts, message",
    [
        ((100_000,), "at least 2 milestones"),
        ((50_000, 0), "greater than zero"),
        ((50_000, -1), "greater than zero"),
    ],
)
def test_create_refuses_bad_milestone_sets(seller, parts, message):
    with pytest.raises(InvalidRequest, match=message):
        services.escrow_create(
            seller=seller,
            terms=EscrowTerms(title="x", currency="USD", amount=100_000),
            milestones=[MilestoneInput(amount=p) for p in parts],
        )
    assert Escrow.objects.count() == 0


def test_create_refuses_milestones_not_summing_to_amount(seller):
    with pytest.raises(InvalidRequest, match="must sum to the escrow amount"):
        services.escrow_create(
            seller=seller,
            terms=EscrowTerms(title="x", currency="USD", amount=100_000),
            milestones=[MilestoneInput(amount=30_000), MilestoneInput(amount=30_000)],
        )
    assert Escrow.objects.count() == 0


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"who_pays": "seller"}, "whoPays must be buyer"),
        ({"currency": "XXX"}, "Unsupported currency"),
        ({"title": "  "}, "title is required"),
        ({"settlement_method": "CARRIER_PIGEON"}, "settlementMethod must be"),
        ({"settlement_method": "OFF_RAMP_MOCK"}, "settlementDestination is required"),
        ({"buyer_email": "SELLER@example.test"}, "buyer cannot be the seller"),
    ],
)
def test_create_refuses_bad_terms(seller, overrides, message):
    terms = {"title": "x", "currency": "USD", "amount": 100_000, **overrides}
    with pytest.raises(InvalidRequest, match=message):
        services.escrow_create(
            seller=seller,
            terms=EscrowTerms(**terms),
            milestones=[MilestoneInput(amount=50_000), MilestoneInput(amount=50_000)],
        )
    assert Escrow.objects.count() == 0


def test_due_date_must_be_in_the_future(seller):
    with pytest.raises(InvalidRequest, match="dueDate must be in the future"):
        services.escrow_create(
            seller=seller,
            terms=EscrowTerms(title="x", currency="USD", amount=100_000),
            milestones=[
                MilestoneInput(amount=50_000, due_date=timezone.now() - timedelta(days=1)),
                MilestoneInput(amount=50_000),
            ],
        )


def test_standard_escrow_has_no_milestones(seller):
    escrow = services.escrow_create(
        seller=seller,
        terms=EscrowTerms(
            title="Laptop",
            currency="USD",
            amount=80_000,
            settlement_type=SettlementType.STANDARD,
            release_type="DELIVERY_PROOF",
        ),
        milestones=[],
    )
    assert escrow.milestones.count() == 0
    with pytest.raises(InvalidRequest, match="standard escrow has no milestones"):
        services.escrow_create(
            seller=seller,
            terms=EscrowTerms(title="x", currency="USD", amount=100, settlement_type=SettlementType.STANDARD),
            milestones=[MilestoneInput(amount=50), MilestoneInput(amount=50)],
        )


def test_buyer_cannot_be_seller(seller):
    with pytest.raises(InvalidRequest, match="buyer cannot be the seller"):
        make_escrow(seller, buyer=seller)
