"""GET /v1/escrow/transactions: Payluk's page-numbered list of the acting customer's escrows,
those they sell (`type=sales`) or those they buy (`type=buy`), newest first, by status and
category. The rows are the list's (hot.escrow_values, selectors.escrows_for_user) and are shaped
into escrow objects as the list shapes them (escrow_list.escrow_outputs)."""

from functools import partial

from django.db.models import Exists, OuterRef, Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from accounts.types import AuthenticatedRequest
from core.errors import InvalidRequest
from escrows import hot, selectors
from escrows.models import Dispute, DisputeOutcome, DisputeStatus, EscrowStatus, SettlementType

from .base import ERRORS, EscrowOutput, ProviderAPIView, envelope, ok
from .escrow_list import escrow_outputs
from .paging import PAGE_PARAMETERS, Page, paged

TYPES = {"sales": "selling", "buy": "buying"}
CATEGORY_MAX = 64


def escrow_status_filters() -> dict[str, Q]:
    """Each of Payluk's statuses as the escrows that show it (base.state_of and
    base.dispute_states decide what a row shows; tests/api/test_payluk_transactions.py holds the
    two together): CLAIMED is a completed escrow its seller claimed, INVESTIGATING a disputed
    standard escrow whose seller answered, SPLIT a standard escrow a ruling split."""
    whole = Dispute.objects.filter(escrow=OuterRef("pk"), milestone__isnull=True)
    standard = Q(settlement_type=SettlementType.STANDARD)
    split = (
        standard
        & Q(status__in=[EscrowStatus.DISPUTED, EscrowStatus.COMPLETED])
        & Q(
            Exists(
                whole.filter(
                    status=DisputeStatus.RESOLVED,
                    outcome=DisputeOutcome.SPLIT,
                    seller_amount__gt=0,
                    buyer_amount__gt=0,
                )
            )
        )
    )
    investigating = (
        standard
        & Q(status=EscrowStatus.DISPUTED)
        & Q(Exists(whole.filter(status=DisputeStatus.ANSWERED)))
        & ~split
    )
    completed = Q(status=EscrowStatus.COMPLETED) & ~split
    return {
        "PENDING": Q(status=EscrowStatus.AWAITING_PAYMENT),
        "ONGOING": Q(status=EscrowStatus.OPENED),
        "DISPUTED": Q(status=EscrowStatus.DISPUTED) & ~investigating & ~split,
        "INVESTIGATING": investigating,
        "COMPLETED": completed & Q(claimed_at__isnull=True),
        "CLAIMED": completed & Q(claimed_at__isnull=False),
        "SPLIT": split,
        "REFUNDED": Q(status=EscrowStatus.REFUNDED),
        "CANCELLED": Q(status=EscrowStatus.CANCELLED),
    }


STATUSES = (
    "PENDING",
    "ONGOING",
    "DISPUTED",
    "INVESTIGATING",
    "COMPLETED",
    "CLAIMED",
    "SPLIT",
    "REFUNDED",
    "CANCELLED",
)


class EscrowTransactions(ProviderAPIView):
    @extend_schema(
        operation_id="provider_escrow_transactions",
        parameters=[
            OpenApiParameter(
                "type",
                str,
                required=True,
                enum=list(TYPES),
                description="sales: escrows it sells; buy: escrows it buys",
            ),
            *PAGE_PARAMETERS,
            OpenApiParameter(
                "status", str, enum=list(STATUSES), description="Only escrows showing this status"
            ),
            OpenApiParameter("categoryId", str, description="Only escrows with this category"),
        ],
        responses={
            200: envelope("ProviderTransactionPage", paged("ProviderTransactionPageData", EscrowOutput)),
            **ERRORS,
        },
        tags=["escrow-provider"],
        summary="The acting customer's escrows, selling or buying, newest first, a page at a time",
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        kind = request.query_params.get("type")
        if not kind:
            raise InvalidRequest("type is required: sales or buy", field="type")
        if kind not in TYPES:
            raise InvalidRequest("type must be one of: sales, buy", field="type")
        page = Page.of(request)
        escrows = selectors.escrows_for_user(request.user, role=TYPES[kind])
        wanted = request.query_params.get("status")
        if wanted:
            filters = escrow_status_filters()
            if wanted.upper() not in filters:
                raise InvalidRequest(f"status must be one of: {', '.join(STATUSES)}", field="status")
            escrows = escrows.filter(filters[wanted.upper()])
        category = request.query_params.get("categoryId")
        if category:
            if "\x00" in category:
                raise InvalidRequest("categoryId is not valid", field="categoryId")
            if len(category) > CATEGORY_MAX:
                raise InvalidRequest(
                    f"categoryId must be at most {CATEGORY_MAX} characters", field="categoryId"
                )
            escrows = escrows.filter(category_id=category)
        return ok(
            "Transaction fetched successfully",
            page.answer(hot.escrow_values(escrows), partial(escrow_outputs, viewer=request.user)),
        )
