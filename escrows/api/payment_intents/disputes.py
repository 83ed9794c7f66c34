"""Disputes and the evidence export under /v1/escrows/{escrow_id}/... (escrow_id: the public id
`intent_…`). The payment-intents surface's envelope, auth and Idempotency-Key; amounts are
decimal strings in the escrow's currency. Another customer's escrow or dispute is a 404."""

import io
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.types import AuthenticatedRequest
from escrows import selectors, services
from escrows.models import DisputeAnswer, DisputeOutcome, Escrow
from escrows.money import to_minor
from escrows.services import EvidenceInput

from ..common import DecimalString, StrictSerializer, Text, parse
from ..parsers import StrictJSONParser
from .base import ERRORS, ErrorOutput, IntentAPIView

TAGS = ["disputes"]
ERRORS_403 = {**ERRORS, 403: ErrorOutput, 409: ErrorOutput, 422: ErrorOutput}


def _escrow(request: AuthenticatedRequest, escrow_id: str) -> Escrow:
    return selectors.escrow_get_for_viewer(request.user, escrow_id)


def _data(dispute: Any, escrow: Escrow) -> dict[str, Any]:
    return selectors.dispute_record(dispute, currency=escrow.currency)


def _amount(value: Any, escrow: Escrow, field: str) -> int | None:
    if value is None:
        return None
    return to_minor(value, escrow.currency, field=field, allow_zero=True)


# -- output shapes (for the schema) ------------------------------------------------------------
# ruff: noqa: N815 -- the API's field names are camelCase


class DisputeMoneySplitOut(serializers.Serializer):
    outcome = serializers.CharField()
    sellerAmount = serializers.CharField(allow_null=True)
    buyerAmount = serializers.CharField(allow_null=True)


class DisputeEvidenceFileOut(serializers.Serializer):
    name = serializers.CharField()
    size = serializers.IntegerField()
    contentType = serializers.CharField()
    sha256 = serializers.CharField()


class DisputeEvidenceOut(serializers.Serializer):
    id = serializers.CharField()
    submittedBy = serializers.CharField()
    submittedById = serializers.CharField()
    text = serializers.CharField()
    url = serializers.CharField(allow_null=True)
    textSha256 = serializers.CharField()
    file = DisputeEvidenceFileOut(allow_null=True)
    createdAt = serializers.DateTimeField()


class DisputeAnswerOut(serializers.Serializer):
    choice = serializers.CharField()
    text = serializers.CharField()
    answeredBy = serializers.CharField(allow_null=True)
    answeredAt = serializers.DateTimeField(allow_null=True)


class DisputeResolutionOut(serializers.Serializer):
    outcome = serializers.CharField()
    sellerAmount = serializers.CharField(allow_null=True)
    buyerAmount = serializers.CharField(allow_null=True)
    resolvedBy = serializers.CharField()
    note = serializers.CharField()
    resolvedAt = serializers.DateTimeField(allow_null=True)


