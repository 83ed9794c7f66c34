"""What every escrow-provider route shares: the view base, Payluk's envelope and exception
handler, its state names, the escrow and milestone objects (built from rows so the list can skip
model instances), their schemas, and which escrow a caller may see and pay."""

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.models import User
from core.errors import NotFound
from escrows import hot, selectors
from escrows.models import (
    Dispute,
    DisputeOutcome,
    DisputeStatus,
    Escrow,
    EscrowImage,
    EscrowStatus,
    Event,
    Milestone,
    SettlementType,
)
from escrows.money import currency_exponent, to_decimal

from ..common import BaseAPIView, Failure, iso, make_exception_handler


def error_envelope(failure: Failure) -> dict[str, Any]:
    body: dict[str, Any] = {"status": failure.status, "message": failure.message, "code": failure.code}
    if failure.param:
        body["field"] = failure.param
    # Payluk answers an error with an empty object as its data.
    body["data"] = {}
    return body


exception_handler = make_exception_handler(error_envelope)


def ok(message: str, data: Any, code: int = status.HTTP_200_OK) -> Response:
    return Response({"status": code, "message": message, "data": data}, status=code)


# Our status → Payluk's (state, status). `state_of` refines the status from what else we know:
# CLAIMED (the seller claimed after the delivery window), INVESTIGATING (the seller answered the
# buyer's dispute; an arbiter decides), SPLIT (a dispute's ruling split the money).
STATE_MAP = {
    EscrowStatus.AWAITING_PAYMENT: ("AWAITING_PAYMENT", "PENDING"),
    EscrowStatus.OPENED: ("OPENED", "ONGOING"),
    EscrowStatus.DISPUTED: ("OPENED", "DISPUTED"),
    EscrowStatus.COMPLETED: ("CLOSED", "COMPLETED"),
    EscrowStatus.REFUNDED: ("CLOSED", "REFUNDED"),
    EscrowStatus.CANCELLED: ("CLOSED", "CANCELLED"),
}


def state_of(e: Mapping[str, Any]) -> tuple[str, str]:
    """Payluk's (state, status) of an escrow row; `dispute_status` is what `dispute_states` read."""
    state, provider_status = STATE_MAP[e["status"]]
    if e["status"] == EscrowStatus.COMPLETED and e.get("claimed_at"):
        provider_status = "CLAIMED"
    return state, e.get("dispute_status") or provider_status


def dispute_states(rows: Iterable[dict[str, Any]]) -> None:
    """Set `dispute_status` on the rows a whole-escrow dispute shows in: INVESTIGATING while the
    seller's answer waits for an arbiter, SPLIT once a ruling split the money. One query, and
    none when no row is disputed or closed by a dispute."""
    candidates = {
        row["pk"]: row
        for row in rows
        if row["settlement_type"] == SettlementType.STANDARD
        and row["status"] in (EscrowStatus.DISPUTED, EscrowStatus.COMPLETED)
    }
    if not candidates:
        return
    disputes = Dispute.objects.filter(escrow_id__in=list(candidates), milestone__isnull=True).filter(
        Q(status=DisputeStatus.ANSWERED) | Q(status=DisputeStatus.RESOLVED, outcome=DisputeOutcome.SPLIT)
    )
    for escrow_id, status_, seller_amount, buyer_amount in disputes.values_list(
        "escrow_id", "status", "seller_amount", "buyer_amount"
    ):
        row = candidates[escrow_id]
        if status_ == DisputeStatus.ANSWERED and row["status"] == EscrowStatus.DISPUTED:
            row["dispute_status"] = "INVESTIGATING"
        elif status_ == DisputeStatus.RESOLVED and seller_amount and buyer_amount:
            row["dispute_status"] = "SPLIT"


def images_of(rows: Iterable[Mapping[str, Any]]) -> dict[int, list[str]]:
    """The picture addresses of the standard escrows among `rows`, by escrow pk (one query)."""
    pks = [row["pk"] for row in rows if row["settlement_type"] == SettlementType.STANDARD]
    found: dict[int, list[str]] = {pk: [] for pk in pks}
    if pks:
        for escrow_id, public_id in EscrowImage.objects.filter(escrow_id__in=pks).values_list(
            "escrow_id", "public_id"
        ):
            found[escrow_id].append(image_url(public_id))
    return found


