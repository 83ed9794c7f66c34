"""A paid intent's conditional payment (Finternet's escrow order), on both paths Finternet
publishes (`/escrow` in its repository's docs, `/conditional-payment` in its live docs): the
read, the seller's proof of delivery and a dispute raised on the order. Finternet's on-chain
routes (confirming with an EIP-712 signature, reporting a transaction hash) are answered with a
403 `not_offered` saying this server does not offer them."""

from datetime import datetime
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.types import AuthenticatedRequest
from core.errors import Forbidden, InvalidRequest, NotFound
from escrows import selectors, services
from escrows.models import (
    DeliveryProof,
    DisputeOutcome,
    Escrow,
    EscrowStatus,
    MilestoneStatus,
    SettlementStatus,
)
from escrows.money import format_minor
from escrows.selectors import OrderState
from escrows.services.conditional_payments import DISPUTE_WINDOW_DEFAULT, NOT_FOUND

from ..common import StrictSerializer, Text, iso, parse
from .base import ERRORS, ErrorOutput, IntentAPIView
from .intents import unix_seconds

# ruff: noqa: N815 -- the API's field names are camelCase

TAGS = ["conditional-payments"]
ERRORS_403 = {**ERRORS, 403: ErrorOutput}


def _seconds(value: Any) -> str:
    # A dispute's window is counted from a moment a few microseconds before its row's creation.
    return str(round(value.total_seconds()))


def order_status(escrow: Escrow, state: OrderState) -> str:
    """Finternet's orderStatus of our escrow: PENDING until delivered, DELIVERED once the seller
    proved delivery (a milestone escrow: its current stage is delivered and under review),
    DISPUTED while a dispute is live, COMPLETED once released, CANCELLED once refunded or
    cancelled. (SHIPPED is not used: we know of no shipping.)"""
    if escrow.status == EscrowStatus.COMPLETED:
        return "COMPLETED"
    if escrow.status in (EscrowStatus.REFUNDED, EscrowStatus.CANCELLED):
        return "CANCELLED"
    if escrow.status == EscrowStatus.DISPUTED or (state.dispute is not None and state.dispute.is_active):
        return "DISPUTED"
    if escrow.is_milestone:
        stage = escrow.next_unsettled(state.milestones)
        return "DELIVERED" if stage is not None and stage.status == MilestoneStatus.COMPLETED else "PENDING"
    return "DELIVERED" if escrow.delivered_at is not None else "PENDING"


def settlement_status(escrow: Escrow, state: OrderState) -> str:
    """Finternet's settlementStatus: NONE before anything is released to the seller; SCHEDULED
    while a payout of what was released is on its way out; EXECUTED once released and in the
    seller's balance with no payout under way (no settlement method, or a payout that failed and
    gave the money back); CONFIRMED once every payout was paid; CANCELLED when the money went
    back to the buyer (refunded or cancelled)."""
    if escrow.status in (EscrowStatus.REFUNDED, EscrowStatus.CANCELLED):
        return "CANCELLED"
    released = escrow.status == EscrowStatus.COMPLETED or any(
        m.status in (MilestoneStatus.RELEASED, MilestoneStatus.SPLIT) or m.released_part
        for m in state.milestones
    )
    if not released:
        return "NONE"
    if any(s in (SettlementStatus.SCHEDULED, SettlementStatus.PROCESSING) for s in state.payouts):
        return "SCHEDULED"
    if state.payouts and all(s == SettlementStatus.PAID for s in state.payouts):
        return "CONFIRMED"
    return "EXECUTED"


def _released_at(escrow: Escrow, state: OrderState) -> datetime | None:
    if escrow.status == EscrowStatus.COMPLETED and not escrow.is_milestone:
        return escrow.closed_at
    times = [m.released_at for m in state.milestones if m.released_at is not None]
    return max(times) if times else None


def _delivery_deadline(escrow: Escrow, state: OrderState) -> datetime | None:
    """When the delivered stage under the buyer's review is released by itself; a standard
    escrow has no review clock."""
    if not escrow.is_milestone or escrow.status != EscrowStatus.OPENED:
        return None
    stage = escrow.next_unsettled(state.milestones)
    if stage is None or stage.status != MilestoneStatus.COMPLETED:
        return None
    return services.review_deadline_of(stage)


def dispute_outcome(outcome: str, seller_amount: int | None, buyer_amount: int | None) -> str | None:
    """Finternet's outcome of a settled dispute, from ours (its outcome and the two parts):
    MERCHANT_WON when the seller got all of it, BUYER_WON when the buyer got all of it back,
    PARTIAL_REFUND when it was split; None before it is settled (or once withdrawn)."""
    if not outcome:
        return None
    if outcome == DisputeOutcome.RELEASE or (outcome == DisputeOutcome.SPLIT and not buyer_amount):
        return "MERCHANT_WON"
    if outcome == DisputeOutcome.REFUND or (outcome == DisputeOutcome.SPLIT and not seller_amount):
        return "BUYER_WON"
    return "PARTIAL_REFUND"


