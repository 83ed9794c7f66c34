"""Disputes of standard escrows (Payluk): the buyer opens one and the seller answers it once
through the same call, each with an evidence file if they like; each customer lists theirs;
the platform sees every dispute and escrow of its customers and resolves disputes between them
(COMPLETED, REFUNDED or SPLIT). The platform's routes refuse `customer-id`. Every change is
one service call (escrows.services)."""

import copy
from collections.abc import Sequence
from functools import partial
from typing import Any

from django.conf import settings
from django.db.models import F, Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import key_owner
from accounts.models import User
from accounts.types import AuthenticatedRequest
from core.errors import InvalidRequest, NotFound
from escrows import selectors, services
from escrows.models import (
    ACTIVE_DISPUTE_STATUSES,
    CLOSED_STATUSES,
    Dispute,
    DisputeOutcome,
    DisputeStatus,
    Escrow,
)
from escrows.money import major_int_to_minor
from escrows.services import EvidenceInput

from ..common import StrictSerializer, Text, iso
from .base import (
    ERRORS,
    ESCROW_COLUMNS,
    EscrowOutput,
    ProviderAPIView,
    dispute_states,
    envelope,
    escrow_output,
    escrow_row,
    images_of,
    ok,
    state_of,
)
from .escrow_list import escrow_outputs
from .merchant_wide import MerchantWideAPIView, require_platform
from .paging import DATE_PARAMETERS, PAGE_PARAMETERS, Page, day_range, paged
from .standard import MULTIPART_OVERHEAD, FormInteger, MultipartView, parse_form
from .transactions import STATUSES, escrow_status_filters

TAGS = ["escrow-provider"]


# -- shapes ------------------------------------------------------------------------------------


def messages_of(dispute: Dispute) -> list[dict[str, Any]]:
    """The dispute as the conversation Payluk shows: the opener's message, the other party's
    answer, the arbiter's resolution ("admin")."""
    messages = [
        {"type": dispute.opener_role, "message": dispute.reason, "createdAt": iso(dispute.created_at)}
    ]
    if dispute.answered_at is not None:
        messages.append(
            {
                "type": dispute.other_role,
                "message": dispute.answer_text,
                "createdAt": iso(dispute.answered_at),
            }
        )
    if dispute.resolved_at is not None:
        messages.append(
            {"type": "admin", "message": dispute.resolution_note, "createdAt": iso(dispute.resolved_at)}
        )
    return messages


MessageOutput = inline_serializer(
    "ProviderDisputeMessage",
    {
        "type": serializers.ChoiceField(choices=["buyer", "seller", "admin"]),
        "message": serializers.CharField(),
        "createdAt": serializers.DateTimeField(),
    },
)
DisputeOutput = inline_serializer(
    "ProviderDisputedEscrow",
    {
        "escrow": copy.deepcopy(EscrowOutput),
        "disputeId": serializers.CharField(),
        "dispute": serializers.ListField(child=copy.deepcopy(MessageOutput)),
    },
)
SubmittedOutput = inline_serializer(
    "ProviderDisputeSubmitted",
    {
        "id": serializers.CharField(),
        "status": serializers.CharField(),
        "dispute": serializers.ListField(child=copy.deepcopy(MessageOutput)),
    },
)


def _disputed_escrows(disputes: Sequence[Dispute], *, viewer: User) -> list[dict[str, Any]]:
    """Each dispute with its escrow (read with it), the escrows' pictures and dispute states in
    one query each. `viewer`: who asks (`isSeller`)."""
    rows = [escrow_row(d.escrow) for d in disputes]
    dispute_states(rows)
    images = images_of(rows)
    return [
        {
            "escrow": escrow_output(row, [], images.get(row["pk"]), viewer=viewer),
            "disputeId": d.public_id,
            "dispute": messages_of(d),
        }
        for d, row in zip(disputes, rows, strict=True)
    ]


def _whole_escrow_disputes() -> QuerySet[Dispute]:
    return Dispute.objects.filter(milestone__isnull=True).select_related("escrow__seller", "escrow__buyer")


