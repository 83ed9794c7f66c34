"""The buyer's review: extending a delivered milestone's review period, or sending it back for
changes. Views parse, call one service or selector, and shape the answer; the rules live in
escrows.services."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from accounts.types import AuthenticatedRequest
from escrows import selectors, services

from ..common import StrictSerializer, Text, parse
from .base import ERRORS, IntentAPIView, IntentMilestoneOutput, milestone_data


class NoInput(StrictSerializer):
    """No body is needed; anything sent must be empty."""


class MilestoneExtendReview(IntentAPIView):
    @extend_schema(
        operation_id="escrow_milestone_extend_review",
        request=NoInput,
        responses={200: IntentMilestoneOutput, 403: ERRORS[400], **ERRORS},
        tags=["review clock"],
        summary="Extend a delivered milestone's review period (buyer, once)",
        description=(
            "Moves the milestone's `reviewDeadline` (when it releases automatically unless the buyer "
            "confirms or disputes it) later by the configured extension (default 7 days). Only the "
            "buyer, only once per milestone, only while it is delivered (`COMPLETED`) and the "
            "deadline has not passed. Another customer's escrow or milestone is a 404."
        ),
    )
    def post(self, request: AuthenticatedRequest, escrow_id: str, milestone_id: str) -> Response:
        milestone = selectors.milestone_get_for_user(request.user, escrow_id, milestone_id)
        parse(NoInput, request)
        milestone = services.milestone_review_extend(milestone=milestone, by=request.user)
        return Response(milestone_data(milestone, milestone.escrow))


class RequestChangesInput(StrictSerializer):
    # Whether it is there and short enough is the service's rule, in its own words.
    note = Text(required=False, allow_null=True, help_text="What needs to change (1 to 2,000 characters).")


class MilestoneRequestChanges(IntentAPIView):
    @extend_schema(
        operation_id="escrow_milestone_request_changes",
        request=RequestChangesInput,
        responses={200: IntentMilestoneOutput, 403: ERRORS[400], **ERRORS},
        tags=["review clock"],
        summary="Send a delivered milestone back for changes (buyer)",
        description=(
            "The milestone goes back to `PENDING` with the buyer's `note` (required, at most 2,000 "
            "characters): its review clock stops (`reviewDeadline` is null until the seller "
            "completes it again, which starts a fresh review period) and `changesRequested` counts "
            "the rounds; `changesRequestedNote` is the latest note. The delivery sent back "
            "(`completedBy`, `completionProof`, `completionProofURI`) is cleared from the milestone "
            "and kept in the `milestone.changes_requested` event. No money moves. Only the buyer, "
            "only while the milestone is delivered (`COMPLETED`) and its review period is running "
            "on a funded escrow; the seller gets 403, anyone else 404."
        ),
    )
    def post(self, request: AuthenticatedRequest, escrow_id: str, milestone_id: str) -> Response:
        milestone = selectors.milestone_get_for_user(request.user, escrow_id, milestone_id)
        data = parse(RequestChangesInput, request)
        milestone = services.milestone_request_changes(
            milestone=milestone, by=request.user, note=data.get("note") or ""
        )
        return Response(milestone_data(milestone, milestone.escrow))
