"""`/v1/webhooks` routes; included before escrows.api.urls, whose catch-all answers unknown paths."""

from django.urls import re_path

from escrows.api.common import ID

from .api import WebhookEndpointDetail, WebhookEndpoints

urlpatterns = [
    re_path(r"^webhooks$", WebhookEndpoints.as_view(), name="api_webhooks"),
    re_path(rf"^webhooks/(?P<endpoint_id>{ID})$", WebhookEndpointDetail.as_view(), name="api_webhook"),
]
