"""Page routes (the API has its own under /v1/)."""

from django.urls import path

from .views import (
    balance,
    cancellations,
    change_orders,
    dashboard,
    disputes,
    escrows,
    funding,
    milestones,
    receipts,
    refunds,
    stripe_webhook,
)

urlpatterns = [
    path("", dashboard.home, name="home"),
    path("stripe/webhook", stripe_webhook.stripe_webhook, name="stripe_webhook"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("escrows/new/", escrows.escrow_new, name="escrow_new"),
    path("escrows/fee-quote/", escrows.fee_quote, name="fee_quote"),
    path("escrows/<str:public_id>/", escrows.escrow_detail, name="escrow_detail"),
    path("escrows/<str:public_id>/edit/", escrows.escrow_edit, name="escrow_edit"),
    path("escrows/<str:public_id>/cancel/", escrows.escrow_cancel, name="escrow_cancel"),
    path(
        "escrows/<str:public_id>/invitation/resend/",
        escrows.escrow_invitation_resend,
        name="escrow_invitation_resend",
    ),
    path("escrows/<str:public_id>/refund/", refunds.escrow_refund, name="escrow_refund"),
    path("escrows/<str:public_id>/dispute/", disputes.escrow_dispute, name="escrow_dispute"),
    path(
        "escrows/<str:public_id>/milestones/<str:milestone_id>/deliver/",
        milestones.milestone_deliver,
        name="milestone_deliver",
    ),
    path(
        "escrows/<str:public_id>/milestones/<str:milestone_id>/release/",
        milestones.milestone_release,
        name="milestone_release",
    ),
    path(
        "escrows/<str:public_id>/milestones/<str:milestone_id>/release-part/",
        milestones.milestone_release_part,
        name="milestone_release_part",
    ),
    # disputes and the evidence export
    path(
        "escrows/<str:public_id>/disputes/<str:dispute_id>/",
        disputes.dispute_detail,
        name="dispute_detail",
    ),
    path(
        "escrows/<str:public_id>/disputes/<str:dispute_id>/evidence/",
        disputes.dispute_add_evidence,
        name="dispute_add_evidence",
    ),
    path(
        "escrows/<str:public_id>/disputes/<str:dispute_id>/evidence/<str:evidence_id>/file",
        disputes.dispute_evidence_file,
        name="dispute_evidence_file",
    ),
    path(
        "escrows/<str:public_id>/disputes/<str:dispute_id>/answer/",
        disputes.dispute_answer,
        name="dispute_answer",
    ),
    path(
        "escrows/<str:public_id>/disputes/<str:dispute_id>/withdraw/",
        disputes.dispute_withdraw,
        name="dispute_withdraw",
    ),
    path(
        "escrows/<str:public_id>/disputes/<str:dispute_id>/resolve/",
        disputes.dispute_resolve,
        name="dispute_resolve",
    ),
    path("escrows/<str:public_id>/evidence/", disputes.evidence_export_html, name="evidence_export"),
    path("escrows/<str:public_id>/receipts/<int:number>/", receipts.receipt, name="receipt"),
    path("escrows/<str:public_id>/receipts/<int:number>.pdf", receipts.receipt_pdf, name="receipt_pdf"),
    path(
        "escrows/<str:public_id>/evidence.json",
        disputes.evidence_export_json,
        name="evidence_export_json",
    ),
    path("staff/disputes/", disputes.staff_disputes, name="staff_disputes"),
    # refunds and mutual cancellation
    path("escrows/<str:public_id>/refunds/", refunds.milestones_refund, name="milestones_refund"),
    path(
        "escrows/<str:public_id>/refund-requests/new/",
        refunds.refund_request_new,
        name="refund_request_new",
    ),
    path(
        "escrows/<str:public_id>/refund-requests/<str:request_id>/accept/",
        refunds.refund_request_accept,
        name="refund_request_accept",
    ),
    path(
        "escrows/<str:public_id>/refund-requests/<str:request_id>/decline/",
        refunds.refund_request_decline,
        name="refund_request_decline",
    ),
    path(
        "escrows/<str:public_id>/refund-requests/<str:request_id>/withdraw/",
        refunds.refund_request_withdraw,
        name="refund_request_withdraw",
    ),
    path(
        "escrows/<str:public_id>/cancellation/new/", cancellations.cancellation_new, name="cancellation_new"
    ),
    path(
        "escrows/<str:public_id>/cancellation/<str:proposal_id>/accept/",
        cancellations.cancellation_accept,
        name="cancellation_accept",
    ),
    path(
        "escrows/<str:public_id>/cancellation/<str:proposal_id>/decline/",
        cancellations.cancellation_decline,
        name="cancellation_decline",
    ),
    path(
        "escrows/<str:public_id>/cancellation/<str:proposal_id>/withdraw/",
        cancellations.cancellation_withdraw,
        name="cancellation_withdraw",
    ),
    path(
        "escrows/<str:public_id>/milestones/<str:milestone_id>/extend-review/",
        milestones.milestone_extend_review,
        name="milestone_extend_review",
    ),
    path(
        "escrows/<str:public_id>/milestones/<str:milestone_id>/request-changes/",
        milestones.milestone_request_changes,
        name="milestone_request_changes",
    ),
    # change orders on a funded escrow
    path("escrows/<str:public_id>/changes/new/", change_orders.change_order_new, name="change_order_new"),
    path(
        "escrows/<str:public_id>/changes/<str:proposal_id>/accept/",
        change_orders.change_order_accept,
        name="change_order_accept",
    ),
    path(
        "escrows/<str:public_id>/changes/<str:proposal_id>/decline/",
        change_orders.change_order_decline,
        name="change_order_decline",
    ),
    path(
        "escrows/<str:public_id>/changes/<str:proposal_id>/withdraw/",
        change_orders.change_order_withdraw,
        name="change_order_withdraw",
    ),
    path("pay/<str:payment_token>", funding.pay, name="pay"),
    path("pay/<str:payment_token>/card/return", funding.pay_card_return, name="pay_card_return"),
    path("balance/", balance.balance, name="balance"),
    path("balance/statement.csv", balance.balance_statement_csv, name="balance_statement_csv"),
    path("balance/topup/", funding.balance_topup, name="balance_topup"),
    path("balance/withdraw/", balance.balance_withdraw, name="balance_withdraw"),
    path("balance/stripe/connect/", balance.balance_stripe_connect, name="balance_stripe_connect"),
    path("balance/stripe/refresh/", balance.balance_stripe_refresh, name="balance_stripe_refresh"),
    path("balance/stripe/return/", balance.balance_stripe_return, name="balance_stripe_return"),
]
