from django.urls import path

from . import views

urlpatterns = [
    path("settings/webhooks/", views.webhooks_page, name="webhooks"),
    path("settings/webhooks/<str:public_id>/", views.webhook_detail, name="webhook_detail"),
    path("settings/webhooks/<str:public_id>/toggle", views.webhook_toggle, name="webhook_toggle"),
    path("settings/webhooks/<str:public_id>/delete", views.webhook_delete, name="webhook_delete"),
    path(
        "settings/webhooks/deliveries/<str:public_id>/resend",
        views.webhook_delivery_resend,
        name="webhook_delivery_resend",
    ),
]