def image_url(public_id: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("api_provider_image", args=[public_id])


def major(minor: int, currency: str) -> int | Decimal:
    """Whole major units as an integer, as Payluk shows amounts; a fee that is not whole
    (1.5% of 101) keeps its cents rather than being rounded away."""
    unit = 10 ** currency_exponent(currency)
    return minor // unit if minor % unit == 0 else to_decimal(minor, currency)


# The columns Payluk's escrow and milestone objects are made of. The single-object
# routes read them off model instances; the list reads them with values() straight from the
# database (no model instances: most of a list request's time went into building them).
ESCROW_COLUMNS = (
    "pk",
    "public_id",
    "amount",
    "currency",
    "title",
    "description",
    "who_pays",
    "fee",
    "fee_schedule_version",
    "payment_token",
    "status",
    "settlement_type",
    "max_delivery",
    "delivery_timeline",
    "total_quantity",
    "category_id",
    "terms_version",
    "inspection_period",
    "funded_at",
    "closed_at",
    "claimed_at",
    "created_at",
    "updated_at",
)
MILESTONE_COLUMNS = (
    "escrow_id",
    "public_id",
    "index",
    "title",
    "description",
    "amount",
    "due_date",
    "status",
    "released_at",
)


def milestone_row(milestone: Milestone) -> dict[str, Any]:
    row = {name: getattr(milestone, name) for name in MILESTONE_COLUMNS}
    row["payee_customer_id"] = milestone.payee.customer_id if milestone.payee else None
    return row


def escrow_row(escrow: Escrow) -> dict[str, Any]:
    row = {name: getattr(escrow, name) for name in ESCROW_COLUMNS}
    row["seller_customer_id"] = escrow.seller.customer_id
    row["buyer_customer_id"] = escrow.buyer.customer_id if escrow.buyer else None
    return row


def milestone_output(m: Mapping[str, Any], currency: str) -> dict[str, Any]:
    return {
        "id": m["public_id"],
        "index": m["index"],
        "title": m["title"],
        "description": m["description"],
        "amount": major(m["amount"], currency),
        "dueDate": iso(m["due_date"]),
        "customerId": m["payee_customer_id"],
        "status": m["status"],
        "releasedAt": iso(m["released_at"]),
    }


def logs_of(escrow: Escrow) -> list[dict[str, Any]]:
    """What happened to the escrow, oldest first: each of its events as Payluk's log entry (one
    query, on the escrow's event index)."""
    return [
        {"action": kind, "createdAt": iso(created_at)}
        for kind, created_at in Event.objects.filter(escrow=escrow)
        .order_by("id")
        .values_list("kind", "created_at")
    ]


def escrow_output(
    e: Mapping[str, Any],
    milestones: Iterable[Mapping[str, Any]],
    images: list[str] | None = None,
    *,
    viewer: User | None,
    logs: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """`images`: the picture addresses (`images_of`); absent, the list says none. `viewer`: who
    asks (the acting customer, or the platform on its merchant-wide routes): `isSeller` says
    whether they sell it; None where nobody asks (a webhook), and `isSeller` is null. `logs`:
    `logs_of`, read for one escrow; the lists leave them empty (a query per page of escrows
    and their whole histories, on the list every integrator polls)."""
    state, provider_status = state_of(e)
    currency = e["currency"]
    return {
        "id": e["public_id"],
        "amount": major(e["amount"], currency),
        "currency": currency,
        "purpose": e["title"],
        "description": e["description"],
        "whoPays": e["who_pays"],
        "fee": major(e["fee"], currency),
        "feeScheduleVersion": e["fee_schedule_version"],
        "paymentToken": e["payment_token"],
        "termsVersion": e["terms_version"],
        "inspectionPeriodDays": e["inspection_period"].days,
        "status": provider_status,
        "state": state,
        "settlementType": e["settlement_type"],
        "maxDelivery": e["max_delivery"],
        "deliveryTimeline": e["delivery_timeline"] or None,
        "totalQuantity": e["total_quantity"],
        "categoryId": e["category_id"] or None,
        "sellerId": e["seller_customer_id"],
        "buyerId": e["buyer_customer_id"],
        "milestones": [milestone_output(m, currency) for m in milestones],
        "imageUrl": images or [],
        "logs": logs or [],
        "channel": "API",
        "isSeller": None if viewer is None else viewer.customer_id == e["seller_customer_id"],
        # We keep no categories: an escrow keeps the categoryId it was created with, as given.
        "category": None,
        "paidAt": iso(e["funded_at"]),
        "completedAt": iso(e["closed_at"]) if e["status"] == EscrowStatus.COMPLETED else None,
        "createdAt": iso(e["created_at"]),
        "updatedAt": iso(e["updated_at"]),
    }


def milestone_data(milestone: Milestone, escrow: Escrow) -> dict[str, Any]:
    return milestone_output(milestone_row(milestone), escrow.currency)


def escrow_data(
    escrow: Escrow, milestones: Iterable[Milestone] | None = None, *, viewer: User | None
) -> dict[str, Any]:
    """`milestones`: already loaded; else read here. `viewer`: as `escrow_output`."""
    loaded = selectors.milestones_of(escrow) if milestones is None else milestones
    row = escrow_row(escrow)
    dispute_states([row])
    return escrow_output(
        row,
        [milestone_row(m) for m in loaded],
        images_of([row]).get(escrow.pk),
        viewer=viewer,
        logs=logs_of(escrow),
    )


class ProviderAPIView(BaseAPIView):
    exception_handler = staticmethod(exception_handler)


def envelope(name: str, data: Any) -> Any:
    return inline_serializer(
        name, {"status": serializers.IntegerField(), "message": serializers.CharField(), "data": data}
    )


ErrorOutput = inline_serializer(
    "ProviderError",
    {
        "status": serializers.IntegerField(),
        "message": serializers.CharField(),
        "code": serializers.CharField(),
        "field": serializers.CharField(required=False),
        "data": serializers.DictField(help_text="{} on errors"),
    },
)
ERRORS = {400: ErrorOutput, 401: ErrorOutput, 403: ErrorOutput, 404: ErrorOutput, 429: ErrorOutput}


class ProviderMilestoneOutput(serializers.Serializer):
    id = serializers.CharField()
    index = serializers.IntegerField()
    title = serializers.CharField()
    description = serializers.CharField()
    amount = serializers.IntegerField()
    dueDate = serializers.DateTimeField(allow_null=True)  # noqa: N815
    customerId = serializers.CharField(allow_null=True)  # noqa: N815
    status = serializers.CharField()
    releasedAt = serializers.DateTimeField(allow_null=True)  # noqa: N815


EscrowOutput = inline_serializer(
    "ProviderEscrow",
    {
        "id": serializers.CharField(),
        "amount": serializers.IntegerField(),
        "currency": serializers.CharField(),
        "purpose": serializers.CharField(),
        "description": serializers.CharField(),
        "whoPays": serializers.CharField(),
        "fee": serializers.DecimalField(max_digits=20, decimal_places=2, coerce_to_string=False),
        "feeScheduleVersion": serializers.CharField(),
        "paymentToken": serializers.CharField(),
        "termsVersion": serializers.IntegerField(),
        "inspectionPeriodDays": serializers.IntegerField(),
        "status": serializers.CharField(),
        "state": serializers.CharField(),
        "settlementType": serializers.CharField(),
        "maxDelivery": serializers.IntegerField(allow_null=True),
        "deliveryTimeline": serializers.CharField(allow_null=True),
        "totalQuantity": serializers.IntegerField(allow_null=True),
        "categoryId": serializers.CharField(allow_null=True),
        "sellerId": serializers.CharField(),
        "buyerId": serializers.CharField(allow_null=True),
        "milestones": ProviderMilestoneOutput(many=True),
        "imageUrl": serializers.ListField(
            child=serializers.URLField(), help_text="The pictures' addresses (GET with the API key)"
        ),
        "logs": serializers.ListField(
            child=inline_serializer(
                "ProviderEscrowLog",
                {"action": serializers.CharField(), "createdAt": serializers.DateTimeField()},
            ),
            help_text="What happened to the escrow, oldest first; empty in lists (read the escrow)",
        ),
        "channel": serializers.CharField(help_text='"API"'),
        "isSeller": serializers.BooleanField(
            allow_null=True, help_text="Whether the caller sells it; null in webhooks (nobody asks)"
        ),
        "category": serializers.DictField(
            allow_null=True, help_text="Always null: we keep no categories (see categoryId)"
        ),
        "paidAt": serializers.DateTimeField(allow_null=True),
        "completedAt": serializers.DateTimeField(allow_null=True),
        "createdAt": serializers.DateTimeField(),
        "updatedAt": serializers.DateTimeField(),
    },
)


def escrow_for_payer(user: User, id_or_token: str) -> Escrow:
    """An escrow the user may see and pay: a party to it, or whoever holds the link of an escrow
    whose buyer is still open (the payment link is for that). Anyone else: not found."""
    escrow = (
        hot.ESCROW_BY_PUBLIC_ID.first(id_or_token)
        or Escrow.objects.select_related("seller", "buyer").filter(payment_token=id_or_token).first()
    )
    if escrow is None:
        raise NotFound("Escrow not found")
    if escrow.party_role(user) is not None:
        return escrow
    if not escrow.reserved_for_other(user) and escrow.status == EscrowStatus.AWAITING_PAYMENT:
        return escrow
    raise NotFound("Escrow not found")
