"""Paying an escrow (Payluk's pay call, with our terms check) and the test-mode wallet top-up. With
Stripe on, a card payment starts as a PaymentIntent the integrator's page confirms with Stripe.js;
Stripe's answer (its webhook, or the return to our page) funds the escrow."""

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.types import AuthenticatedRequest
from core.errors import InvalidRequest, TermsChanged
from escrows import services, stripe_api
from escrows.models import Escrow, FundingSource
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


# Payluk's older body spells these in capitals; its newer one in lower case, with `amount`.
NEWER_GATEWAYS = [source.lower() for source in FundingSource.values]


class PayInput(StrictSerializer):
    gateway = serializers.ChoiceField(choices=[*FundingSource.values, *NEWER_GATEWAYS])
    transactionType = serializers.ChoiceField(choices=["ESCROW", "escrow"], required=False)  # noqa: N815
    escrowDetails = EscrowDetailsInput()  # noqa: N815
    reference = Text(max_length=200, required=False, allow_null=True)
    cardToken = Text(max_length=100, required=False, allow_null=True)  # noqa: N815
    # What the buyer was shown; the payment is refused (409 terms_changed) if the escrow changed.
    termsVersion = StrictInteger(required=False, allow_null=True)  # noqa: N815
    expectedAmount = ExpectedAmount(required=False, allow_null=True)  # noqa: N815
    # The newer body: what the buyer owes (amount + fee), required there; 400 "Amount mismatch"
    # when it is not. Its `currency`, when sent, must be the escrow's; saved cards (`cardId`) are
    # not offered.
    amount = ExpectedAmount(required=False, allow_null=True)
    currency = Text(max_length=8, required=False, allow_null=True)
    cardId = Text(max_length=100, required=False, allow_null=True)  # noqa: N815

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        newer = data["gateway"] in NEWER_GATEWAYS or data.get("transactionType") == "escrow"
        if newer and data.get("amount") is None:
            raise serializers.ValidationError({"amount": ["This field is required."]})
        if data.get("amount") is not None and data.get("expectedAmount") is not None:
            raise serializers.ValidationError(
                {"expectedAmount": ["Send amount or expectedAmount, not both."]}
            )
        if data.get("cardId"):
            raise serializers.ValidationError(
                {
                    "cardId": [
                        "Saved cards are not offered by this server: pay with gateway card and cardToken."
                    ]
                }
            )
        data["gateway"] = data["gateway"].upper()
        return data


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


CardConfirmationOutput = inline_serializer(
    "ProviderCardPayment",
    {
        "reference": serializers.CharField(help_text="The payment's id: the funded payment's reference"),
        "status": serializers.ChoiceField(
            choices=["AWAITING_CARD_CONFIRMATION"],
            help_text="Nothing is charged yet: the buyer's browser confirms the card with Stripe.js",
        ),
        "amount": serializers.DecimalField(max_digits=20, decimal_places=2, coerce_to_string=False),
        "fee": serializers.DecimalField(max_digits=20, decimal_places=2, coerce_to_string=False),
        "currency": serializers.CharField(),
        "gateway": serializers.CharField(),
        "escrowId": serializers.CharField(),
        "paymentId": serializers.CharField(),
        "state": serializers.CharField(),
        "escrowStatus": serializers.CharField(),
        "paymentIntentId": serializers.CharField(help_text="Stripe's PaymentIntent"),
        "clientSecret": serializers.CharField(
            help_text="For stripe.confirmPayment / elements({clientSecret}) in the buyer's browser only"
        ),
        "publishableKey": serializers.CharField(help_text="The key to load Stripe.js with"),
        "declineReason": serializers.CharField(
            allow_null=True, help_text="Stripe's words for the last card refused on this payment, if any"
        ),
    },
)

AWAITING_CARD = "Payment awaiting card confirmation"


