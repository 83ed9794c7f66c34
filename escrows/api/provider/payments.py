"""Paying an escrow (Payluk's pay call, with our terms check) and the test-mode wallet top-up."""

import math
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from accounts.types import AuthenticatedRequest
from escrows import services
from escrows.models import FundingSource
from escrows.money import major_int_to_minor, normalize_currency, to_minor

from ..common import DecimalString, StrictInteger, StrictSerializer, Text, parse
from .base import ERRORS, STATE_MAP, ErrorOutput, ProviderAPIView, envelope, escrow_for_payer, major, ok


class EscrowDetailsInput(StrictSerializer):
    escrowId = Text(max_length=100, required=True)  # noqa: N815


@extend_schema_field({"oneOf": [{"type": "number"}, {"type": "string", "example": "724.50"}]})
class ExpectedAmount(DecimalString):
    """The total the buyer expects to be charged (amount + fee), as the pay answer's `amount`:
    a number, as that answer shows it, or a decimal string. Only compared, never charged."""

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, float) and math.isfinite(data):
            data = repr(data)  # the shortest text that reads back as this number: what was sent
        return super().to_internal_value(data)


class PayInput(StrictSerializer):
    gateway = serializers.ChoiceField(choices=FundingSource.values)
    transactionType = serializers.ChoiceField(choices=["ESCROW"], required=False)  # noqa: N815
    escrowDetails = EscrowDetailsInput()  # noqa: N815
    reference = Text(max_length=200, required=False, allow_null=True)
    cardToken = Text(max_length=100, required=False, allow_null=True)  # noqa: N815
    # What the buyer was shown; the payment is refused (409 terms_changed) if the escrow changed.
    termsVersion = StrictInteger(required=False, allow_null=True)  # noqa: N815
    expectedAmount = ExpectedAmount(required=False, allow_null=True)  # noqa: N815


PayOutput = inline_serializer(
    "ProviderPayment",
    {
        "reference": serializers.CharField(),
        "status": serializers.CharField(),
        "amount": serializers.DecimalField(max_digits=20, decimal_places=2, coerce_to_string=False),
        "fee": serializers.DecimalField(max_digits=20, decimal_places=2, coerce_to_string=False),
        "currency": serializers.CharField(),
        "gateway": serializers.CharField(),
        "escrowId": serializers.CharField(),
        "paymentId": serializers.CharField(),
        "state": serializers.CharField(),
        "escrowStatus": serializers.CharField(),
    },
)


class PayEscrow(ProviderAPIView):
    @extend_schema(
        operation_id="provider_pay_escrow",
        request=PayInput,
        responses={200: envelope("ProviderPaid", PayOutput), 402: ErrorOutput, 409: ErrorOutput, **ERRORS},
        tags=["escrow-provider"],
        summary="Pay (fund) an escrow: amount + fee, once (customer-id = buyer)",
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = parse(PayInput, request)
        escrow = escrow_for_payer(request.user, data["escrowDetails"]["escrowId"])
        expected = data.get("expectedAmount")
        payment = services.escrow_fund(
            escrow=escrow,
            by=request.user,
            source=data["gateway"],
            reference=data.get("reference"),
            card_token=data.get("cardToken") or "",
            terms_version=data.get("termsVersion"),
            expected_total=None
            if expected is None
            else to_minor(expected, escrow.currency, field="expectedAmount"),
        )
        escrow = payment.escrow  # as the payment's transaction left it (a replay reads it afresh)
        state, provider_status = STATE_MAP[escrow.status]
        return ok(
            "Payment successful",
            {
                "reference": payment.reference,
                "status": "SUCCESS",
                "amount": major(payment.total, payment.currency),
                "fee": major(payment.fee, payment.currency),
                "currency": payment.currency,
                "gateway": payment.source,
                "escrowId": escrow.public_id,
                "paymentId": payment.public_id,
                "state": state,
                "escrowStatus": provider_status,
            },
        )


class TopupInput(StrictSerializer):
    amount = StrictInteger()
    currency = Text(max_length=8, required=False, allow_null=True)


class WalletTopup(ProviderAPIView):
    @extend_schema(
        operation_id="provider_wallet_topup",
        request=TopupInput,
        responses={
            200: envelope(
                "ProviderTopup",
                inline_serializer(
                    "ProviderTopupData",
                    {
                        "amount": serializers.IntegerField(),
                        "currency": serializers.CharField(),
                        "balance": serializers.DecimalField(
                            max_digits=20, decimal_places=2, coerce_to_string=False
                        ),
                    },
                ),
            ),
            **ERRORS,
        },
        tags=["escrow-provider"],
        summary="Test mode: credit the acting customer's wallet from a mock deposit",
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = parse(TopupInput, request)
        currency = normalize_currency(data.get("currency") or settings.ESCROW_DEFAULT_CURRENCY)
        amount = major_int_to_minor(data["amount"], currency)
        balance = services.wallet_topup(customer=request.user, amount=amount, currency=currency)
        return ok(
            "Wallet topped up",
            {"amount": data["amount"], "currency": currency, "balance": major(balance, currency)},
        )
