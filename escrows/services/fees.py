"""What an escrow would cost: the fee quote and who bears the fee."""

from collections.abc import Sequence
from dataclasses import dataclass

from accounts.types import User
from core.errors import (
    InvalidRequest,
)

from ..models import (
    SettlementType,
    WhoPays,
)
from ..money import check_escrow_amount, check_minor, fee_for, normalize_currency
from .escrows import MilestoneInput, _validate_milestone_set


@dataclass(frozen=True)
class QuoteMilestone:
    index: int
    amount: int
    payee: User | None  # the payee's User, or None for the seller
    payee_fee: int  # the part of the fee this payee bears
    payee_net: int


@dataclass(frozen=True)
class FeeQuote:
    currency: str
    amount: int
    fee: int
    buyer_fee: int
    buyer_total: int
    who_pays: str
    fee_schedule_version: str
    milestones: tuple[QuoteMilestone, ...]


def fee_shares(fee: int, who_pays: str, amounts: Sequence[int]) -> tuple[int, list[int]]:
    """Who bears the fee: (the buyer's part, each milestone payee's part). The buyer pays it all,
    the payees pay it all, or half each (the buyer takes the odd minor unit). The payees' part
    is spread in proportion to their amounts, largest remainders first, so it sums exactly."""
    if who_pays == WhoPays.BUYER:
        buyer_part = fee
    elif who_pays == WhoPays.SELLER:
        buyer_part = 0
    else:
        buyer_part = fee - fee // 2
    payee_part = fee - buyer_part
    total = sum(amounts)
    if not amounts or total <= 0 or payee_part == 0:
        return buyer_part, [0] * len(amounts)
    shares = [payee_part * a // total for a in amounts]
    order = sorted(range(len(amounts)), key=lambda i: (-(payee_part * amounts[i] % total), i))
    for i in order[: payee_part - sum(shares)]:
        shares[i] += 1
    return buyer_part, shares


def fee_quote(
    *,
    currency: str,
    amount: int,
    milestones: Sequence[MilestoneInput],
    who_pays: str = WhoPays.BUYER,
) -> FeeQuote:
    """What an escrow with these terms would cost before anything is created or funded: the
    fee under the current schedule, the buyer's total, and each payee's net. The terms are
    checked with escrow_create's own rules and messages."""
    currency = normalize_currency(currency)
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise InvalidRequest(
            "amount must be an exact number of minor units",
            field="amount",
            for_person="Enter the amount as money, such as 300.00.",
        )
    check_minor(amount, currency)
    check_escrow_amount(amount, currency)
    if who_pays != WhoPays.BUYER:
        raise InvalidRequest("whoPays must be buyer for milestone escrows", field="whoPays")
    _validate_milestone_set(
        milestones, amount=amount, currency=currency, settlement_type=SettlementType.MILESTONE
    )
    fee, version = fee_for(amount, currency)
    buyer_fee, shares = fee_shares(fee, who_pays, [m.amount for m in milestones])
    return FeeQuote(
        currency=currency,
        amount=amount,
        fee=fee,
        buyer_fee=buyer_fee,
        buyer_total=amount + buyer_fee,
        who_pays=who_pays,
        fee_schedule_version=version,
        milestones=tuple(
            QuoteMilestone(
                index=i, amount=m.amount, payee=m.payee, payee_fee=share, payee_net=m.amount - share
            )
            for i, (m, share) in enumerate(zip(milestones, shares, strict=True))
        ),
    )