def query_text(request: Request, name: str) -> str:
    """A text parameter as sent, or "" when absent; refused when it could name nothing."""
    value = request.query_params.get(name) or ""
    if len(value) > 100 or "\x00" in value:
        raise InvalidRequest(f"{name} is not valid", field=name)
    return value


def _dated(queryset: QuerySet[Any], request: Request, field: str = "created_at") -> QuerySet[Any]:
    since, until = day_range(request)
    if since is not None:
        queryset = queryset.filter(**{f"{field}__gte": since})
    if until is not None:
        queryset = queryset.filter(**{f"{field}__lt": until})
    return queryset


# -- the customers' routes ---------------------------------------------------------------------


class ProviderSubmitInput(StrictSerializer):
    message = Text(max_length=5000, required=True)
    file = serializers.FileField(
        required=False, help_text="Evidence: PDF, picture, text, CSV or ZIP, 5 MB at most"
    )


class SubmitDispute(MultipartView):
    def max_multipart_bytes(self) -> int:
        return settings.ESCROW_EVIDENCE_MAX_BYTES + MULTIPART_OVERHEAD

    @extend_schema(
        operation_id="provider_dispute_submit",
        request={"multipart/form-data": ProviderSubmitInput, "application/json": ProviderSubmitInput},
        responses={200: envelope("ProviderDisputeSubmittedAnswer", SubmittedOutput), **ERRORS},
        tags=TAGS,
        summary="The buyer opens a dispute; the seller answers it once (customer-id = either)",
        description=(
            "Only a paid, open standard escrow. The buyer's `message` opens the dispute (status "
            "DISPUTED); the seller's answers it, once (status INVESTIGATING), and the platform "
            "resolves it. `file`: evidence kept with the dispute (its SHA-256 recorded). A "
            'milestone escrow: 400 "Milestone escrows cannot be disputed".'
        ),
    )
    def post(self, request: AuthenticatedRequest, payment_token: str) -> Response:
        escrow = selectors.escrow_get_by_token_for_user(request.user, payment_token)
        data = parse_form(ProviderSubmitInput, request, files="file")
        files = request.FILES.getlist("file")
        if len(files) > 1:
            raise InvalidRequest("Send one evidence file", field="file")
        dispute = services.dispute_submit(
            escrow=escrow,
            by=request.user,
            message=data["message"],
            evidence=EvidenceInput(file=files[0]) if files else None,
        )
        row = escrow_row(dispute.escrow)
        dispute_states([row])
        _, provider_status = state_of(row)
        return ok(
            "Escrow dispute submitted successfully",
            {"id": escrow.public_id, "status": provider_status, "dispute": messages_of(dispute)},
        )


