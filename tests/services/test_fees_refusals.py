"""A fee quote refuses what escrow_create refuses with the same words and names the same field,
so a form or an API client can point at what to fix."""

import pytest

from core.errors import InvalidRequest
from escrows import services
from escrows.services import EscrowTerms, MilestoneInput, fee_quote

pytestmark = pytest.mark.django_db

GOOD = {
    "currency": "USD",
    "amount": 100_000,
    "milestones": [MilestoneInput(amount=50_000), MilestoneInput(amount=50_000)],
}


@pytest.mark.parametrize(
    ("change", "message", "field"),
    [
        ({"amount": 1000.0}, "amount must be an exact number of minor units", "amount"),
        ({"amount": "100000"}, "amount must be an exact number of minor units", "amount"),
        ({"amount": True}, "amount must be an exact number of minor units", "amount"),
        ({"who_pays": "seller"}, "whoPays must be buyer for milestone escrows", "whoPays"),
        ({"who_pays": "split"}, "whoPays must be buyer for milestone escrows", "whoPays"),
    ],
)
def test_the_quote_refuses_in_creates_words_and_field(seller, change, message, field):
    args = {**GOOD, **change}
    with pytest.raises(InvalidRequest) as quoted:
        fee_quote(**args)
    assert (quoted.value.message, quoted.value.field) == (message, field)
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
    assert (created.value.message, created.value.field) == (message, field)


@pytest.mark.parametrize(
    ("change", "for_person"),
    [
        ({"amount": "100000"}, "Enter the amount as money, such as 300.00."),
        ({"amount": 1000.0}, "Enter the amount as money, such as 300.00."),
    ],
)
def test_the_quote_refuses_in_a_persons_words(change, for_person):
    with pytest.raises(InvalidRequest) as quoted:
        fee_quote(**{**GOOD, **change})
    assert quoted.value.for_person == for_person
