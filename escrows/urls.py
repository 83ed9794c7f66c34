"""Page routes (the API has its own under /v1/)."""

from django.urls import path

from . import dispute_views, views, views_refunds

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("escrows/new/", views.escrow_new, name="escrow_new"),
    path("escrows/fee-quote/", views.fee_quote, name="fee_quote"),
    path("escrows/<str:public_id>/", views.escrow_detail, name="escrow_detail"),
    path("escrows/<str:public_id>/edit/", views.escrow_edit, name="escrow_edit"),
    path("escrows/<str:public_id>/cancel/", views.escrow_cancel, name="escrow_cancel"),
    path("escrows/<str:public_id>/refund/", views.escrow_refund, name="escrow_refund"),
    path("escrows/<str:public_id>/dispute/", dispute_views.escrow_dispute, name="escrow_dispute"),
    path(
        "escrows/<str:public_id>/milestones/<str:milestone_id>/deliver/",
        views.milestone_deliver,
        name="milestone_deliver",
    ),
    path(
        "escrows/<str:public_id>/milestones/<str:milestone_id>/release/",
        views.milestone_release,
        name="milestone_release",
    ),
    # Disputes and the evidence export (issue 7)
    path(
        "escrows/<str:public_id>/disputes/<str:dispute_id>/",
        dispute_views.dispute_detail,
        name="dispute_detail",
    ),
    path(
        "escrows/<str:public_id>/disputes/<str:dispute_id>/evidence/",
        dispute_views.dispute_add_evidence,
        name="dispute_add_evidence",
    ),
    path(
        "escrows/<str:public_id>/disputes/<str:dispute_id>/evidence/<str:evidence_id>/file",
        dispute_views.dispute_evidence_file,
        name="dispute_evidence_file",
    ),
    path(
        "escrows/<str:public_id>/disputes/<str:dispute_id>/answer/",
        dispute_views.dispute_answer,
        name="dispute_answer",
    ),
    path(
        "escrows/<str:public_id>/disputes/<str:dispute_id>/withdraw/",
        dispute_views.dispute_withdraw,
        name="dispute_withdraw",
    ),
    path(
        "escrows/<str:public_id>/disputes/<str:dispute_id>/resolve/",
        dispute_views.dispute_resolve,
        name="dispute_resolve",
    ),
    path("escrows/<str:public_id>/evidence/", dispute_views.evidence_export_html, name="evidence_export"),
    path(
        "escrows/<str:public_id>/evidence.json",
        dispute_views.evidence_export_json,
        name="evidence_export_json",
    ),
    path("staff/disputes/", dispute_views.staff_disputes, name="staff_disputes"),
    # refunds and mutual cancellation
    path("escrows/<str:public_id>/refunds/", views_refunds.milestones_refund, name="milestones_refund"),
    path(
        "escrows/<str:public_id>/refund-requests/new/",
        views_refunds.refund_request_new,
        name="refund_request_new",
    ),
    path(
        "escrows/<str:public_id>/refund-requests/<str:request_id>/accept/",
        views_refunds.refund_request_accept,
        name="refund_request_accept",
    ),
    path(
        "escrows/<str:public_id>/refund-requests/<str:request_id>/decline/",
        views_refunds.refund_request_decline,
        name="refund_request_decline",
    ),
    path(
        "escrows/<str:public_id>/refund-requests/<str:request_id>/withdraw/",
        views_refunds.refund_request_withdraw,
        name="refund_request_withdraw",
    ),
    path(
        "escrows/<str:public_id>/cancellation/new/", views_refunds.cancellation_new, name="cancellation_new"
    ),
    path(
        "escrows/<str:public_id>/cancellation/<str:proposal_id>/accept/",
        views_refunds.cancellation_accept,
        name="cancellation_accept",
    ),
    path(
        "escrows/<str:public_id>/cancellation/<str:proposal_id>/decline/",
        views_refunds.cancellation_decline,
        name="cancellation_decline",
    ),
    path(
        "escrows/<str:public_id>/cancellation/<str:proposal_id>/withdraw/",
        views_refunds.cancellation_withdraw,
        name="cancellation_withdraw",
    ),
    path(
        "escrows/<str:public_id>/milestones/<str:milestone_id>/extend-review/",
        views.milestone_extend_review,
        name="milestone_extend_review",
    ),
    path("pay/<str:payment_token>", views.pay, name="pay"),
    path("balance/", views.balance, name="balance"),
    path("balance/topup/", views.balance_topup, name="balance_topup"),
    path("balance/withdraw/", views.balance_withdraw, name="balance_withdraw"),
]