class DisputeOut(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    escrowId = serializers.CharField()
    milestoneId = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    openedBy = serializers.CharField()
    openedById = serializers.CharField()
    reason = serializers.CharField()
    amount = serializers.CharField()
    currency = serializers.CharField()
    deadline = serializers.DateTimeField()
    defaultOutcome = DisputeMoneySplitOut()
    answer = DisputeAnswerOut(allow_null=True)
    resolution = DisputeResolutionOut(allow_null=True)
    withdrawnAt = serializers.DateTimeField(allow_null=True)
    createdAt = serializers.DateTimeField()
    evidence = DisputeEvidenceOut(many=True)


DisputeOutput = DisputeOut


class DisputeListOut(serializers.Serializer):
    object = serializers.CharField()
    # A field named data: DRF's metaclass takes declared fields off the class, so Serializer.data
    # stays the property; the stubs cannot say so.
    data = DisputeOut(many=True)  # type: ignore[assignment]
    hasMore = serializers.BooleanField()


class EvidenceExportOut(serializers.Serializer):
    object = serializers.CharField()
    escrow = serializers.DictField()
    parties = serializers.DictField()
    milestones = serializers.ListField(child=serializers.DictField())
    events = serializers.ListField(child=serializers.DictField())
    ledger = serializers.ListField(child=serializers.DictField())
    disputes = DisputeOut(many=True)
    recordSha256 = serializers.CharField()
    generatedAt = serializers.DateTimeField()


# -- inputs ------------------------------------------------------------------------------------


class DisputeOpenInput(StrictSerializer):
    milestoneId = Text(max_length=100, required=False, allow_null=True)  # noqa: N815
    reason = Text(max_length=5000, required=True)
    evidenceText = Text(max_length=5000, required=False, allow_null=True)  # noqa: N815
    evidenceUrl = Text(max_length=2000, required=False, allow_null=True)  # noqa: N815
    # release | refund | split (checked by the service, which names the choices in its error)
    defaultOutcome = Text(max_length=10, required=False, allow_null=True)  # noqa: N815
    defaultSellerAmount = DecimalString(required=False, allow_null=True)  # noqa: N815
    defaultBuyerAmount = DecimalString(required=False, allow_null=True)  # noqa: N815


class EvidenceJSONInput(StrictSerializer):
    text = Text(max_length=5000, required=False, allow_null=True)
    url = Text(max_length=2000, required=False, allow_null=True)


class EvidenceMultipartInput(EvidenceJSONInput):
    file = serializers.FileField(required=False, allow_null=True)


class AnswerInput(StrictSerializer):
    answer = serializers.ChoiceField(choices=DisputeAnswer.values)
    text = Text(max_length=5000, required=False, allow_null=True)


class ResolveInput(StrictSerializer):
    outcome = serializers.ChoiceField(choices=DisputeOutcome.values)
    sellerAmount = DecimalString(required=False, allow_null=True)  # noqa: N815
    buyerAmount = DecimalString(required=False, allow_null=True)  # noqa: N815
    note = Text(max_length=5000, required=False, allow_null=True)


class EmptyInput(StrictSerializer):
    pass


# -- views -------------------------------------------------------------------------------------


class EscrowDisputes(IntentAPIView):
    @extend_schema(
        operation_id="escrow_dispute_open",
        request=DisputeOpenInput,
        responses={201: DisputeOutput, **ERRORS_403},
        tags=TAGS,
        summary="Open a dispute",
        description=(
            "The buyer or the seller disputes one milestone (milestone escrows: milestoneId is "
            "required) or the whole of a standard escrow. Only the disputed amount is frozen. "
            "defaultOutcome is what the opener asks for (release, refund or split, with both amounts "
            "for a split; without it the platform default). It applies at the deadline only if the "
            "other party has not answered: a contested dispute goes to an arbiter (staff)."
        ),
    )
    def post(self, request: AuthenticatedRequest, escrow_id: str) -> Response:
        escrow = _escrow(request, escrow_id)
        data = parse(DisputeOpenInput, request)
        milestone = None
        if data.get("milestoneId"):
            milestone = selectors.milestone_get(escrow, data["milestoneId"])
        dispute = services.dispute_open(
            escrow=escrow,
            by=request.user,
            reason=data["reason"],
            milestone=milestone,
            evidence=EvidenceInput(text=data.get("evidenceText") or "", url=data.get("evidenceUrl") or ""),
            default_outcome=data.get("defaultOutcome") or None,
            default_seller_amount=_amount(data.get("defaultSellerAmount"), escrow, "defaultSellerAmount"),
            default_buyer_amount=_amount(data.get("defaultBuyerAmount"), escrow, "defaultBuyerAmount"),
        )
        return Response(_data(dispute, escrow), status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="escrow_dispute_list",
        responses={200: DisputeListOut, **ERRORS},
        tags=TAGS,
        summary="List the disputes of an escrow",
    )
    def get(self, request: AuthenticatedRequest, escrow_id: str) -> Response:
        escrow = _escrow(request, escrow_id)
        items = [
            _data(d, escrow) for d in selectors.disputes_of(escrow).prefetch_related("evidence__submitted_by")
        ]
        return Response({"object": "list", "data": items, "hasMore": False})


class DisputeDetail(IntentAPIView):
    @extend_schema(
        operation_id="escrow_dispute_retrieve",
        responses={200: DisputeOutput, **ERRORS},
        tags=TAGS,
        summary="Retrieve a dispute",
    )
    def get(self, request: AuthenticatedRequest, escrow_id: str, dispute_id: str) -> Response:
        escrow = _escrow(request, escrow_id)
        return Response(_data(selectors.dispute_get(escrow, dispute_id), escrow))


# Room for the form fields and multipart boundaries around an evidence file.
MULTIPART_OVERHEAD = 64 * 1024


class DisputeEvidenceCreate(IntentAPIView):
    parser_classes = [StrictJSONParser, MultiPartParser]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """A multipart body may be as large as an evidence file (5 MB), above the 2.5 MB that
        DATA_UPLOAD_MAX_MEMORY_SIZE allows every other body; still capped, and read once (the
        Idempotency-Key check hashes it)."""
        raw = request._request
        length = raw.META.get("CONTENT_LENGTH") or ""
        if (
            (raw.content_type or "").startswith("multipart/")
            and length.isascii()
            and length.isdigit()
            and not hasattr(raw, "_body")
        ):
            if int(length) > settings.ESCROW_EVIDENCE_MAX_BYTES + MULTIPART_OVERHEAD:
                raise RequestDataTooBig("The request body is too large")
            raw._body = raw.read(int(length))
            raw._stream = io.BytesIO(raw._body)
        super().initial(request, *args, **kwargs)

    @extend_schema(
        operation_id="escrow_dispute_evidence_add",
        request={"application/json": EvidenceJSONInput, "multipart/form-data": EvidenceMultipartInput},
        responses={201: DisputeOutput, **ERRORS_403, 413: ErrorOutput},
        tags=TAGS,
        summary="Add evidence to a dispute",
        description=(
            "Either party, while the dispute is unresolved: text and/or a link as JSON, or the "
            "same fields plus `file` as multipart/form-data (PDF, image, text, CSV or ZIP, at most "
            "5 MB). The file's SHA-256 is stored and returned."
        ),
    )
    def post(self, request: AuthenticatedRequest, escrow_id: str, dispute_id: str) -> Response:
        escrow = _escrow(request, escrow_id)
        dispute = selectors.dispute_get(escrow, dispute_id)
        is_multipart = (request.content_type or "").startswith("multipart/")
        data = parse(EvidenceMultipartInput if is_multipart else EvidenceJSONInput, request)
        services.dispute_add_evidence(
            dispute=dispute,
            by=request.user,
            evidence=EvidenceInput(
                text=data.get("text") or "", url=data.get("url") or "", file=data.get("file")
            ),
        )
        return Response(
            _data(selectors.dispute_get(escrow, dispute_id), escrow), status=status.HTTP_201_CREATED
        )


class DisputeAnswerView(IntentAPIView):
    @extend_schema(
        operation_id="escrow_dispute_answer",
        request=AnswerInput,
        responses={200: DisputeOutput, **ERRORS_403},
        tags=TAGS,
        summary="Answer a dispute (the other party)",
        description=(
            "accept settles the dispute at once with what the opener asked for when opening it "
            "(their request: a release, a refund or their split); contest leaves it to an "
            "arbiter (staff), and nothing applies by itself after that."
        ),
    )
    def post(self, request: AuthenticatedRequest, escrow_id: str, dispute_id: str) -> Response:
        escrow = _escrow(request, escrow_id)
        dispute = selectors.dispute_get(escrow, dispute_id)
        data = parse(AnswerInput, request)
        services.dispute_answer(
            dispute=dispute, by=request.user, answer=data["answer"], text=data.get("text") or ""
        )
        return Response(_data(selectors.dispute_get(escrow, dispute_id), escrow))


class DisputeWithdrawView(IntentAPIView):
    @extend_schema(
        operation_id="escrow_dispute_withdraw",
        request=EmptyInput,
        responses={200: DisputeOutput, **ERRORS_403},
        tags=TAGS,
        summary="Withdraw a dispute (the party who opened it)",
    )
    def post(self, request: AuthenticatedRequest, escrow_id: str, dispute_id: str) -> Response:
        escrow = _escrow(request, escrow_id)
        dispute = selectors.dispute_get(escrow, dispute_id)
        parse(EmptyInput, request)
        services.dispute_withdraw(dispute=dispute, by=request.user)
        return Response(_data(selectors.dispute_get(escrow, dispute_id), escrow))


class DisputeResolveView(IntentAPIView):
    @extend_schema(
        operation_id="escrow_dispute_resolve",
        request=ResolveInput,
        responses={200: DisputeOutput, **ERRORS_403},
        tags=TAGS,
        summary="Resolve a dispute (staff only)",
        description=(
            "Staff accounts only (customers, and so API keys, get 403): release to the seller, "
            "refund to the buyer, or split with sellerAmount + buyerAmount equal to the disputed amount."
        ),
    )
    def post(self, request: AuthenticatedRequest, escrow_id: str, dispute_id: str) -> Response:
        escrow = _escrow(request, escrow_id)
        dispute = selectors.dispute_get(escrow, dispute_id)
        data = parse(ResolveInput, request)
        services.dispute_resolve(
            dispute=dispute,
            by=request.user,
            outcome=data["outcome"],
            seller_amount=_amount(data.get("sellerAmount"), escrow, "sellerAmount"),
            buyer_amount=_amount(data.get("buyerAmount"), escrow, "buyerAmount"),
            note=data.get("note") or "",
        )
        return Response(_data(selectors.dispute_get(escrow, dispute_id), escrow))


class EvidenceExport(IntentAPIView):
    @extend_schema(
        operation_id="escrow_evidence_export",
        responses={
            200: OpenApiResponse(response=EvidenceExportOut, description="The whole record of the escrow"),
            **ERRORS,
        },
        tags=TAGS,
        summary="Export the evidence record of an escrow",
        description=(
            "For either party or staff: parties, milestones, every event with its actor and time, "
            "every ledger posting with its entries, and the disputes with their evidence hashes."
        ),
    )
    def get(self, request: AuthenticatedRequest, escrow_id: str) -> Response:
        return Response(selectors.evidence_export(_escrow(request, escrow_id)))
