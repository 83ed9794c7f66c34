"""Standard escrows (Payluk): create and edit with pictures (multipart), delete while unpaid,
the buyer's preview, the seller's claim after the delivery window, the buyer's confirmation
that pays the seller, turning one into a milestone escrow, and its pictures. Every change is
one service call (escrows.services)."""

import io
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.types import AuthenticatedRequest
from core.errors import InvalidRequest, NotFound
from escrows import selectors, services
from escrows.models import Escrow, EscrowImage, ReleaseType, SettlementType
from escrows.money import major_int_to_minor, normalize_currency
from escrows.services import EscrowTerms, MilestoneInput, inspection_period_from_days

from ..common import APIKeyAuthentication, Email, InspectionDays, StrictSerializer, Text, parse
from ..parsers import StrictJSONParser
from .base import (
    ERRORS,
    EscrowOutput,
    ProviderAPIView,
    envelope,
    escrow_data,
    escrow_for_payer,
    ok,
    state_of,
)
from .escrows import MilestoneInputSerializer, _payee

TAGS = ["escrow-provider"]
# Room for the form fields and multipart boundaries around the pictures.
MULTIPART_OVERHEAD = 64 * 1024


class FormInteger(serializers.IntegerField):
    """A whole number as JSON sends it (an integer) or as a form does (its digits)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, str):
            text = data.strip()
            if not (text.isascii() and text.isdigit() and len(text) <= 15):
                raise serializers.ValidationError("Must be a whole number.")
            data = int(text)
        if isinstance(data, bool) or not isinstance(data, int):
            raise serializers.ValidationError("Must be a whole number.")
        return super().to_internal_value(data)


class MultipartView(ProviderAPIView):
    """Takes JSON, a form, or multipart with files. A multipart body may be as large as its
    files allow (ESCROW_IMAGES_MAX pictures of ESCROW_IMAGE_MAX_BYTES), above the 2.5 MB every
    other body may be; still capped, and read once (the Idempotency-Key check hashes it)."""

    parser_classes = [StrictJSONParser, MultiPartParser, FormParser]

    def max_multipart_bytes(self) -> int:
        return settings.ESCROW_IMAGES_MAX * settings.ESCROW_IMAGE_MAX_BYTES + MULTIPART_OVERHEAD

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        raw = request._request
        length = raw.META.get("CONTENT_LENGTH") or ""
        if (
            (raw.content_type or "").startswith("multipart/")
            and length.isascii()
            and length.isdigit()
            and not hasattr(raw, "_body")
        ):
            if int(length) > self.max_multipart_bytes():
                raise RequestDataTooBig("The request body is too large")
            raw._body = raw.read(int(length))
            raw._stream = io.BytesIO(raw._body)
        super().initial(request, *args, **kwargs)


def _files(request: Request, name: str) -> list[Any]:
    """Every file sent as `name` (or `name[]`, as some form libraries name a list)."""
    files = request.FILES
    return [*files.getlist(name), *files.getlist(f"{name}[]")]


def parse_form(
    serializer_class: type[serializers.Serializer], request: Request, files: str
) -> dict[str, Any]:
    """`parse` for JSON, a form or multipart: a form's fields one value each, its files sent as
    `files` (read with `_files`) left out; any other file is an unknown field."""
    if not (request.content_type or "").startswith(("multipart/", "application/x-www-form-urlencoded")):
        return parse(serializer_class, request)
    form: Any = request.data  # a QueryDict: one value a field
    fields = {key: form.get(key) for key in form if key not in (files, f"{files}[]")}
    serializer = serializer_class(data=fields)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class ProviderStandardEscrowInput(StrictSerializer):
    amount = FormInteger()
    currency = Text(max_length=8, required=False, allow_null=True)
    purpose = Text(max_length=200, required=True)
    description = Text(max_length=5000, required=False, allow_null=True)
    whoPays = Text(max_length=10, required=True)  # noqa: N815 -- checked by the service
    maxDelivery = FormInteger(min_value=1, max_value=365, required=False, allow_null=True)  # noqa: N815
    deliveryTimeline = serializers.ChoiceField(  # noqa: N815
        choices=["minutes", "hours", "days"], required=False, allow_null=True
    )
    totalQuantity = FormInteger(min_value=1, max_value=1_000_000, required=False, allow_null=True)  # noqa: N815
    categoryId = Text(max_length=64, required=False, allow_null=True)  # noqa: N815
    buyerEmail = Email(required=False, allow_null=True)  # noqa: N815
    inspectionPeriodDays = InspectionDays(required=False, allow_null=True)  # noqa: N815
    imageUrl = serializers.ListField(  # noqa: N815
        child=serializers.FileField(), required=False, help_text="Up to 5 pictures (multipart only)"
    )

    def validate(self, attrs: dict) -> dict:
        if (attrs.get("maxDelivery") is None) != (attrs.get("deliveryTimeline") is None):
            raise serializers.ValidationError("maxDelivery and deliveryTimeline go together")
        return attrs


def _standard_terms(data: dict) -> EscrowTerms:
    currency = normalize_currency(data.get("currency") or settings.ESCROW_DEFAULT_CURRENCY)
    days = data.get("inspectionPeriodDays")
    return EscrowTerms(
        title=data["purpose"],
        currency=currency,
        amount=major_int_to_minor(data["amount"], currency),
        description=data.get("description") or "",
        who_pays=data["whoPays"],
        settlement_type=SettlementType.STANDARD,
        release_type=ReleaseType.DELIVERY_PROOF,
        max_delivery=data.get("maxDelivery"),
        delivery_timeline=data.get("deliveryTimeline") or "",
        total_quantity=data.get("totalQuantity"),
        category_id=data.get("categoryId") or "",
        buyer_email=data.get("buyerEmail") or "",
        inspection_period=None if days is None else inspection_period_from_days(days),
    )


STANDARD_REQUEST = {
    "multipart/form-data": ProviderStandardEscrowInput,
    "application/json": ProviderStandardEscrowInput,
}


class StandardEscrowCreate(MultipartView):
    @extend_schema(
        operation_id="provider_escrow_create",
        request=STANDARD_REQUEST,
        responses={201: envelope("ProviderStandardEscrowCreated", EscrowOutput), 413: ERRORS[400], **ERRORS},
        tags=TAGS,
        summary="Create a standard escrow, with up to 5 pictures (customer-id = seller)",
        description=(
            "multipart/form-data (or JSON without pictures). `whoPays` must be `buyer`: the buyer "
            "pays the fee on top of the amount. `maxDelivery` (1-365) with `deliveryTimeline` "
            "(minutes, hours or days) is the delivery window: once it has passed since payment "
            "the seller may claim the money. `imageUrl`: up to 5 PNG, JPEG, GIF or WebP pictures "
            "of at most 5 MB each, checked by what they contain."
        ),
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = parse_form(ProviderStandardEscrowInput, request, files="imageUrl")
        escrow = services.escrow_create(
            seller=request.user,
            terms=_standard_terms(data),
            milestones=[],
            images=_files(request, "imageUrl"),
        )
        return ok(
            "Created successfully", escrow_data(escrow, [], viewer=request.user), status.HTTP_201_CREATED
        )


def _seller_escrow(request: AuthenticatedRequest, payment_token: str) -> Escrow:
    return selectors.escrow_get_by_token_for_user(request.user, payment_token)


class StandardEscrowEdit(MultipartView):
    @extend_schema(
        operation_id="provider_escrow_edit",
        request=STANDARD_REQUEST,
        responses={200: envelope("ProviderStandardEscrowEdited", EscrowOutput), 413: ERRORS[400], **ERRORS},
        tags=TAGS,
        summary="Replace a standard escrow's terms (seller, while AWAITING_PAYMENT)",
        description=(
            "The create fields; the fee is recomputed. Pictures sent replace the escrow's "
            "pictures; none sent keeps them. A milestone escrow is edited with "
            "PUT /v1/escrow/milestone/edit/{paymentToken}."
        ),
    )
    def put(self, request: AuthenticatedRequest, payment_token: str) -> Response:
        escrow = _seller_escrow(request, payment_token)
        if escrow.is_milestone:
            raise InvalidRequest(
                "This is a milestone escrow: edit it with PUT /v1/escrow/milestone/edit/{paymentToken}"
            )
        data = parse_form(ProviderStandardEscrowInput, request, files="imageUrl")
        images = _files(request, "imageUrl")
        escrow = services.escrow_edit(
            escrow=escrow,
            by=request.user,
            terms=_standard_terms(data),
            milestones=[],
            images=images or None,
        )
        return ok("Escrow updated successfully", escrow_data(escrow, [], viewer=request.user))


StateOutput = inline_serializer(
    "ProviderEscrowState",
    {
        "id": serializers.CharField(),
        "paymentToken": serializers.CharField(),
        "status": serializers.CharField(),
        "state": serializers.CharField(),
    },
)


def _state(escrow: Escrow) -> dict[str, Any]:
    state, provider_status = state_of({"status": escrow.status, "claimed_at": escrow.claimed_at})
    return {
        "id": escrow.public_id,
        "paymentToken": escrow.payment_token,
        "status": provider_status,
        "state": state,
    }


class EscrowDelete(ProviderAPIView):
    @extend_schema(
        operation_id="provider_escrow_delete",
        request=None,
        responses={200: envelope("ProviderEscrowDeleted", StateOutput), **ERRORS},
        tags=TAGS,
        summary="Delete an escrow nobody has paid (the seller)",
        description=(
            "The escrow is cancelled (CLOSED / CANCELLED) and kept in the record rather than "
            "erased; its payment link no longer takes payments. The seller only: the buyer "
            'gets 403 "Only the seller can delete this escrow".'
        ),
    )
    def delete(self, request: AuthenticatedRequest, payment_token: str) -> Response:
        escrow = services.escrow_delete(escrow=_seller_escrow(request, payment_token), by=request.user)
        return ok("Escrow deleted successfully", _state(escrow))


class EscrowVerify(ProviderAPIView):
    @extend_schema(
        operation_id="provider_escrow_verify",
        responses={200: envelope("ProviderEscrowVerified", EscrowOutput), **ERRORS},
        tags=TAGS,
        summary="The escrow behind a payment link, as the buyer sees it before paying",
    )
    def get(self, request: AuthenticatedRequest, payment_token: str) -> Response:
        escrow = escrow_for_payer(request.user, payment_token)
        if escrow.payment_token != payment_token:
            raise NotFound("Escrow not found")
        return ok("Escrow verified successfully", escrow_data(escrow, viewer=request.user))


class EscrowClaimFunds(ProviderAPIView):
    # A GET that moves money: with an API key only, never a browser session (which a page on
    # another site could make the browser send).
    authentication_classes = [APIKeyAuthentication]

    @extend_schema(
        operation_id="provider_escrow_claim_funds",
        responses={200: envelope("ProviderFundsClaimed", StateOutput), **ERRORS},
        tags=TAGS,
        summary="The seller takes the money once the delivery window has passed (customer-id = seller)",
        description=(
            "Only a standard escrow that is paid and open (not under dispute), once `maxDelivery` "
            '× `deliveryTimeline` has passed since payment; else 400 "Escrow cannot be claimed '
            'yet". The whole amount goes to the seller and the escrow closes as CLAIMED. With an '
            "API key only."
        ),
    )
    def get(self, request: AuthenticatedRequest, payment_token: str) -> Response:
        escrow = services.escrow_claim_funds(escrow=_seller_escrow(request, payment_token), by=request.user)
        return ok("Funds claimed successfully", _state(escrow))


class ConfirmPayment(ProviderAPIView):
    @extend_schema(
        operation_id="provider_escrow_confirm_payment",
        request=None,
        responses={200: envelope("ProviderPaymentConfirmed", EscrowOutput), **ERRORS},
        tags=TAGS,
        summary="The buyer confirms delivery: the whole escrow goes to the seller (customer-id = buyer)",
    )
    def post(self, request: AuthenticatedRequest, escrow_id: str) -> Response:
        escrow = escrow_for_payer(request.user, escrow_id)
        escrow = services.escrow_confirm_delivery(escrow=escrow, by=request.user)
        return ok("Payment confirmed successfully", escrow_data(escrow, [], viewer=request.user))


class ProviderConvertInput(StrictSerializer):
    amount = FormInteger(required=False, allow_null=True)
    # many=True hands max_length to the ListSerializer; the stubs know only the child's arguments.
    milestones = MilestoneInputSerializer(many=True, max_length=100)  # type: ignore[call-arg]


class MilestoneConvert(ProviderAPIView):
    @extend_schema(
        operation_id="provider_escrow_convert_to_milestones",
        request=ProviderConvertInput,
        responses={200: envelope("ProviderEscrowConverted", EscrowOutput), **ERRORS},
        tags=TAGS,
        summary="Turn an unpaid standard escrow into a milestone escrow (seller, while AWAITING_PAYMENT)",
        description=(
            "At least 2 milestones summing to `amount` (the new total; absent, the escrow's). The "
            "buyer pays the fee, recomputed. The other terms and the pictures stay."
        ),
    )
    def put(self, request: AuthenticatedRequest, payment_token: str) -> Response:
        escrow = _seller_escrow(request, payment_token)
        data = parse(ProviderConvertInput, request)
        currency = escrow.currency
        amount = escrow.amount if data.get("amount") is None else major_int_to_minor(data["amount"], currency)
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
            title=escrow.title,
            currency=currency,
            amount=amount,
            description=escrow.description,
            settlement_type=SettlementType.MILESTONE,
            release_type=ReleaseType.MILESTONE_LOCKED,
            settlement_method=escrow.settlement_method,
            settlement_destination=escrow.settlement_destination,
            buyer_email=escrow.buyer_email,
            max_delivery=escrow.max_delivery,
            delivery_timeline=escrow.delivery_timeline,
            total_quantity=escrow.total_quantity,
            category_id=escrow.category_id,
            inspection_period=escrow.inspection_period,
        )
        escrow = services.escrow_edit(escrow=escrow, by=request.user, terms=terms, milestones=milestones)
        return ok("Escrow converted to milestone successfully", escrow_data(escrow, viewer=request.user))


class EscrowImageFile(ProviderAPIView):
    @extend_schema(
        operation_id="provider_escrow_image",
        responses={(200, "image/*"): OpenApiResponse(OpenApiTypes.BINARY), **ERRORS},
        tags=TAGS,
        summary="A picture of an escrow (its imageUrl), to whoever may see the escrow",
    )
    def get(self, request: AuthenticatedRequest, image_id: str) -> Any:
        image = EscrowImage.objects.select_related("escrow").filter(public_id=image_id).first()
        if image is None:
            raise NotFound("Image not found")
        # Who may see the escrow may see its pictures: a party, or whoever may still pay it.
        escrow_for_payer(request.user, image.escrow.payment_token)
        try:
            handle = image.file.open("rb")
        except FileNotFoundError:
            raise NotFound("Image not found") from None
        response = FileResponse(handle, content_type=image.content_type)
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response