class MyDisputes(ProviderAPIView):
    @extend_schema(
        operation_id="provider_dispute_list",
        parameters=[
            *PAGE_PARAMETERS,
            OpenApiParameter("paymentToken", str, description="Only this escrow's disputes"),
            *DATE_PARAMETERS,
        ],
        responses={
            200: envelope("ProviderDisputePage", paged("ProviderDisputePageData", DisputeOutput)),
            **ERRORS,
        },
        tags=TAGS,
        summary="The acting customer's disputes, newest first (either side)",
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        page = Page.of(request)
        user = request.user
        disputes = _whole_escrow_disputes().filter(Q(escrow__seller=user) | Q(escrow__buyer=user))
        token = query_text(request, "paymentToken")
        if token:
            disputes = disputes.filter(escrow__payment_token=token)
        disputes = _dated(disputes, request).order_by("-created_at", "-id")
        return ok(
            "Escrow retrieved successfully",
            page.answer(disputes, partial(_disputed_escrows, viewer=request.user)),
        )


class DisputeOfEscrow(ProviderAPIView):
    @extend_schema(
        operation_id="provider_dispute_of_escrow",
        responses={200: envelope("ProviderDisputeOfEscrow", DisputeOutput), **ERRORS},
        tags=TAGS,
        summary="An escrow's latest dispute (a party)",
    )
    def get(self, request: AuthenticatedRequest, escrow_id: str) -> Response:
        escrow = selectors.escrow_get_for_user(request.user, escrow_id)
        dispute = _whole_escrow_disputes().filter(escrow=escrow).order_by("-id").first()
        if dispute is None:
            raise InvalidRequest("No dispute found for this escrow", code="no_dispute")
        return ok(
            "Escrow dispute retrieved successfully", _disputed_escrows([dispute], viewer=request.user)[0]
        )


# -- the platform's routes ---------------------------------------------------------------------


class PlatformView(MultipartView, MerchantWideAPIView):
    """A route over all the platform's customers: the platform's own key, without customer-id."""

    def platform(self, request: Request) -> User:
        owner = key_owner(request)
        require_platform(owner, "see and decide across their customers")
        return owner


def of_platform(platform: User, prefix: str = "") -> Q:
    """The escrows (through `prefix`) the platform or one of its customers is a party to."""
    return (
        Q(**{f"{prefix}seller": platform})
        | Q(**{f"{prefix}buyer": platform})
        | Q(**{f"{prefix}seller__created_by_platform": platform})
        | Q(**{f"{prefix}buyer__created_by_platform": platform})
    )


def of_customer(request: Request, prefix: str = "") -> Q | None:
    customer_id = query_text(request, "customerId")
    if not customer_id:
        return None
    return Q(**{f"{prefix}seller__customer_id": customer_id}) | Q(
        **{f"{prefix}buyer__customer_id": customer_id}
    )


# And of a dispute, by where it stands.
DISPUTE_STATUS_FILTERS: dict[str, Q] = {
    "DISPUTED": Q(status=DisputeStatus.OPEN),
    "INVESTIGATING": Q(status=DisputeStatus.ANSWERED),
    "COMPLETED": Q(status=DisputeStatus.RESOLVED, buyer_amount=0),
    "REFUNDED": Q(status=DisputeStatus.RESOLVED, seller_amount=0),
    "SPLIT": Q(status=DisputeStatus.RESOLVED, seller_amount__gt=0, buyer_amount__gt=0),
    "WITHDRAWN": Q(status=DisputeStatus.WITHDRAWN),
}


def _status_filter(request: Request, filters: dict[str, Q]) -> Q | None:
    value = request.query_params.get("status")
    if not value:
        return None
    if value.upper() not in filters:
        raise InvalidRequest(f"status must be one of: {', '.join(filters)}", field="status")
    return filters[value.upper()]


PLATFORM_PARAMETERS = [
    *PAGE_PARAMETERS,
    OpenApiParameter("customerId", str, description="Only escrows this customer is a party to"),
    *DATE_PARAMETERS,
]


class AllDisputes(PlatformView):
    @extend_schema(
        operation_id="provider_dispute_list_all",
        parameters=[
            *PLATFORM_PARAMETERS,
            OpenApiParameter("status", str, enum=list(DISPUTE_STATUS_FILTERS), description="Where it stands"),
        ],
        responses={
            200: envelope("ProviderAllDisputesPage", paged("ProviderAllDisputesPageData", DisputeOutput)),
            **ERRORS,
        },
        tags=TAGS,
        summary="Every dispute of the platform's customers, newest first (platform key, no customer-id)",
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        page = Page.of(request)
        disputes = _whole_escrow_disputes().filter(of_platform(self.platform(request), "escrow__"))
        for condition in (of_customer(request, "escrow__"), _status_filter(request, DISPUTE_STATUS_FILTERS)):
            if condition is not None:
                disputes = disputes.filter(condition)
        disputes = _dated(disputes, request).order_by("-created_at", "-id")
        return ok(
            "Escrow disputes fetched successfully",
            page.answer(disputes, partial(_disputed_escrows, viewer=request.user)),
        )


class Feeds(PlatformView):
    @extend_schema(
        operation_id="provider_escrow_feeds",
        parameters=[
            *PLATFORM_PARAMETERS,
            OpenApiParameter("status", str, enum=list(STATUSES), description="Payluk's status"),
        ],
        responses={
            200: envelope("ProviderFeedsPage", paged("ProviderFeedsPageData", EscrowOutput)),
            **ERRORS,
        },
        tags=TAGS,
        summary="Every escrow of the platform's customers, newest first (platform key, no customer-id)",
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        page = Page.of(request)
        escrows = Escrow.objects.filter(of_platform(self.platform(request)))
        # Payluk's statuses as the transactions list filters them (one rule for both lists).
        for condition in (of_customer(request), _status_filter(request, escrow_status_filters())):
            if condition is not None:
                escrows = escrows.filter(condition)
        rows = (
            _dated(escrows, request)
            .order_by("-created_at", "-id")
            .values(
                *ESCROW_COLUMNS,
                seller_customer_id=F("seller__customer_id"),
                buyer_customer_id=F("buyer__customer_id"),
            )
        )
        return ok(
            "Escrow transactions fetched successfully",
            page.answer(rows, partial(escrow_outputs, viewer=request.user)),
        )


RESOLUTIONS = {
    "COMPLETED": DisputeOutcome.RELEASE,
    "REFUNDED": DisputeOutcome.REFUND,
    "SPLIT": DisputeOutcome.SPLIT,
}


class ProviderResolveInput(StrictSerializer):
    resolution = Text(max_length=5000, required=True)
    status = serializers.ChoiceField(choices=list(RESOLUTIONS))
    sellerAmount = FormInteger(min_value=0, required=False, allow_null=True)  # noqa: N815
    buyerAmount = FormInteger(min_value=0, required=False, allow_null=True)  # noqa: N815
    file = serializers.FileField(
        required=False, help_text="A document the decision rests on, kept as evidence"
    )


ResolvedOutput = inline_serializer(
    "ProviderDisputeResolved",
    {"id": serializers.CharField(), "status": serializers.CharField(), "state": serializers.CharField()},
)


def _major(value: int | None, currency: str, field: str) -> int | None:
    if value is None or value == 0:
        return value
    return major_int_to_minor(value, currency, field=field)


class ResolveDispute(PlatformView):
    def max_multipart_bytes(self) -> int:
        return settings.ESCROW_EVIDENCE_MAX_BYTES + MULTIPART_OVERHEAD

    @extend_schema(
        operation_id="provider_dispute_resolve",
        request={"multipart/form-data": ProviderResolveInput, "application/json": ProviderResolveInput},
        responses={200: envelope("ProviderDisputeResolvedAnswer", ResolvedOutput), **ERRORS},
        tags=TAGS,
        summary="The platform decides a dispute between its customers (platform key, no customer-id)",
        description=(
            "COMPLETED: the money goes to the seller; REFUNDED: back to the buyer; SPLIT: "
            "`sellerAmount` and `buyerAmount` (whole units) adding up to the amount. Only between "
            'two of the platform\'s own customers. 400 "No dispute found for this escrow" when '
            'none is open, "Escrow already completed" once the escrow is closed.'
        ),
    )
    def post(self, request: AuthenticatedRequest, escrow_id: str) -> Response:
        platform = self.platform(request)
        escrow = Escrow.objects.select_related("seller", "buyer").filter(public_id=escrow_id).first()
        if escrow is None or not escrow.arbitrated_by(platform):
            raise NotFound("Escrow not found")
        data = parse_form(ProviderResolveInput, request, files="file")
        if escrow.status in CLOSED_STATUSES:
            raise InvalidRequest("Escrow already completed", code="escrow_closed")
        dispute = Dispute.objects.filter(
            escrow=escrow, milestone__isnull=True, status__in=ACTIVE_DISPUTE_STATUSES
        ).first()
        if dispute is None:
            raise InvalidRequest("No dispute found for this escrow", code="no_dispute")
        files = request.FILES.getlist("file")
        services.dispute_resolve(
            dispute=dispute,
            by=platform,
            outcome=RESOLUTIONS[data["status"]],
            seller_amount=_major(data.get("sellerAmount"), escrow.currency, "sellerAmount"),
            buyer_amount=_major(data.get("buyerAmount"), escrow.currency, "buyerAmount"),
            note=data["resolution"],
            evidence=EvidenceInput(file=files[0]) if files else None,
        )
        # Read again: the service changed it under its own lock (its status refuses refresh_from_db).
        escrow = Escrow.objects.select_related("seller", "buyer").get(pk=escrow.pk)
        row = escrow_row(escrow)
        dispute_states([row])
        state, provider_status = state_of(row)
        return ok(
            "Dispute resolution submitted successfully",
            {"id": escrow.public_id, "status": provider_status, "state": state},
        )
