"""Every route under /v1/. Unknown paths get the surface's own JSON 404."""

from django.conf import settings
from django.urls import re_path
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from . import schema  # noqa: F401 -- registers the auth schemes
from .common import ID, unknown_route
from .payment_intents import base as intents_base
from .payment_intents import (
    cancellations,
    change_orders,
    conditional_payments,
    disputes,
    fees,
    intents,
    milestones,
    refunds,
    review_clock,
)
from .provider import base as provider_base
from .provider import customers, escrow_list, escrows, not_offered, payments, standard, transactions, wallet
from .provider import disputes as provider_disputes

# The first segment of every path of Payluk's surface: an unknown path under one gets its 404.
PROVIDER_PREFIXES = (
    "escrow",
    "payment",
    "customer",
    "customers",
    "wallet",
    "card",
    "cards",
    "whitelist-address",
    "checkout",
    "countries",
    "merchant",
)

urlpatterns = [
    # Payment intents (Finternet's API)
    re_path(r"^payment-intents$", intents.PaymentIntentCreate.as_view(), name="api_intent_create"),
    re_path(
        rf"^payment-intents/(?P<intent_id>{ID})$", intents.PaymentIntentDetail.as_view(), name="api_intent"
    ),
    re_path(
        rf"^payment-intents/(?P<intent_id>{ID})/escrow/milestones$",
        milestones.IntentMilestones.as_view(),
        name="api_intent_milestones",
    ),
    re_path(
        rf"^payment-intents/(?P<intent_id>{ID})/escrow/milestones/(?P<milestone_id>{ID})/complete$",
        milestones.MilestoneComplete.as_view(),
        name="api_intent_milestone_complete",
    ),
    # The conditional payment of a paid intent, on both of Finternet's paths
    re_path(
        rf"^payment-intents/(?P<intent_id>{ID})/conditional-payment$",
        conditional_payments.ConditionalPaymentRead.as_view(),
        name="api_conditional_payment",
    ),
    re_path(
        rf"^payment-intents/(?P<intent_id>{ID})/escrow$",
        conditional_payments.EscrowOrderRead.as_view(),
        name="api_escrow_order",
    ),
    re_path(
        rf"^payment-intents/(?P<intent_id>{ID})/conditional-payment/delivery-proof$",
        conditional_payments.ConditionalPaymentDeliveryProof.as_view(),
        name="api_conditional_payment_delivery_proof",
    ),
    re_path(
        rf"^payment-intents/(?P<intent_id>{ID})/escrow/delivery-proof$",
        conditional_payments.EscrowOrderDeliveryProof.as_view(),
        name="api_escrow_order_delivery_proof",
    ),
    re_path(
        rf"^payment-intents/(?P<intent_id>{ID})/conditional-payment/dispute$",
        conditional_payments.ConditionalPaymentDispute.as_view(),
        name="api_conditional_payment_dispute",
    ),
    re_path(
        rf"^payment-intents/(?P<intent_id>{ID})/escrow/dispute$",
        conditional_payments.EscrowOrderDispute.as_view(),
        name="api_escrow_order_dispute",
    ),
    re_path(
        rf"^payment-intents/public/(?P<intent_id>{ID})$",
        intents.PublicPaymentIntent.as_view(),
        name="api_intent_public",
    ),
    # Finternet's on-chain routes: a 403 saying this server does not offer them
    re_path(
        rf"^payment-intents/(?P<intent_id>{ID})/confirm$",
        conditional_payments.ConfirmNotOffered.as_view(),
        name="api_intent_confirm_not_offered",
    ),
    re_path(
        rf"^payment-intents/public/(?P<intent_id>{ID})/transaction-hash$",
        conditional_payments.TransactionHashNotOffered.as_view(),
        name="api_intent_transaction_hash_not_offered",
    ),
    # Escrows, payments and customers (Payluk's API)
    re_path(
        r"^escrow/milestone/create$", escrows.MilestoneEscrowCreate.as_view(), name="api_provider_create"
    ),
    re_path(
        rf"^escrow/milestone/edit/(?P<payment_token>{ID})$",
        escrows.MilestoneEscrowEdit.as_view(),
        name="api_provider_edit",
    ),
    re_path(
        rf"^escrow/milestone/confirm/(?P<escrow_id>{ID})/(?P<milestone_id>{ID})$",
        escrows.MilestoneConfirm.as_view(),
        name="api_provider_confirm",
    ),
    re_path(
        rf"^escrow/milestone/(?P<payment_token>{ID})$",
        escrows.MilestoneList.as_view(),
        name="api_provider_milestones",
    ),
    re_path(r"^escrow/list$", escrow_list.EscrowList.as_view(), name="api_escrow_list"),
    re_path(r"^payment/escrow$", payments.PayEscrow.as_view(), name="api_provider_pay"),
    re_path(r"^payment/topup$", payments.WalletTopup.as_view(), name="api_provider_topup"),
    re_path(r"^customer/create$", customers.CustomerCreate.as_view(), name="api_provider_customer_create"),
    re_path(r"^customers$", customers.CustomerList.as_view(), name="api_provider_customers"),
    re_path(
        rf"^customer/get/(?P<customer_id>{ID})$",
        customers.CustomerDetail.as_view(),
        name="api_provider_customer",
    ),
    re_path(
        rf"^customer/permissions/(?P<customer_id>{ID})$",
        customers.CustomerPermissions.as_view(),
        name="api_provider_customer_permissions",
    ),
    re_path(
        rf"^customer/block/(?P<customer_id>{ID})$",
        customers.CustomerBlock.as_view(),
        name="api_provider_customer_block",
    ),
    re_path(
        rf"^customer/unblock/(?P<customer_id>{ID})$",
        customers.CustomerUnblock.as_view(),
        name="api_provider_customer_unblock",
    ),
    re_path(r"^wallet$", wallet.Wallet.as_view(), name="api_provider_wallet"),
    re_path(
        r"^escrow/transactions$",
        transactions.EscrowTransactions.as_view(),
        name="api_provider_transactions",
    ),
    # Standard escrows and disputes (Payluk's API)
    re_path(r"^escrow/create$", standard.StandardEscrowCreate.as_view(), name="api_provider_escrow_create"),
    re_path(
        rf"^escrow/edit/(?P<payment_token>{ID})$",
        standard.StandardEscrowEdit.as_view(),
        name="api_provider_escrow_edit",
    ),
    re_path(
        rf"^escrow/delete/(?P<payment_token>{ID})$",
        standard.EscrowDelete.as_view(),
        name="api_provider_escrow_delete",
    ),
    re_path(
        rf"^escrow/verify/(?P<payment_token>{ID})$",
        standard.EscrowVerify.as_view(),
        name="api_provider_escrow_verify",
    ),
    re_path(
        rf"^escrow/claim-funds/(?P<payment_token>{ID})$",
        standard.EscrowClaimFunds.as_view(),
        name="api_provider_claim_funds",
    ),
    re_path(
        rf"^escrow/confirm-payment/(?P<escrow_id>{ID})$",
        standard.ConfirmPayment.as_view(),
        name="api_provider_confirm_payment",
    ),
    re_path(
        rf"^escrow/milestone/convert/(?P<payment_token>{ID})$",
        standard.MilestoneConvert.as_view(),
        name="api_provider_convert",
    ),
    re_path(
        rf"^escrow/image/(?P<image_id>{ID})$", standard.EscrowImageFile.as_view(), name="api_provider_image"
    ),
    re_path(
        rf"^escrow/submit-dispute/(?P<payment_token>{ID})$",
        provider_disputes.SubmitDispute.as_view(),
        name="api_provider_dispute_submit",
    ),
    re_path(r"^escrow/dispute/get$", provider_disputes.MyDisputes.as_view(), name="api_provider_disputes"),
    re_path(
        rf"^escrow/dispute/get/(?P<escrow_id>{ID})$",
        provider_disputes.DisputeOfEscrow.as_view(),
        name="api_provider_dispute_of_escrow",
    ),
    re_path(
        rf"^escrow/dispute/resolve/(?P<escrow_id>{ID})$",
        provider_disputes.ResolveDispute.as_view(),
        name="api_provider_dispute_resolve",
    ),
    re_path(
        r"^escrow/all-dispute$", provider_disputes.AllDisputes.as_view(), name="api_provider_all_disputes"
    ),
    re_path(r"^escrow/feeds$", provider_disputes.Feeds.as_view(), name="api_provider_feeds"),
    # Disputes and the evidence export (payment-intents conventions)
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/disputes$", disputes.EscrowDisputes.as_view(), name="api_disputes"
    ),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/disputes/(?P<dispute_id>{ID})$",
        disputes.DisputeDetail.as_view(),
        name="api_dispute",
    ),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/disputes/(?P<dispute_id>{ID})/evidence$",
        disputes.DisputeEvidenceCreate.as_view(),
        name="api_dispute_evidence",
    ),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/disputes/(?P<dispute_id>{ID})/answer$",
        disputes.DisputeAnswerView.as_view(),
        name="api_dispute_answer",
    ),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/disputes/(?P<dispute_id>{ID})/withdraw$",
        disputes.DisputeWithdrawView.as_view(),
        name="api_dispute_withdraw",
    ),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/disputes/(?P<dispute_id>{ID})/resolve$",
        disputes.DisputeResolveView.as_view(),
        name="api_dispute_resolve",
    ),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/evidence$",
        disputes.EvidenceExport.as_view(),
        name="api_evidence_export",
    ),
    # Refunds and mutual cancellation (payment-intents conventions)
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
        cancellations.CancellationProposals.as_view(),
        name="api_cancellation_proposals",
    ),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/cancellation-proposals/(?P<proposal_id>{ID})/accept$",
        cancellations.CancellationAccept.as_view(),
        name="api_cancellation_accept",
    ),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/cancellation-proposals/(?P<proposal_id>{ID})/decline$",
        cancellations.CancellationDecline.as_view(),
        name="api_cancellation_decline",
    ),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/cancellation-proposals/(?P<proposal_id>{ID})/withdraw$",
        cancellations.CancellationWithdraw.as_view(),
        name="api_cancellation_withdraw",
    ),
    # Change orders on a funded escrow (payment-intents conventions)
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/change-orders$",
        change_orders.ChangeOrders.as_view(),
        name="api_change_orders",
    ),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/change-orders/(?P<change_order_id>{ID})/accept$",
        change_orders.ChangeOrderAccept.as_view(),
        name="api_change_order_accept",
    ),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/change-orders/(?P<change_order_id>{ID})/decline$",
        change_orders.ChangeOrderDecline.as_view(),
        name="api_change_order_decline",
    ),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/change-orders/(?P<change_order_id>{ID})/withdraw$",
        change_orders.ChangeOrderWithdraw.as_view(),
        name="api_change_order_withdraw",
    ),
    # Review clock and fee quote (docs/disputes-and-refunds.md)
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/milestones/(?P<milestone_id>{ID})/extend-review$",
        review_clock.MilestoneExtendReview.as_view(),
        name="api_milestone_extend_review",
    ),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/milestones/(?P<milestone_id>{ID})/request-changes$",
        review_clock.MilestoneRequestChanges.as_view(),
        name="api_milestone_request_changes",
    ),
    re_path(
        rf"^escrows/(?P<escrow_id>{ID})/milestones/(?P<milestone_id>{ID})/release$",
        milestones.MilestoneRelease.as_view(),
        name="api_milestone_release",
    ),
    re_path(r"^fee-quote$", fees.FeeQuoteView.as_view(), name="api_fee_quote"),
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
    # Payluk's published routes this server does not offer: a 4xx saying so (provider/not_offered.py).
    *not_offered.urlpatterns(),
    # [\s\S]: a path may carry a decoded newline; it must still get the JSON 404, not Django's
    # HTML one. (A (?s) flag would do the same but makes every reverse() raise "Non-reversible
    # reg-exp portion".)
    re_path(
        rf"^(?:{'|'.join(PROVIDER_PREFIXES)})(?:/[\s\S]*)?$",
        unknown_route(provider_base.exception_handler),
    ),
    re_path(r"^[\s\S]*$", unknown_route(intents_base.exception_handler)),
]