def proof_data(proof: DeliveryProof, escrow: Escrow) -> dict[str, Any]:
    return {
        "id": proof.public_id,
        "paymentIntentId": escrow.public_id,
        "proofHash": proof.proof_hash,
        "proofURI": proof.proof_uri or None,
        "submittedBy": proof.submitted_by,
        "submittedAt": iso(proof.created_at),
        "createdAt": iso(proof.created_at),
        # Ours: the stage it delivered (a milestone escrow), else null.
        "milestoneId": proof.milestone.public_id if proof.milestone is not None else None,
    }


def conditional_payment_data(escrow: Escrow, state: OrderState) -> dict[str, Any]:
    dispute = state.dispute
    window = dispute.deadline - dispute.created_at if dispute is not None else DISPUTE_WINDOW_DEFAULT
    return {
        "id": escrow.public_id,
        "paymentIntentId": escrow.public_id,
        "amount": format_minor(escrow.amount, escrow.currency),
        "currency": escrow.currency,
        "deliveryPeriod": int(escrow.inspection_period.total_seconds()),
        "deliveryDeadline": unix_seconds(_delivery_deadline(escrow, state)),
        "autoReleaseOnProof": escrow.auto_release_on_proof,
        "releaseType": escrow.release_type,
        "timeLockUntil": unix_seconds(escrow.time_lock_until),
        "orderStatus": order_status(escrow, state),
        "settlementStatus": settlement_status(escrow, state),
        "disputeWindow": _seconds(window),
        "disputeRaisedAt": iso(dispute.created_at) if dispute else None,
        "disputeReason": dispute.reason if dispute else None,
        "disputeRaisedBy": (dispute.opener_reference or dispute.opened_by.customer_id) if dispute else None,
        # Ours: the dispute's id and status, for the dispute routes under /v1/escrows/{id}/disputes.
        "disputeId": dispute.public_id if dispute else None,
        "disputeStatus": dispute.status if dispute else None,
        "disputeOutcome": (
            dispute_outcome(dispute.outcome, dispute.seller_amount, dispute.buyer_amount) if dispute else None
        ),
        "actualDeliveryHash": state.proof.proof_hash if state.proof else None,
        "deliveryProof": proof_data(state.proof, escrow) if state.proof else None,
        "releasedAt": iso(_released_at(escrow, state)),
        "createdAt": iso(escrow.funded_at),
        "updatedAt": iso(escrow.updated_at),
    }


def _order(request: AuthenticatedRequest, intent_id: str) -> Escrow:
    escrow = selectors.escrow_get_for_user(request.user, intent_id)
    if not services.conditional_payment_exists(escrow):
        raise NotFound(NOT_FOUND)
    return escrow


# -- input and output shapes --------------------------------------------------------------------


@extend_schema_field({"type": "string", "example": "0x" + "ab" * 32})
class AnyValue(serializers.Field):
    """Taken as sent: the service checks it and answers Finternet's own message."""

    def to_internal_value(self, data: Any) -> Any:
        return data

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field({"type": "string", "example": "604800", "pattern": r"^\d+$"})
class WindowValue(AnyValue):
    pass


class DeliveryProofInput(StrictSerializer):
    proofHash = AnyValue(
        required=False,
        allow_null=True,
        help_text="A 32-byte hash of the proof: 0x and 64 hex digits (the 64 digits alone are taken "
        "too); answered as 0x and lowercase.",
    )
    proofURI = Text(max_length=2000, required=False, allow_null=True, help_text="Any URI: https://, ipfs://…")
    submittedBy = Text(max_length=200, required=True, help_text="Who submits it, e.g. a wallet address.")
    submitTxHash = Text(
        max_length=200,
        required=False,
        allow_null=True,
        help_text="Not offered: this server records proofs off-chain; a non-empty value is a 400.",
    )


class DisputeRaiseInput(StrictSerializer):
    reason = Text(max_length=5000, required=True)
    raisedBy = Text(max_length=200, required=True, help_text="Who raises it, e.g. a wallet address.")
    disputeWindow = WindowValue(
        required=False,
        allow_null=True,
        help_text="Seconds the other party has to answer before the opener's request applies, as a "
        'string; from 86400 (1 day) to 2592000 (30 days); default "604800".',
    )


