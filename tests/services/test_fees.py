"""Fee quote: what an escrow would cost before it exists, with create's own rules."""

import pytest

from core.errors import InvalidRequest
from escrows import services
from escrows.models import Event, WhoPays
from escrows.services import EscrowTerms, MilestoneInput, fee_quote, fee_shares
from tests.factories import UserFactory
from tests.helpers import make_escrow

pytestmark = pytest.mark.django_db


@pytest.fixture
def payee(db):
    return UserFactory(email="quote-payee@example.test")


def test_quote_matches_what_create_charges(seller, payee):
    q = fee_quote(
        currency="usd",
        amount=100_000,
        milestones=[MilestoneInput(amount=30_000), MilestoneInput(amount=70_000, payee=payee)],
    )
    escrow = make_escrow(seller, parts=(30_000, 70_000))
    assert (q.currency, q.fee, q.buyer_total) == ("USD", escrow.fee, escrow.total_charge)
    assert q.fee_schedule_version == escrow.fee_schedule_version
    assert [(m.payee, m.payee_net, m.payee_fee) for m in q.milestones] == [
        (None, 30_000, 0),
        (payee, 70_000, 0),
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"currency": "XXX"}, "Unsupported currency"),
        ({"amount": 0}, "amount must be greater than zero"),
        ({"who_pays": "seller"}, "whoPays must be buyer for milestone escrows"),
        ({"milestones": [MilestoneInput(amount=100_000)]}, "A milestone escrow needs at least 2 milestones"),
        (
            {"milestones": [MilestoneInput(amount=100_000), MilestoneInput(amount=0)]},
            "milestones[1].amount must be greater than zero",
        ),
        (
            {"milestones": [MilestoneInput(amount=1), MilestoneInput(amount=2)]},
            "Milestone amounts must sum to the escrow amount",
        ),
    ],
)
def test_quote_refuses_what_create_refuses(seller, kwargs, message):
    args = {
        "currency": "USD",
        "amount": 100_000,
        "milestones": [MilestoneInput(amount=50_000), MilestoneInput(amount=50_000)],
        **kwargs,
    }
    with pytest.raises(InvalidRequest) as quoted:
        fee_quote(**args)
    assert quoted.value.message.startswith(message)
    with pytest.raises(InvalidRequest) as created:
        services.escrow_create(
            seller=seller,
            terms=EscrowTerms(
                title="t",
                currency=args["currency"],
                amount=args["amount"],
                who_pays=args.get("who_pays", "buyer"),
            ),
            milestones=args["milestones"],
        )
    assert created.value.message == quoted.value.message


@pytest.mark.parametrize("who", [WhoPays.BUYER, WhoPays.SELLER, WhoPays.SPLIT])
@pytest.mark.parametrize(
    ("fee", "amounts"), [(1501, [1, 1, 1]), (100, [333, 333, 334]), (7, [10, 90]), (0, [5, 5])]
)
def test_fee_shares_sum_exactly(who, fee, amounts):
    buyer_part, shares = fee_shares(fee, who, amounts)
    assert buyer_part + sum(shares) == fee
    assert all(s >= 0 for s in shares)
    assert buyer_part == {"buyer": fee, "seller": 0, "split": fee - fee // 2}[who]
    if who != WhoPays.BUYER and fee:
        # In proportion to the amounts, off by less than one minor unit.
        total = sum(amounts)
        assert all(abs(s - (fee - buyer_part) * a / total) < 1 for s, a in zip(shares, amounts, strict=True))


def test_fee_schedule_version_is_recorded_at_create_and_edit(seller, settings):
    escrow = make_escrow(seller)
    assert escrow.fee_schedule_version == settings.ESCROW_FEE_SCHEDULE["version"]
    settings.ESCROW_FEE_SCHEDULE = {
        **settings.ESCROW_FEE_SCHEDULE,
        "version": "2027-01-v2",
        "basis_points": 200,
    }
    edited = services.escrow_edit(
        escrow=escrow,
        by=seller,
        terms=EscrowTerms(title="Edited", currency="USD", amount=100_000),
        milestones=[MilestoneInput(amount=40_000), MilestoneInput(amount=60_000)],
    )
    assert (edited.fee_schedule_version, edited.fee) == ("2027-01-v2", 2_000)
    assert Event.objects.get(kind="escrow.created", escrow=escrow).details["feeSchedule"] != "2027-01-v2"


# The payee's share of the fee at its edges.


@pytest.mark.parametrize(
    ("fee", "who", "amounts", "expected"),
    [
        (100, "seller", [0, 0], (0, [0, 0])),  # nothing to spread it over
        (10, "seller", [1], (0, [10])),
        (1, "seller", [3, 5], (0, [0, 1])),  # the one unit goes to the larger remainder
        (7, "buyer", [3, 5], (7, [0, 0])),
    ],
)
def test_the_payees_fee_share_at_its_edges(fee, who, amounts, expected):
    assert fee_shares(fee, who, amounts) == expected