class PayEscrow(ProviderAPIView):
    @extend_schema(
        operation_id="provider_pay_escrow",
        request=PayInput,
        responses={
            200: envelope("ProviderPaid", PayOutput),
            202: envelope("ProviderCardPaymentStarted", CardConfirmationOutput),
            402: ErrorOutput,
            409: ErrorOutput,
            **ERRORS,
        },
        tags=["escrow-provider"],
        summary="Pay (fund) an escrow: amount + fee, once (customer-id = buyer)",
        description=(
            "`WALLET`, or `CARD`: with the mock gateway (`cardToken`, test mode) the answer is 200 "
            '"Payment successful" and the escrow is funded. When card payments go through Stripe, '
            f'`CARD` answers 202 "{AWAITING_CARD}" with the escrow still awaiting payment, the '
            "PaymentIntent's `clientSecret` and the `publishableKey`: confirm it with Stripe.js in "
            "the buyer's browser. Stripe's webhook funds the escrow. Calling again before then "
            "continues the same PaymentIntent (another card after a decline); `cardToken` and "
            "`reference` are not used.\n\n"
            "Both of Payluk's bodies are accepted: the older one (`gateway` `WALLET`/`CARD`, "
            "`transactionType` `ESCROW`) and the newer one (`gateway` `wallet`/`card`, "
            "`transactionType` `escrow`, and `amount` required: exactly what the buyer owes, "
            'amount + fee, else 400 "Amount mismatch"). `amount` may be sent with the older body '
            "too; `cardId` (saved cards) is refused: this server does not keep cards."
        ),
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = parse(PayInput, request)
        escrow = escrow_for_payer(request.user, data["escrowDetails"]["escrowId"])
        currency = data.get("currency")
        if currency and normalize_currency(currency) != escrow.currency:
            raise InvalidRequest(f"currency must be the escrow's: {escrow.currency}", field="currency")
        field = "amount" if data.get("amount") is not None else "expectedAmount"
        expected = data.get(field)
        expected_total = None if expected is None else to_minor(expected, escrow.currency, field=field)
        with _amount_mismatch(field == "amount" and data.get("termsVersion") is None):
            if data["gateway"] == FundingSource.CARD and stripe_api.cards_through_stripe():
                return self._card_payment_start(request, escrow, data, expected_total)
            payment = services.escrow_fund(
                escrow=escrow,
                by=request.user,
                source=data["gateway"],
                reference=data.get("reference"),
                card_token=data.get("cardToken") or "",
                terms_version=data.get("termsVersion"),
                expected_total=expected_total,
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

    def _card_payment_start(
        self, request: AuthenticatedRequest, escrow: Escrow, data: dict[str, Any], expected_total: int | None
    ) -> Response:
        started = services.card_payment_start(
            escrow=escrow,
            by=request.user,
            terms_version=data.get("termsVersion"),
            expected_total=expected_total,
        )
        card_payment = started.card_payment
        state, provider_status = STATE_MAP[escrow.status]
        return ok(
            AWAITING_CARD,
            {
                "reference": card_payment.public_id,
                "status": "AWAITING_CARD_CONFIRMATION",
                "amount": major(card_payment.total, card_payment.currency),
                "fee": major(card_payment.fee, card_payment.currency),
                "currency": card_payment.currency,
                "gateway": FundingSource.CARD,
                "escrowId": escrow.public_id,
                "paymentId": card_payment.public_id,
                "state": state,
                "escrowStatus": provider_status,
                "paymentIntentId": card_payment.provider_reference,
                "clientSecret": started.client_secret,
                "publishableKey": settings.STRIPE_PUBLISHABLE_KEY,
                "declineReason": card_payment.decline_reason or None,
            },
            code=status.HTTP_202_ACCEPTED,
        )


@contextmanager
def _amount_mismatch(newer_amount: bool) -> Iterator[None]:
    """The newer body's `amount` that is not what the buyer owes is Payluk's 400 "Amount
    mismatch" (the services refuse it, under the escrow's lock, as changed terms)."""
    try:
        yield
    except TermsChanged:
        if not newer_amount:
            raise
        raise InvalidRequest("Amount mismatch", code="amount_mismatch", field="amount") from None


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
