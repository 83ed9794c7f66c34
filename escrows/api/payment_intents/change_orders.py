"""Change orders under /v1/escrows/{escrow_id}/change-orders (escrow_id is the public `intent_…`
id): either party proposes to add a milestone, or change or remove one still to come, on a funded
escrow; only the other party accepts (the money moves at once: the buyer pays an increase with its
fee, a decrease goes back to where they paid) or declines with a reason; the proposer withdraws.
Decimal-string amounts ("300.00"). Another customer's escrow is a 404."""

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.types import AuthenticatedRequest, User
from core.errors import InvalidRequest
from escrows import selectors, services
from escrows.models import ChangeProposal, Escrow
from escrows.money import format_minor, to_minor

from ..common import DecimalString, StrictSerializer, Text, iso, parse
from .base import ERRORS, ERRORS_409, EmptyInput, IntentAPIView

TAGS = ["change orders"]
CHANGE_TYPES = ("add", "edit", "remove")


def change_order_data(proposal: ChangeProposal, escrow: Escrow) -> dict[str, Any]:
    currency = escrow.currency

    def money(value: int) -> str:
        return format_minor(value, currency)

    quote = services.change_order_quote(escrow, proposal)
    fee = proposal.paid_fee if not proposal.is_open else quote.fee
    accepted = proposal.status == "ACCEPTED"
    version = getattr(proposal, "terms_version", None) if accepted else None
    return {
        "id": proposal.public_id,
        "object": "change_order",
        "escrowId": escrow.public_id,
        "status": proposal.status,
        "proposerRole": proposal.proposer_role,
        "proposedBy": proposal.proposed_by.customer_id,
        "changes": [selectors.change_record(c, currency) for c in proposal.changes],
        "currency": currency,
        "amountBefore": money(proposal.amount_before),
        "amountAfter": money(proposal.amount_after),
        "difference": money(proposal.difference),
        "fee": money(fee),
        "buyerPays": money(max(proposal.difference, 0) + fee),
        "buyerGetsBack": money(max(-proposal.difference, 0)),
        "paySource": proposal.pay_source or None,
        "note": proposal.note,
        "declineReason": proposal.decline_reason or None,
        "paid": {
            "amount": money(proposal.paid_amount),
            "fee": money(proposal.paid_fee),
            "source": proposal.paid_from,
        }
        if accepted and proposal.paid_amount
        else None,
        "refunded": money(proposal.refunded_amount) if accepted and proposal.refunded_amount else None,
        "termsVersion": version.number if version is not None else None,
        "lapsesAt": iso(proposal.lapses_at),
        "decidedAt": iso(proposal.decided_at),
        "createdAt": iso(proposal.created_at),
    }


class ChangeRowOutput(serializers.Serializer):
    kind = serializers.CharField(help_text="add, edit or remove")
    index = serializers.IntegerField(help_text="The milestone's index (an added one: where it lands)")
    milestone = serializers.CharField(required=False, help_text="The milestone changed or removed")
    title = serializers.CharField(required=False)
    description = serializers.CharField(required=False)
    amount = serializers.CharField(required=False)
    dueDate = serializers.DateTimeField(required=False, allow_null=True)  # noqa: N815
    before = serializers.DictField(required=False, help_text="An edit: the fields it changes, as they were")
    after = serializers.DictField(required=False, help_text="An edit: the fields it changes, as they become")

    class Meta:
        ref_name = "ChangeOrderChange"


