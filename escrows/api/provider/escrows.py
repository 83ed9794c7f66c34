"""Milestone escrows (Payluk): create, edit while awaiting payment, list the milestones, and
the buyer's confirmation that releases one."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.models import User
from accounts.types import AuthenticatedRequest
from core.errors import InvalidRequest, NotFound
from escrows import selectors, services
from escrows.models import ReleaseType, SettlementType
from escrows.money import major_int_to_minor, normalize_currency
from escrows.services import EscrowTerms, MilestoneInput, inspection_period_from_days

from ..common import Email, InspectionDays, StrictInteger, StrictSerializer, Text, parse
from .base import (
    ERRORS,
    EscrowOutput,
    ProviderAPIView,
    ProviderMilestoneOutput,
    envelope,
    escrow_data,
    escrow_for_payer,
    milestone_data,
    ok,
)


class MilestoneInputSerializer(StrictSerializer):
    title = Text(max_length=200, required=True)
    description = Text(max_length=5000, required=False, allow_null=True)
    amount = StrictInteger()
    dueDate = serializers.DateTimeField(required=False, allow_null=True)  # noqa: N815
    customerId = Text(max_length=40, required=False, allow_null=True)  # noqa: N815


class EscrowInput(StrictSerializer):
    amount = StrictInteger()
    currency = Text(max_length=8, required=False, allow_null=True)
    purpose = Text(max_length=200, required=True)
    description = Text(max_length=5000, required=False, allow_null=True)
    whoPays = Text(max_length=10, required=False, allow_null=True)  # noqa: N815
    maxDelivery = StrictInteger(min_value=1, max_value=100_000, required=False, allow_null=True)  # noqa: N815
    deliveryTimeline = serializers.ChoiceField(  # noqa: N815
        choices=["minutes", "hours", "days"], required=False, allow_null=True
    )
    totalQuantity = StrictInteger(min_value=1, max_value=1_000_000, required=False, allow_null=True)  # noqa: N815
    categoryId = Text(max_length=64, required=False, allow_null=True)  # noqa: N815
    # Reserves the payment link for this buyer and emails them the invitation.
    buyerEmail = Email(required=False, allow_null=True)  # noqa: N815
    inspectionPeriodDays = InspectionDays(  # noqa: N815
        required=False,
        allow_null=True,
        help_text="How many days the buyer has to check a delivered milestone before it is released "
        "by itself; absent or null: the default on create, unchanged on edit.",
    )
    # many=True hands max_length to the ListSerializer; the stubs know only the child's arguments.
    milestones = MilestoneInputSerializer(many=True, max_length=100)  # type: ignore[call-arg]

    def validate(self, attrs: dict) -> dict:
        if (attrs.get("maxDelivery") is None) != (attrs.get("deliveryTimeline") is None):
            raise serializers.ValidationError("maxDelivery and deliveryTimeline go together")
        return attrs


def _payee(customer_id: str | None, index: int) -> User | None:
    if not customer_id:
        return None
    payee = User.objects.filter(customer_id=customer_id, is_active=True).first()
    if payee is None:
        raise InvalidRequest(f"milestones[{index}].customerId: customer not found", field="milestones")
    return payee


def _terms(data: dict) -> tuple[EscrowTerms, list[MilestoneInput]]:
    currency = normalize_currency(data.get("currency") or settings.ESCROW_DEFAULT_CURRENCY)
    amount = major_int_to_minor(data["amount"], currency)
    milestones = [
        MilestoneInput(
            amount=major_int_to_minor(m["amount"], currency, field=f"milestones[{i}].amount"),
            title=m["title"],
            description=m.get("description") or "",
            due_date=m.get("dueDate"),
            payee=_payee(m.get("customerId"), i),
        )
        for i, m in enumerate(data["milestones"])
    ]
    terms = EscrowTerms(
        title=data["purpose"],
        currency=currency,
        amount=amount,
        description=data.get("description") or "",
        who_pays=data.get("whoPays") or "buyer",
        settlement_type=SettlementType.MILESTONE,
        release_type=ReleaseType.MILESTONE_LOCKED,
        max_delivery=data.get("maxDelivery"),
        delivery_timeline=data.get("deliveryTimeline") or "",
        total_quantity=data.get("totalQuantity"),
        category_id=data.get("categoryId") or "",
        buyer_email=data.get("buyerEmail") or "",
        inspection_period=(
            None if (days := data.get("inspectionPeriodDays")) is None else inspection_period_from_days(days)
        ),
    )
    return terms, milestones


class MilestoneEscrowCreate(ProviderAPIView):
    @extend_schema(
        operation_id="provider_milestone_escrow_create",
        request=EscrowInput,
        responses={201: envelope("ProviderEscrowCreated", EscrowOutput), **ERRORS},
        tags=["escrow-provider"],
        summary="Create a milestone escrow (customer-id = seller)",
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        terms, milestones = _terms(parse(EscrowInput, request))
        escrow = services.escrow_create(seller=request.user, terms=terms, milestones=milestones)
        return ok(
            "Escrow created successfully", escrow_data(escrow, viewer=request.user), status.HTTP_201_CREATED
        )


class MilestoneEscrowEdit(ProviderAPIView):
    @extend_schema(
        operation_id="provider_milestone_escrow_edit",
        request=EscrowInput,
        responses={200: envelope("ProviderEscrowEdited", EscrowOutput), **ERRORS},
        tags=["escrow-provider"],
        summary="Replace the details and milestones (seller, while AWAITING_PAYMENT)",
    )
    def put(self, request: AuthenticatedRequest, payment_token: str) -> Response:
        escrow = selectors.escrow_get_by_token_for_user(request.user, payment_token)
        terms, milestones = _terms(parse(EscrowInput, request))
        escrow = services.escrow_edit(escrow=escrow, by=request.user, terms=terms, milestones=milestones)
        return ok("Escrow updated successfully", escrow_data(escrow, viewer=request.user))


class MilestoneList(ProviderAPIView):
    @extend_schema(
        operation_id="provider_milestone_list",
        responses={200: envelope("ProviderMilestoneList", ProviderMilestoneOutput(many=True)), **ERRORS},
        tags=["escrow-provider"],
        summary="The milestones of an escrow ([] for a standard escrow)",
    )
    def get(self, request: AuthenticatedRequest, payment_token: str) -> Response:
        escrow = escrow_for_payer(request.user, payment_token)
        if escrow.payment_token != payment_token:
            raise NotFound("Escrow not found")
        items = [milestone_data(m, escrow) for m in selectors.milestones_of(escrow)]
        return ok("Milestones retrieved successfully", items)


class MilestoneConfirm(ProviderAPIView):
    @extend_schema(
        operation_id="provider_milestone_confirm",
        request=None,
        responses={200: envelope("ProviderMilestoneConfirmed", EscrowOutput), **ERRORS},
        tags=["escrow-provider"],
        summary="Buyer confirms a milestone: its amount is released (customer-id = buyer)",
    )
    def post(self, request: AuthenticatedRequest, escrow_id: str, milestone_id: str) -> Response:
        released = services.milestone_confirm(escrow_id=escrow_id, milestone_id=milestone_id, by=request.user)
        # The escrow and its milestones as the release left them: nothing to read again.
        escrow = released.escrow
        return ok(
            "Milestone confirmed and released",
            escrow_data(escrow, escrow.loaded_milestones, viewer=request.user),
        )