class DeliveryProofOut(serializers.Serializer):
    id = serializers.CharField()
    paymentIntentId = serializers.CharField()
    proofHash = serializers.CharField()
    proofURI = serializers.CharField(allow_null=True)
    submittedBy = serializers.CharField()
    submittedAt = serializers.DateTimeField()
    createdAt = serializers.DateTimeField()
    milestoneId = serializers.CharField(allow_null=True)


class ConditionalPaymentOut(serializers.Serializer):
    id = serializers.CharField()
    paymentIntentId = serializers.CharField()
    amount = serializers.CharField()
    currency = serializers.CharField()
    deliveryPeriod = serializers.IntegerField(help_text="The inspection period, in seconds.")
    deliveryDeadline = serializers.CharField(
        allow_null=True,
        help_text="Unix seconds: when the stage under review is released by itself.",
    )
    autoReleaseOnProof = serializers.BooleanField()
    releaseType = serializers.CharField()
    timeLockUntil = serializers.CharField(allow_null=True, help_text="Unix seconds.")
    orderStatus = serializers.CharField()
    settlementStatus = serializers.CharField()
    disputeWindow = serializers.CharField(help_text="Seconds, as a string.")
    disputeRaisedAt = serializers.DateTimeField(allow_null=True)
    disputeReason = serializers.CharField(allow_null=True)
    disputeRaisedBy = serializers.CharField(allow_null=True)
    disputeId = serializers.CharField(allow_null=True)
    disputeStatus = serializers.CharField(allow_null=True)
    disputeOutcome = serializers.CharField(
        allow_null=True,
        help_text="Once the dispute is settled: MERCHANT_WON (released to the seller), BUYER_WON "
        "(refunded to the buyer) or PARTIAL_REFUND (split); null before.",
    )
    actualDeliveryHash = serializers.CharField(allow_null=True)
    deliveryProof = DeliveryProofOut(allow_null=True)
    releasedAt = serializers.DateTimeField(allow_null=True)
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField()


ConditionalPaymentAnswer = inline_serializer(
    "ConditionalPaymentAnswer",
    {"id": serializers.CharField(), "object": serializers.CharField(), "data": ConditionalPaymentOut()},
)
DeliveryProofAnswer = inline_serializer(
    "DeliveryProofAnswer",
    {"id": serializers.CharField(), "object": serializers.CharField(), "data": DeliveryProofOut()},
)
DisputeRaisedAnswer = inline_serializer(
    "DisputeRaisedAnswer", {"object": serializers.CharField(), "status": serializers.CharField()}
)

# -- the routes, once per path -----------------------------------------------------------------

READ_DESCRIPTION = (
    'The conditional payment (escrow order) of a paid intent; 404 "Conditional payment not found '
    'for this payment intent" before it is paid. `orderStatus` PENDING, DELIVERED, DISPUTED, '
    "COMPLETED or CANCELLED; `settlementStatus` NONE, SCHEDULED, EXECUTED, CONFIRMED or CANCELLED; "
    "`deliveryPeriod` is the inspection period in seconds; unix times are strings of seconds."
)
PROOF_DESCRIPTION = (
    "The seller proves delivery: a standard escrow is delivered, a milestone escrow's current stage "
    "is marked delivered. Released at once with auto-release on proof (AUTO_RELEASE or autoRelease); "
    'a TIME_LOCKED escrow once its time has come (at once if it has). 400 "proofHash must be a '
    'valid bytes32 hex string"; the buyer gets 403.'
)
DISPUTE_DESCRIPTION = (
    "Either party raises a dispute on the order (a milestone escrow: on its current stage); release "
    'pauses. 400 "Dispute already raised for this order", "Cannot raise dispute: order is already '
    'completed" (or cancelled).'
)


class _ConditionalPaymentRead(IntentAPIView):
    def get(self, request: AuthenticatedRequest, intent_id: str) -> Response:
        escrow = _order(request, intent_id)
        return Response(
            {
                "id": escrow.public_id,
                "object": "conditional_payment",
                "data": conditional_payment_data(escrow, selectors.order_state(escrow)),
            }
        )


class _DeliveryProofSubmit(IntentAPIView):
    def post(self, request: AuthenticatedRequest, intent_id: str) -> Response:
        escrow = _order(request, intent_id)
        data = parse(DeliveryProofInput, request)
        if data.get("submitTxHash"):
            raise InvalidRequest(
                "submitTxHash is not offered: this server records proofs of delivery off-chain, "
                "without a transaction; send the proof without it",
                code="not_offered",
                field="submitTxHash",
            )
        proof = services.delivery_proof_submit(
            escrow=escrow,
            by=request.user,
            proof_hash=data.get("proofHash"),
            proof_uri=data.get("proofURI") or "",
            submitted_by=data["submittedBy"],
        )
        return Response(
            {"id": proof.public_id, "object": "delivery_proof", "data": proof_data(proof, escrow)}
        )


