"""Every route under /v1/. Unknown paths get the surface's own JSON 404."""

from django.conf import settings
from django.urls import re_path
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from . import beyond_clock, escrow_list, provider, schema  # noqa: F401 -- registers the auth schemes
from . import beyond_disputes as bd
from . import beyond_refunds as refunds
from . import payment_intents as pi
from .common import ID, unknown_route

urlpatterns = [
    # Payment-intents surface (seeds 000-003)
    re_path(r"^payment-intents$", pi.PaymentIntentCreate.as_view(), name="api_intent_create"),
    re_path(rf"^payment-intents/(?P<intent_id>{ID})$", pi.PaymentIntentDetail.as_view(), name="api_intent"),
    re_path(
        rf"^payment-intents/(?P<intent_id>{ID})/escrow/milestones$",
        pi.IntentMilestones.as_view(),
        name="api_intent_milestones",
    ),
    re_path(
        rf"^payment-intents/(?P<intent_id>{ID})/escrow/milestones/(?P<milestone_id>{ID})/complete$",
        pi.MilestoneComplete.as_view(),
        name="api_intent_milestone_complete",
    ),
    # Escrow-provider surface (seed 004)
    re_path(
        r"^escrow/milestone/create$", provider.MilestoneEscrowCreate.as_view(), name="api_provider_create"
    ),
    re_path(
        rf"^escrow/milestone/edit/(?P<payment_token>{ID})$",
        provider.MilestoneEscrowEdit.as_view(),
        name="api_provider_edit",
    ),
    re_path(
        rf"^escrow/milestone/confirm/(?P<escrow_id>{ID})/(?P<milestone_id>{ID})$",
        provider.MilestoneConfirm.as_view(),
        name="api_provider_confirm",
    ),
    re_path(
        rf"^escrow/milestone/(?P<payment_token>{ID})$",
        provider.MilestoneList.as_view(),
        name="api_provider_milestones",
    ),
    re_path(r"^escrow/list$", escrow_list.EscrowList.as_view(), name="api_escrow_list"),
    re_path(r"^payment/escrow$", provider.PayEscrow.as_view(), name="api_provider_pay"),
    re_path(r"^payment/topup$", provider.WalletTopup.as_view(), name="api_provider_topup"),
    re_path(r"^customer/create$", provider.CustomerCreate.as_view(), name="api_provider_customer_create"),
    # Disputes and the evidence export (issue 7)
    re_path(rf"^escrows/(?P<escrow_id>{ID})/disputes$", bd.EscrowDisputes.as_view(), name="api_disputes"),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/disputes/(?P<dispute_id>{ID})$",
        bd.DisputeDetail.as_view(),
        name="api_dispute",
    ),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/disputes/(?P<dispute_id>{ID})/evidence$",
        bd.DisputeEvidenceCreate.as_view(),
        name="api_dispute_evidence",
    ),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/disputes/(?P<dispute_id>{ID})/answer$",
        bd.DisputeAnswerView.as_view(),
        name="api_dispute_answer",
    ),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/disputes/(?P<dispute_id>{ID})/withdraw$",
        bd.DisputeWithdrawView.as_view(),
        name="api_dispute_withdraw",
    ),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/disputes/(?P<dispute_id>{ID})/resolve$",
        bd.DisputeResolveView.as_view(),
        name="api_dispute_resolve",
    ),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/evidence$", bd.EvidenceExport.as_view(), name="api_evidence_export"
    ),
    # Refunds and mutual cancellation (issue 7)
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/refunds$", refunds.EscrowRefunds.as_view(), name="api_escrow_refunds"
    ),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/refund-requests$",
        refunds.RefundRequests.as_view(),
        name="api_refund_requests",
    ),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/refund-requests/(?P<request_id>{ID})/accept$",
        refunds.RefundRequestAccept.as_view(),
        name="api_refund_request_accept",
    ),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/refund-requests/(?P<request_id>{ID})/decline$",
        refunds.RefundRequestDecline.as_view(),
        name="api_refund_request_decline",
    ),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/refund-requests/(?P<request_id>{ID})/withdraw$",
        refunds.RefundRequestWithdraw.as_view(),
        name="api_refund_request_withdraw",
    ),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/cancellation-proposals$",
        refunds.CancellationProposals.as_view(),
        name="api_cancellation_proposals",
    ),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/cancellation-proposals/(?P<proposal_id>{ID})/accept$",
        refunds.CancellationAccept.as_view(),
        name="api_cancellation_accept",
    ),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/cancellation-proposals/(?P<proposal_id>{ID})/decline$",
        refunds.CancellationDecline.as_view(),
        name="api_cancellation_decline",
    ),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/cancellation-proposals/(?P<proposal_id>{ID})/withdraw$",
        refunds.CancellationWithdraw.as_view(),
        name="api_cancellation_withdraw",
    ),
    # Review clock and fee quote (docs/disputes-and-refunds.md)
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/milestones/(?P<milestone_id>{ID})/extend-review$",
        beyond_clock.MilestoneExtendReview.as_view(),
        name="api_milestone_extend_review",
    ),
    re_path(r"^fee-quote$", beyond_clock.FeeQuoteView.as_view(), name="api_fee_quote"),
    # Schema and docs (Swagger UI and Redoc served from static files: drf-spectacular-sidecar)
    re_path(r"^schema$", SpectacularAPIView.as_view(), name="api_schema"),
    # The split view serves Swagger UI's start-up script as a file: the policy allows no inline one.
    re_path(
        r"^docs$",
        csp_override(settings.API_DOCS_CSP)(SpectacularSwaggerSplitView.as_view(url_name="api_schema")),
        name="api_docs",
    ),
    re_path(
        r"^redoc$",
        csp_override(settings.API_DOCS_CSP)(
            SpectacularRedocView.as_view(url_name="api_schema", template_name="api/redoc.html")
        ),
        name="api_redoc",
    ),
    # [\s\S]: a path may carry a decoded newline; it must still get the JSON 404, not Django's
    # HTML one. (A (?s) flag would do the same but makes every reverse() raise "Non-reversible
    # reg-exp portion".)
    re_path(r"^(?:escrow|payment|customer)(?:/[\s\S]*)?$", unknown_route(provider.exception_handler)),
    re_path(r"^[\s\S]*$", unknown_route(pi.exception_handler)),
]