class ChangeOrderOutput(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    escrowId = serializers.CharField()  # noqa: N815
    status = serializers.ChoiceField(choices=["OPEN", "ACCEPTED", "DECLINED", "WITHDRAWN", "LAPSED"])
    proposerRole = serializers.CharField()  # noqa: N815
    proposedBy = serializers.CharField()  # noqa: N815
    changes = ChangeRowOutput(many=True)
    currency = serializers.CharField()
    amountBefore = serializers.CharField()  # noqa: N815
    amountAfter = serializers.CharField()  # noqa: N815
    difference = serializers.CharField()
    fee = serializers.CharField(
        help_text="The fee on an increase: as of now while open, as paid once accepted"
    )
    buyerPays = serializers.CharField()  # noqa: N815
    buyerGetsBack = serializers.CharField()  # noqa: N815
    paySource = serializers.CharField(allow_null=True)  # noqa: N815
    note = serializers.CharField()
    declineReason = serializers.CharField(allow_null=True)  # noqa: N815
    paid = inline_serializer(
        "ChangeOrderPaid",
        {
            "amount": serializers.CharField(),
            "fee": serializers.CharField(),
            "source": serializers.CharField(),
        },
        allow_null=True,
    )
    refunded = serializers.CharField(allow_null=True)
    termsVersion = serializers.IntegerField(allow_null=True)  # noqa: N815
    lapsesAt = serializers.DateTimeField()  # noqa: N815
    decidedAt = serializers.DateTimeField(allow_null=True)  # noqa: N815
    createdAt = serializers.DateTimeField()  # noqa: N815

    class Meta:
        ref_name = "ChangeOrder"


class ChangeInput(StrictSerializer):
    type = serializers.ChoiceField(choices=CHANGE_TYPES)
    milestoneId = Text(max_length=60, required=False, help_text="edit and remove: the milestone")  # noqa: N815
    title = Text(max_length=200, required=False)
    description = Text(max_length=5000, required=False)
    amount = DecimalString(required=False)
    dueDate = serializers.DateTimeField(  # noqa: N815
        required=False, allow_null=True, help_text="ISO 8601, in the future; on an edit, null removes it"
    )

    class Meta:
        ref_name = "ChangeOrderChangeInput"


class ChangeOrderProposeInput(StrictSerializer):
    changes = ChangeInput(many=True)
    note = Text(max_length=2000, required=False, allow_null=True)
    paySource = Text(  # noqa: N815
        max_length=10,
        required=False,
        help_text="A buyer whose change raises the total: how they pay the increase when it is accepted, "
        "WALLET (the default) or CARD (with cardToken)",
    )
    cardToken = Text(max_length=100, required=False)  # noqa: N815


class ChangeOrderAcceptInput(StrictSerializer):
    paySource = Text(  # noqa: N815
        max_length=10,
        required=False,
        help_text="The buyer accepting an increase: WALLET (their balance, the default) or CARD (with "
        "cardToken)",
    )
    cardToken = Text(max_length=100, required=False)  # noqa: N815


class ChangeOrderDeclineInput(StrictSerializer):
    reason = Text(max_length=2000, required=True)


def _changes(rows: list[dict[str, Any]], currency: str) -> list[services.StageChange]:
    out: list[services.StageChange] = []
    for i, row in enumerate(rows):
        kind = row["type"]
        amount = row.get("amount")
        minor = to_minor(amount, currency, field=f"changes[{i}].amount") if amount is not None else None
        if kind == "add":
            if minor is None:
                raise InvalidRequest(f"changes[{i}].amount is required to add a milestone", field="changes")
            out.append(
                services.StageAdd(
                    amount=minor,
                    title=row.get("title") or "",
                    description=row.get("description") or "",
                    due_date=row.get("dueDate"),
                )
            )
            continue
        milestone = row.get("milestoneId") or ""
        if kind == "remove":
            out.append(services.StageRemove(milestone=milestone))
            continue
        out.append(
            services.StageEdit(
                milestone=milestone,
                amount=minor,
                title=row.get("title"),
                description=row.get("description"),
                due_date=row.get("dueDate"),
                clear_due_date="dueDate" in row and row["dueDate"] is None,
            )
        )
    return out


class ChangeOrders(IntentAPIView):
    @extend_schema(
        operation_id="change_order_propose",
        request=ChangeOrderProposeInput,
        responses={201: ChangeOrderOutput, **ERRORS_409},
        tags=TAGS,
        summary="Propose a change to a funded escrow's milestones still to come (either party)",
        description=(
            "Each change: `add` a milestone after the last (amount, title, description, dueDate); "
            "`edit` a milestone not yet completed, disputed or partly released (any of amount, title, "
            "description, dueDate; null dueDate removes it); `remove` such a milestone (the ones after "
            "it move up). One open change order per escrow (409 otherwise); it lapses unanswered after "
            "ESCROW_CHANGE_PROPOSAL_LAPSE_DAYS. Nothing moves until the other party accepts."
        ),
    )
    def post(self, request: AuthenticatedRequest, escrow_id: str) -> Response:
        escrow = selectors.escrow_get_for_user(request.user, escrow_id)
        data = parse(ChangeOrderProposeInput, request)
        proposal = services.change_order_propose(
            escrow=escrow,
            by=request.user,
            changes=_changes(data["changes"], escrow.currency),
            note=data.get("note") or "",
            pay_source=data.get("paySource") or None,
            card_token=data.get("cardToken") or "",
        )
        return Response(change_order_data(proposal, escrow), status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="change_order_list",
        responses={
            200: inline_serializer(
                "ChangeOrderList",
                {
                    "object": serializers.CharField(),
                    "data": ChangeOrderOutput(many=True),
                    "hasMore": serializers.BooleanField(),
                },
            ),
            **ERRORS,
        },
        tags=TAGS,
        summary="List an escrow's change orders, newest first",
    )
    def get(self, request: AuthenticatedRequest, escrow_id: str) -> Response:
        escrow = selectors.escrow_get_for_user(request.user, escrow_id)
        proposals = selectors.change_proposals_of(escrow).select_related("terms_version")
        return Response(
            {"object": "list", "data": [change_order_data(p, escrow) for p in proposals], "hasMore": False}
        )


class _ChangeOrderAction(IntentAPIView):
    input_class: type[StrictSerializer] = EmptyInput

    def act(self, proposal: ChangeProposal, by: User, data: dict[str, Any]) -> ChangeProposal:
        raise NotImplementedError

    def post(self, request: AuthenticatedRequest, escrow_id: str, change_order_id: str) -> Response:
        escrow = selectors.escrow_get_for_user(request.user, escrow_id)
        proposal = selectors.change_proposal_get(escrow, change_order_id)
        data = parse(self.input_class, request)
        self.act(proposal, request.user, data)
        escrow = selectors.escrow_get_for_user(request.user, escrow_id)
        done = selectors.change_proposals_of(escrow).select_related("terms_version").get(pk=proposal.pk)
        return Response(change_order_data(done, escrow))


def _action_schema(operation_id: str, summary: str, request: Any, description: str = "") -> Any:
    return extend_schema(
        operation_id=operation_id,
        request=request,
        responses={200: ChangeOrderOutput, 402: ERRORS[400], **ERRORS_409},
        tags=TAGS,
        summary=summary,
        description=description,
    )


class ChangeOrderAccept(_ChangeOrderAction):
    input_class = ChangeOrderAcceptInput

    @_action_schema(
        "change_order_accept",
        "Accept a change order: the money moves and the new terms apply (the other party)",
        ChangeOrderAcceptInput,
        "Each change is checked again against the milestones as they are now; one that moved on since "
        "(completed, released, disputed) refuses the acceptance (400, change_order_stale). An increase "
        "is paid by the buyer with the fee on it (the fee of the new total less the fees paid): the "
        "buyer accepting chooses paySource; a buyer's own proposal pays as it named. A balance that is "
        "short refuses the acceptance with what it costs (400, insufficient_funds); a declined card is a"
        " 402. A decrease goes back to where the buyer paid from. The escrow's amount, fee and terms "
        "version move on.",
    )
    def post(self, request: AuthenticatedRequest, escrow_id: str, change_order_id: str) -> Response:
        return super().post(request, escrow_id, change_order_id)

    def act(self, proposal: ChangeProposal, by: User, data: dict[str, Any]) -> ChangeProposal:
        return services.change_order_accept(
            proposal=proposal,
            by=by,
            pay_source=data.get("paySource") or None,
            card_token=data.get("cardToken") or "",
        )


class ChangeOrderDecline(_ChangeOrderAction):
    input_class = ChangeOrderDeclineInput

    @_action_schema(
        "change_order_decline",
        "Decline a change order, saying why (the other party)",
        ChangeOrderDeclineInput,
    )
    def post(self, request: AuthenticatedRequest, escrow_id: str, change_order_id: str) -> Response:
        return super().post(request, escrow_id, change_order_id)

    def act(self, proposal: ChangeProposal, by: User, data: dict[str, Any]) -> ChangeProposal:
        return services.change_order_decline(proposal=proposal, by=by, reason=data.get("reason") or "")


class ChangeOrderWithdraw(_ChangeOrderAction):
    @_action_schema("change_order_withdraw", "Withdraw your change order (the proposer)", None)
    def post(self, request: AuthenticatedRequest, escrow_id: str, change_order_id: str) -> Response:
        return super().post(request, escrow_id, change_order_id)

    def act(self, proposal: ChangeProposal, by: User, data: dict[str, Any]) -> ChangeProposal:
        return services.change_order_withdraw(proposal=proposal, by=by)