class _DisputeRaise(IntentAPIView):
    def post(self, request: AuthenticatedRequest, intent_id: str) -> Response:
        escrow = _order(request, intent_id)
        data = parse(DisputeRaiseInput, request)
        services.conditional_payment_dispute(
            escrow=escrow,
            by=request.user,
            reason=data["reason"],
            raised_by=data["raisedBy"],
            window=services.dispute_window_of(data.get("disputeWindow")),
        )
        return Response({"object": "dispute", "status": "raised"})


def _documented(
    method: str, base: type[IntentAPIView], operation_id: str, **schema: Any
) -> type[IntentAPIView]:
    """A subclass of `base` for one of the two paths, its `method` documented under its own
    operation id (the schema needs one per path)."""
    view: type[IntentAPIView] = type(f"{base.__name__.strip('_')}_{operation_id}", (base,), {})
    return extend_schema_view(**{method: extend_schema(operation_id=operation_id, **schema)})(view)


def _read(operation_id: str) -> type[IntentAPIView]:
    return _documented(
        "get",
        _ConditionalPaymentRead,
        operation_id,
        responses={200: ConditionalPaymentAnswer, **ERRORS},
        tags=TAGS,
        summary="Retrieve the conditional payment of a payment intent",
        description=READ_DESCRIPTION,
    )


def _proof(operation_id: str) -> type[IntentAPIView]:
    return _documented(
        "post",
        _DeliveryProofSubmit,
        operation_id,
        request=DeliveryProofInput,
        responses={200: DeliveryProofAnswer, **ERRORS_403},
        tags=TAGS,
        summary="Submit a proof of delivery (seller)",
        description=PROOF_DESCRIPTION,
    )


def _dispute(operation_id: str) -> type[IntentAPIView]:
    return _documented(
        "post",
        _DisputeRaise,
        operation_id,
        request=DisputeRaiseInput,
        responses={200: DisputeRaisedAnswer, **ERRORS},
        tags=TAGS,
        summary="Raise a dispute on the order",
        description=DISPUTE_DESCRIPTION,
    )


ConditionalPaymentRead = _read("conditional_payment_retrieve")
EscrowOrderRead = _read("escrow_order_retrieve")
ConditionalPaymentDeliveryProof = _proof("conditional_payment_delivery_proof")
EscrowOrderDeliveryProof = _proof("escrow_order_delivery_proof")
ConditionalPaymentDispute = _dispute("conditional_payment_dispute")
EscrowOrderDispute = _dispute("escrow_order_dispute")


# -- what this server does not offer -----------------------------------------------------------

NOT_OFFERED = {
    "confirm": (
        "Confirming a payment intent with an EIP-712 signature is not offered by this server: "
        "nothing is paid on-chain here. The buyer pays on the intent's paymentUrl, or through "
        "POST /v1/payment/escrow"
    ),
    "transaction-hash": (
        "Reporting an on-chain transaction hash is not offered by this server: nothing is paid "
        "on-chain here. The buyer pays on the intent's paymentUrl, or through POST /v1/payment/escrow"
    ),
}


class NotOffered(IntentAPIView):
    """A route Finternet publishes that does not apply here: 403 `not_offered` whoever asks and
    however (as the escrow surface answers its own)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    # Documented without the headers an operation understands: nothing here reads them.
    schema = AutoSchema()
    what = "confirm"

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Nobody is signed in here, so no Idempotency-Key is claimed: nothing is done anyway.
        APIView.initial(self, request, *args, **kwargs)

    def _refuse(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise Forbidden(NOT_OFFERED[self.what], code="not_offered")

    get = post = put = patch = delete = _refuse


def _not_offered_schema(what: str, route: str) -> Any:
    """In the schema as Finternet publishes it (POST), under the surface's not-offered routes;
    the other methods get the same answer but are not documented."""
    hidden = extend_schema(exclude=True)
    return extend_schema_view(
        post=extend_schema(
            operation_id=f"intent_{what.replace('-', '_')}_not_offered",
            request=None,
            responses={403: ErrorOutput},
            tags=["payment-intents-not-offered"],
            summary=f"Not offered: {route}",
            description=f'403 `not_offered`, with or without a key: "{NOT_OFFERED[what]}".',
            auth=[],
        ),
        get=hidden,
        put=hidden,
        patch=hidden,
        delete=hidden,
    )


@_not_offered_schema("confirm", "confirming with an EIP-712 signature")
class ConfirmNotOffered(NotOffered):
    what = "confirm"


@_not_offered_schema("transaction-hash", "reporting an on-chain transaction hash")
class TransactionHashNotOffered(NotOffered):
    what = "transaction-hash"
