"""Agreed terms: creating, editing and adding a stage each record a version of the terms (what
they said, who proposed them, the seller's agreement), and funding records the buyer's agreement
to the version paid for, in the same transaction; a refused payment records nothing."""

from datetime import UTC, datetime, timedelta

import pytest

from core.errors import InsufficientFunds, TermsChanged
from escrows import services
from escrows.agreements import terms_history
from escrows.models import Escrow, Milestone, TermsVersion
from escrows.services import EscrowTerms, MilestoneInput
from tests.factories import UserFactory
from tests.helpers import at, fund, make_escrow, milestones

pytestmark = pytest.mark.django_db

DAY1 = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY1 + timedelta(days=2)


def versions(escrow):
    return list(TermsVersion.objects.filter(escrow=escrow).order_by("number"))


def agreements(escrow):
    return [
        (v.number, v.reason, v.proposer_role, v.proposed_at, v.seller_agreed_at, v.buyer_agreed_at)
        for v in versions(escrow)
    ]


def test_creating_records_version_one_as_the_seller_wrote_it(seller):
    payee = UserFactory(email="payee@example.test")
    due = DAY1 + timedelta(days=20)
    with at(DAY1):
        escrow = services.escrow_create(
            seller=seller,
            terms=EscrowTerms(
                title="Website build", currency="USD", amount=80_000, inspection_period=timedelta(days=5)
            ),
            milestones=[
                MilestoneInput(amount=30_000, title="Design", description="Mockups", due_date=due),
                MilestoneInput(amount=50_000, title="Build", payee=payee),
            ],
        )
    stages = milestones(escrow)
    (version,) = versions(escrow)
    assert agreements(escrow) == [(1, "created", "seller", DAY1, DAY1, None)]
    assert version.proposed_by == seller
    assert version.changes == []
    assert version.terms == {
        "title": "Website build",
        "currency": "USD",
        "amount": 80_000,
        "fee": 1_200,
        "feeSchedule": escrow.fee_schedule_version,
        "whoPays": "buyer",
        "inspectionPeriodDays": 5,
        "milestones": [
            {
                "id": stages[0].public_id,
                "index": 0,
                "title": "Design",
                "description": "Mockups",
                "amount": 30_000,
                "dueDate": due.isoformat(),
                "payee": None,
            },
            {
                "id": stages[1].public_id,
                "index": 1,
                "title": "Build",
                "description": "",
                "amount": 50_000,
                "dueDate": None,
                "payee": payee.customer_id,
            },
        ],
    }


def test_an_edit_records_a_new_version_and_funding_agrees_to_that_one_only(seller, buyer):
    with at(DAY1):
        escrow = make_escrow(seller, parts=(30_000, 50_000))
    with at(DAY2):
        services.escrow_edit(
            escrow=escrow,
            by=seller,
            terms=EscrowTerms(title="Website build", currency="USD", amount=90_000),
            milestones=[MilestoneInput(amount=40_000, title="A"), MilestoneInput(amount=50_000, title="B")],
        )
    with at(DAY3):
        fund(Escrow.objects.get(pk=escrow.pk), buyer)
    assert agreements(escrow) == [
        (1, "created", "seller", DAY1, DAY1, None),
        (2, "edited", "seller", DAY2, DAY2, DAY3),
    ]
    assert [s["amount"] for s in versions(escrow)[1].stages] == [40_000, 50_000]
    assert versions(escrow)[1].amount == 90_000 and versions(escrow)[0].amount == 80_000


def test_each_stage_added_is_a_version_with_what_it_added(seller, buyer):
    with at(DAY1):
        escrow = services.escrow_create(
            seller=seller, terms=EscrowTerms(title="Shop", currency="USD", amount=50_000), milestones=None
        )
        services.milestone_add(
            escrow=escrow, by=seller, index=0, milestone=MilestoneInput(amount=20_000, title="Logo")
        )
        services.milestone_add(escrow=escrow, by=seller, index=1, milestone=MilestoneInput(amount=30_000))
    numbers = [(v.number, v.reason, len(v.stages), v.changes) for v in versions(escrow)]
    assert numbers == [
        (1, "created", 0, []),
        (2, "stage_added", 1, [{"kind": "add", "index": 0, "title": "Logo", "amount": 20_000}]),
        (3, "stage_added", 2, [{"kind": "add", "index": 1, "title": "", "amount": 30_000}]),
    ]
    with at(DAY2):
        services.wallet_topup(customer=buyer, amount=60_000, currency="USD")
        services.escrow_fund(escrow=escrow, by=buyer, terms_version=3)
    assert [v.buyer_agreed_at for v in versions(escrow)] == [None, None, DAY2]


def test_a_refused_payment_records_no_agreement(seller, buyer):
    escrow = make_escrow(seller)
    with pytest.raises(InsufficientFunds):
        services.escrow_fund(escrow=escrow, by=buyer)
    services.wallet_topup(customer=buyer, amount=escrow.total_charge, currency="USD")
    with pytest.raises(TermsChanged):
        services.escrow_fund(escrow=escrow, by=buyer, terms_version=2)
    assert [v.buyer_agreed_at for v in versions(escrow)] == [None]


def test_funding_an_escrow_without_a_recorded_version_records_it_agreed_by_both(seller, buyer):
    """Escrows written before versions were recorded (the migration records theirs; this is the
    fallback for any the migration did not see)."""
    with at(DAY1):
        escrow = make_escrow(seller)
    TermsVersion.objects.filter(escrow=escrow).delete()
    with at(DAY2):
        fund(escrow, buyer)
    assert agreements(escrow) == [(1, "created", "seller", DAY1, DAY1, DAY2)]
    (version,) = versions(escrow)
    assert [s["id"] for s in version.stages] == [m.public_id for m in milestones(escrow)]


def test_the_history_in_words(seller, buyer):
    with at(DAY1):
        escrow = make_escrow(seller, parts=(30_000, 50_000), inspection_period=timedelta(days=7))
    with at(DAY2):
        services.escrow_edit(
            escrow=escrow,
            by=seller,
            terms=EscrowTerms(title="Website build", currency="USD", amount=90_000),
            milestones=[MilestoneInput(amount=40_000), MilestoneInput(amount=50_000)],
        )
    escrow = Escrow.objects.get(pk=escrow.pk)
    lines = terms_history(escrow, versions(escrow), seller)
    assert [(v.number, v.current, v.who, v.what) for v in lines] == [
        (
            2,
            True,
            "proposed by you on 6 Dec 2026, awaiting the buyer’s agreement",
            "terms edited: 2 stages, 900.00 USD + 13.50 USD fee, 7-day inspection period",
        ),
        (
            1,
            False,
            "proposed by you on 5 Dec 2026, replaced before the buyer agreed",
            "created: 2 stages, 800.00 USD + 12.00 USD fee, 7-day inspection period",
        ),
    ]
    with at(DAY3):
        fund(escrow, buyer)
    escrow = Escrow.objects.get(pk=escrow.pk)
    (latest, _) = terms_history(escrow, versions(escrow), buyer)
    assert latest.who == "proposed by the seller on 6 Dec 2026, agreed by you on 7 Dec 2026 (by paying)"
    assert Milestone.objects.filter(escrow=escrow).count() == 2
