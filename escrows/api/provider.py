"""Escrow-provider surface (seed 004 and SPEC §3): envelope {"status", "message", "data"},
integer amounts in major units, `customer-id` naming whom the call acts for."""

import math
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import services as account_services
from accounts.authentication import key_owner
from accounts.models import User
from escrows import selectors, services
from escrows.compiled import CompiledQuery
from escrows.errors import InvalidRequest, NotFound
from escrows.models import Escrow, EscrowStatus, FundingSource, Milestone, ReleaseType, SettlementType
from escrows.money import currency_exponent, major_int_to_minor, normalize_currency, to_decimal, to_minor
from escrows.services import EscrowTerms, MilestoneInput

from .common import (
    BaseAPIView,
    DecimalString,
    Failure,
    StrictInteger,
    StrictSerializer,
    Text,
    iso,
    make_exception_handler,
    parse,
)


def error_envelope(failure: Failure) -> dict[str, Any]:
    body: dict[str, Any] = {"status": failure.status, "message": failure.message, "code": failure.code}
    if failure.param:
        body["field"] = failure.param
    body["data"] = None
    return body


exception_handler = make_exception_handler(error_envelope)


def ok(message: str, data: Any, code: int = status.HTTP_200_OK) -> Response:
    return Response({"status": code, "message": message, "data": data}, status=code)


# Our status → the provider's (state, status).
STATE_MAP = {
    EscrowStatus.AWAITING_PAYMENT: ("AWAITING_PAYMENT", "PENDING"),
    EscrowStatus.OPENED: ("OPENED", "ONGOING"),
    EscrowStatus.DISPUTED: ("OPENED", "DISPUTED"),
    EscrowStatus.COMPLETED: ("CLOSED", "COMPLETED"),
    EscrowStatus.REFUNDED: ("CLOSED", "REFUNDED"),
    EscrowStatus.CANCELLED: ("CLOSED", "CANCELLED"),
}


def major(minor: int, currency: str) -> int | Decimal:
    """Whole major units as an integer, as the provider shows amounts; a fee that is not whole
    (1.5% of 101) keeps its cents rather than being rounded away."""
    unit = 10 ** currency_exponent(currency)
    return minor // unit if minor % unit == 0 else to_decimal(minor, currency)


# The columns the provider's escrow and milestone objects are made of. The single-object
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
    "created_at",
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
    row["payee_customer_id"] = milestone.payee.customer_id if milestone.payee_id else None
    return row


def escrow_row(escrow: Escrow) -> dict[str, Any]:
    row = {name: getattr(escrow, name) for name in ESCROW_COLUMNS}
    row["seller_customer_id"] = escrow.seller.customer_id
    row["buyer_customer_id"] = escrow.buyer.customer_id if escrow.buyer_id else None
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


def escrow_output(e: Mapping[str, Any], milestones: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    state, provider_status = STATE_MAP[e["status"]]
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
        "createdAt": iso(e["created_at"]),
    }


def milestone_data(milestone: Milestone, escrow: Escrow) -> dict[str, Any]:
    return milestone_output(milestone_row(milestone), escrow.currency)


def escrow_data(escrow: Escrow, milestones: Iterable[Milestone] | None = None) -> dict[str, Any]:
    """`milestones`: already loaded; else read here."""
    loaded = selectors.milestones_of(escrow) if milestones is None else milestones
    return escrow_output(escrow_row(escrow), [milestone_row(m) for m in loaded])


class ProviderAPIView(BaseAPIView):
    exception_handler = exception_handler


def _envelope(name: str, data: Any) -> Any:
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
        "data": serializers.JSONField(allow_null=True),
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


MilestoneOutput = ProviderMilestoneOutput
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
        "createdAt": serializers.DateTimeField(),
    },
)


# -- create / edit / get / confirm --------------------------------------------------------------


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
    milestones = MilestoneInputSerializer(many=True, max_length=100)

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
    )
    return terms, milestones


class MilestoneEscrowCreate(ProviderAPIView):
    @extend_schema(
        operation_id="provider_milestone_escrow_create",
        request=EscrowInput,
        responses={201: _envelope("ProviderEscrowCreated", EscrowOutput), **ERRORS},
        tags=["escrow-provider"],
        summary="Create a milestone escrow (customer-id = seller)",
    )
    def post(self, request: Request) -> Response:
        terms, milestones = _terms(parse(EscrowInput, request))
        escrow = services.escrow_create(seller=request.user, terms=terms, milestones=milestones)
        return ok("Escrow created successfully", escrow_data(escrow), status.HTTP_201_CREATED)


class MilestoneEscrowEdit(ProviderAPIView):
    @extend_schema(
        operation_id="provider_milestone_escrow_edit",
        request=EscrowInput,
        responses={200: _envelope("ProviderEscrowEdited", EscrowOutput), **ERRORS},
        tags=["escrow-provider"],
        summary="Replace the details and milestones (seller, while AWAITING_PAYMENT)",
    )
    def put(self, request: Request, payment_token: str) -> Response:
        escrow = selectors.escrow_get_by_token_for_user(request.user, payment_token)
        terms, milestones = _terms(parse(EscrowInput, request))
        escrow = services.escrow_edit(escrow=escrow, by=request.user, terms=terms, milestones=milestones)
        return ok("Escrow updated successfully", escrow_data(escrow))


