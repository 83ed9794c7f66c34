"""Page routes (the API has its own under /v1/)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("escrows/new/", views.escrow_new, name="escrow_new"),
    path("escrows/fee-quote/", views.fee_quote, name="fee_quote"),
    path("escrows/<str:public_id>/", views.escrow_detail, name="escrow_detail"),
    path("escrows/<str:public_id>/edit/", views.escrow_edit, name="escrow_edit"),
    path("escrows/<str:public_id>/cancel/", views.escrow_cancel, name="escrow_cancel"),
    path("escrows/<str:public_id>/refund/", views.escrow_refund, name="escrow_refund"),
    path("escrows/<str:public_id>/dispute/", views.escrow_dispute, name="escrow_dispute"),
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
