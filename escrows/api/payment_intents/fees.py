"""The fee quote: what a milestone escrow would cost before it is created. Views parse, call
one service, and shape the answer; the rules live in escrows.services."""

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from accounts.models import User
from accounts.types import AuthenticatedRequest
from core.errors import InvalidRequest
from escrows import services
from escrows.money import currency_exponent, format_minor, normalize_currency, to_minor
from escrows.services import FeeQuote, MilestoneInput

from ..common import DecimalString, StrictSerializer, Text, parse
from .base import ERRORS, IntentAPIView

MAX_QUOTE_MILESTONES = 100


class QuoteMilestoneInput(StrictSerializer):
    amount = DecimalString()
    payee = Text(
        max_length=40,
        required=False,
        allow_null=True,
        help_text="Customer id (cus_…) the milestone is paid to; the seller when absent.",
    )


class FeeQuoteInput(StrictSerializer):
    currency = Text(max_length=8, required=True)
    amount = DecimalString()
    whoPays = Text(max_length=10, required=False, allow_null=True)  # noqa: N815
    # many=True hands max_length to the ListSerializer; the stubs know only the child's arguments.
    milestones = QuoteMilestoneInput(many=True, max_length=MAX_QUOTE_MILESTONES)  # type: ignore[call-arg]


QuoteMilestoneOutput = inline_serializer(
    "FeeQuoteMilestone",
    many=True,
    fields={
        "milestoneIndex": serializers.IntegerField(),
        "amount": serializers.CharField(),
        "payee": serializers.CharField(help_text="Customer id of who receives this milestone"),
        "payeeIsSeller": serializers.BooleanField(),
        "payeeFee": serializers.CharField(help_text="The part of the fee this payee bears"),
        "payeeNet": serializers.CharField(help_text="What the payee receives on release"),
    },
)
FeeQuoteOutput = inline_serializer(
    "FeeQuote",
    {
        "object": serializers.CharField(),
        "currency": serializers.CharField(),
        "amount": serializers.CharField(),
        "fee": serializers.CharField(),
        "buyerFee": serializers.CharField(),
        "buyerTotal": serializers.CharField(help_text="What the buyer pays when funding"),
        "whoPays": serializers.CharField(),
        "feeScheduleVersion": serializers.CharField(),
        "feeSchedule": inline_serializer(
            "FeeSchedule",
            {
                "basisPoints": serializers.IntegerField(),
                "minimum": serializers.CharField(),
                "maximum": serializers.CharField(),
            },
        ),
        "milestones": QuoteMilestoneOutput,
    },
)


def _payee(customer_id: str | None, index: int) -> Any:
    if not customer_id:
        return None
    payee = User.objects.filter(customer_id=customer_id, is_active=True).first()
    if payee is None:
        raise InvalidRequest(f"milestones[{index}].payee: customer not found", field="milestones")
    return payee


def quote_for(
    user: Any, *, currency: Any, amount: Any, milestones: list[dict[str, Any]], who_pays: Any
) -> FeeQuote:
    """Parse decimal strings into minor units (create's messages) and ask the service."""
    code = normalize_currency(currency)
    inputs = [
        MilestoneInput(
            amount=to_minor(m.get("amount"), code, field=f"milestones[{i}].amount"),
            payee=_payee(m.get("payee"), i),
        )
        for i, m in enumerate(milestones)
    ]
    return services.fee_quote(
        currency=code,
        amount=to_minor(amount, code),
        milestones=inputs,
        who_pays=who_pays or "buyer",
    )


def quote_data(quote: FeeQuote, seller: Any) -> dict[str, Any]:
    cur = quote.currency
    schedule = settings.ESCROW_FEE_SCHEDULE
    unit = 10 ** currency_exponent(cur)
    return {
        "object": "fee_quote",
        "currency": cur,
        "amount": format_minor(quote.amount, cur),
        "fee": format_minor(quote.fee, cur),
        "buyerFee": format_minor(quote.buyer_fee, cur),
        "buyerTotal": format_minor(quote.buyer_total, cur),
        "whoPays": quote.who_pays,
        "feeScheduleVersion": quote.fee_schedule_version,
        "feeSchedule": {
            "basisPoints": schedule["basis_points"],
            "minimum": format_minor(schedule["min_major"] * unit, cur),
            "maximum": format_minor(schedule["max_major"] * unit, cur),
        },
        "milestones": [
            {
                "milestoneIndex": m.index,
                "amount": format_minor(m.amount, cur),
                "payee": (m.payee or seller).customer_id,
                "payeeIsSeller": m.payee is None or m.payee.pk == seller.pk,
                "payeeFee": format_minor(m.payee_fee, cur),
                "payeeNet": format_minor(m.payee_net, cur),
            }
            for m in quote.milestones
        ],
    }


QUOTE_DESCRIPTION = (
    "What a milestone escrow with these terms would cost, before anything is created or funded: "
    "the fee under the current schedule (and its version, which create records on the escrow), "
    "the buyer's total, and per milestone who is paid and their net. Checked with the same rules "
    "and messages as creating the escrow (at least 2 milestones, positive amounts that sum to the "
    "amount, `whoPays` buyer)."
)


class FeeQuoteView(IntentAPIView):
    @extend_schema(
        operation_id="fee_quote_create",
        request=FeeQuoteInput,
        responses={200: FeeQuoteOutput, **ERRORS},
        tags=["fee quote"],
        summary="Quote the fee, the buyer's total and each payee's net",
        description=QUOTE_DESCRIPTION,
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = parse(FeeQuoteInput, request)
        quote = quote_for(
            request.user,
            currency=data["currency"],
            amount=data["amount"],
            milestones=[dict(m) for m in data["milestones"]],
            who_pays=data.get("whoPays"),
        )
        return Response(quote_data(quote, request.user))

    @extend_schema(
        operation_id="fee_quote_retrieve",
        parameters=[
            OpenApiParameter("currency", str, required=True),
            OpenApiParameter("amount", str, required=True, description='Decimal string, e.g. "1000.00"'),
            OpenApiParameter(
                "milestones", str, required=True, description='Comma-separated amounts, e.g. "300.00,700.00"'
            ),
            OpenApiParameter("whoPays", str, required=False),
        ],
        responses={200: FeeQuoteOutput, **ERRORS},
        tags=["fee quote"],
        summary="Quote the fee (query parameters; milestones paid to the seller)",
        description=QUOTE_DESCRIPTION,
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        params = request.query_params
        for name in ("currency", "amount", "milestones"):
            if not params.get(name):
                raise InvalidRequest(f"{name} is required", field=name)
        parts = params["milestones"].split(",")
        if len(parts) > MAX_QUOTE_MILESTONES:
            raise InvalidRequest(f"At most {MAX_QUOTE_MILESTONES} milestones", field="milestones")
        quote = quote_for(
            request.user,
            currency=params["currency"],
            amount=_decimal_param(params["amount"], "amount"),
            milestones=[
                {"amount": _decimal_param(part, f"milestones[{i}].amount")} for i, part in enumerate(parts)
            ],
            who_pays=params.get("whoPays"),
        )
        return Response(quote_data(quote, request.user))


def _decimal_param(value: str, name: str) -> str:
    """Query strings get DecimalString's own check, so GET and POST refuse the same inputs."""
    try:
        return DecimalString().to_internal_value(value)
    except serializers.ValidationError:
        raise InvalidRequest(f'{name} must be a decimal string such as "300.00"', field=name) from None