# The pay call's lookups, compiled once per process (escrows.compiled).
_ESCROW_BY_PUBLIC_ID = CompiledQuery(
    lambda public_id: Escrow.objects.select_related("seller", "buyer").filter(public_id=public_id)[:1],
    "__escrow_id__",
)
_ESCROW_BY_TOKEN = CompiledQuery(
    lambda token: Escrow.objects.select_related("seller", "buyer").filter(payment_token=token)[:1],
    "__payment_token__",
)


def escrow_for_payer(user: User, id_or_token: str) -> Escrow:
    """An escrow the user may see and pay: a party to it, or whoever holds the link of an escrow
    whose buyer is still open (the payment link is for that). Anyone else: not found."""
    escrow = _ESCROW_BY_PUBLIC_ID.first(id_or_token) or _ESCROW_BY_TOKEN.first(id_or_token)
    if escrow is None:
        raise NotFound("Escrow not found")
    if escrow.party_role(user) is not None:
        return escrow
    open_to_user = escrow.buyer_id is None and escrow.buyer_email in ("", user.email.lower())
    if open_to_user and escrow.status == EscrowStatus.AWAITING_PAYMENT:
        return escrow
    raise NotFound("Escrow not found")


class MilestoneList(ProviderAPIView):
    @extend_schema(
        operation_id="provider_milestone_list",
        responses={200: _envelope("ProviderMilestoneList", ProviderMilestoneOutput(many=True)), **ERRORS},
        tags=["escrow-provider"],
        summary="The milestones of an escrow ([] for a standard escrow)",
    )
    def get(self, request: Request, payment_token: str) -> Response:
        escrow = escrow_for_payer(request.user, payment_token)
        if escrow.payment_token != payment_token:
            raise NotFound("Escrow not found")
        items = [milestone_data(m, escrow) for m in selectors.milestones_of(escrow)]
        return ok("Milestones retrieved successfully", items)


class MilestoneConfirm(ProviderAPIView):
    @extend_schema(
        operation_id="provider_milestone_confirm",
        request=None,
        responses={200: _envelope("ProviderMilestoneConfirmed", EscrowOutput), **ERRORS},
        tags=["escrow-provider"],
        summary="Buyer confirms a milestone: its amount is released (customer-id = buyer)",
    )
    def post(self, request: Request, escrow_id: str, milestone_id: str) -> Response:
        released = services.milestone_confirm(escrow_id=escrow_id, milestone_id=milestone_id, by=request.user)
        # The escrow and its milestones as the release left them: nothing to read again.
        escrow = released.escrow
        return ok("Milestone confirmed and released", escrow_data(escrow, escrow.loaded_milestones))


# -- money ------------------------------------------------------------------------------------


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
        responses={200: _envelope("ProviderPaid", PayOutput), 402: ErrorOutput, 409: ErrorOutput, **ERRORS},
        tags=["escrow-provider"],
        summary="Pay (fund) an escrow: amount + fee, once (customer-id = buyer)",
    )
    def post(self, request: Request) -> Response:
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
            200: _envelope(
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
    def post(self, request: Request) -> Response:
        data = parse(TopupInput, request)
        currency = normalize_currency(data.get("currency") or settings.ESCROW_DEFAULT_CURRENCY)
        amount = major_int_to_minor(data["amount"], currency)
        balance = services.wallet_topup(customer=request.user, amount=amount, currency=currency)
        return ok(
            "Wallet topped up",
            {"amount": data["amount"], "currency": currency, "balance": major(balance, currency)},
        )


# -- customers --------------------------------------------------------------------------------


class CustomerInput(StrictSerializer):
    firstname = Text(max_length=150, required=False, allow_null=True)
    lastname = Text(max_length=150, required=False, allow_null=True)
    email = serializers.EmailField(max_length=254)
    phone = Text(max_length=40, required=False, allow_null=True)


CustomerOutput = inline_serializer(
    "ProviderCustomer",
    {
        "id": serializers.CharField(),
        "customerId": serializers.CharField(),
        "firstname": serializers.CharField(),
        "lastname": serializers.CharField(),
        "email": serializers.EmailField(),
        "phone": serializers.CharField(),
    },
)


class CustomerCreate(ProviderAPIView):
    @extend_schema(
        operation_id="provider_customer_create",
        request=CustomerInput,
        responses={201: _envelope("ProviderCustomerCreated", CustomerOutput), 409: ErrorOutput, **ERRORS},
        tags=["escrow-provider"],
        summary="A platform key creates a customer it may then act for (customer-id)",
    )
    def post(self, request: Request) -> Response:
        data = parse(CustomerInput, request)
        platform = key_owner(request)
        if request.user.pk != platform.pk:
            raise InvalidRequest("Create customers as the platform itself, without customer-id")
        customer = account_services.customer_create_for_platform(
            platform=platform,
            email=data["email"],
            first_name=data.get("firstname") or "",
            last_name=data.get("lastname") or "",
            phone=data.get("phone") or "",
        )
        return ok(
            "Customer created successfully",
            {
                "id": customer.customer_id,
                "customerId": customer.customer_id,
                "firstname": customer.first_name,
                "lastname": customer.last_name,
                "email": customer.email,
                "phone": customer.phone,
            },
            status.HTTP_201_CREATED,
        )
