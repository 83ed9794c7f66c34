"""GET /v1/wallet: the acting customer's money in one currency, as the balance page shows it
(selectors.statement_totals), in Payluk's words and major units."""

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from accounts.types import AuthenticatedRequest
from escrows import selectors
from escrows.money import normalize_currency

from .base import ERRORS, ProviderAPIView, envelope, major, ok


def _money(help_text: str) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=20, decimal_places=2, coerce_to_string=False, help_text=help_text
    )


WalletOutput = inline_serializer(
    "ProviderWallet",
    {
        "mainBalance": _money("Available: what the customer can pay with or withdraw"),
        "escrowBalance": _money("Held in open escrows: heldForYou + heldForPurchases"),
        "currency": serializers.CharField(),
        "heldForYou": _money("Paid by buyers into the customer's open escrows, not yet released to them"),
        "heldForPurchases": _money("Paid by the customer into open escrows, not yet released or refunded"),
        "beingPaidOut": _money("Payouts scheduled or on their way"),
    },
)


class Wallet(ProviderAPIView):
    @extend_schema(
        operation_id="provider_wallet",
        parameters=[
            OpenApiParameter(
                "currency",
                str,
                description=f"The wallet's currency (default {settings.ESCROW_DEFAULT_CURRENCY})",
            )
        ],
        responses={200: envelope("ProviderWalletFetched", WalletOutput), **ERRORS},
        tags=["escrow-provider"],
        summary="The acting customer's wallet in one currency (customer-id = the customer)",
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        currency = normalize_currency(
            request.query_params.get("currency") or settings.ESCROW_DEFAULT_CURRENCY
        )
        totals = next((t for t in selectors.statement_totals(request.user) if t.currency == currency), None)
        available, held_for_you, purchases, payout = (
            (totals.available, totals.held_for_you, totals.held_for_purchases, totals.being_paid_out)
            if totals
            else (0, 0, 0, 0)
        )
        return ok(
            "Wallet fetched successfully",
            {
                "mainBalance": major(available, currency),
                "escrowBalance": major(held_for_you + purchases, currency),
                "currency": currency,
                "heldForYou": major(held_for_you, currency),
                "heldForPurchases": major(purchases, currency),
                "beingPaidOut": major(payout, currency),
            },
        )
