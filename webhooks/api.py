"""`/v1/webhooks`: list, register and delete webhook endpoints over the API, with the
payment-intents surface's auth, idempotency and error envelope. Writes go through services."""

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.types import AuthenticatedRequest
from escrows.api.common import StrictSerializer, Text, iso, parse
from escrows.api.payment_intents.base import ERRORS, IntentAPIView

from . import formats, selectors, services
from .models import WebhookEndpoint, WebhookFormat


def endpoint_data(endpoint: WebhookEndpoint, *, with_secret: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": endpoint.public_id,
        "object": "webhook_endpoint",
        "url": endpoint.url,
        "description": endpoint.description,
        "enabled": endpoint.enabled,
        "format": endpoint.format,
        "eventTypes": list(formats.event_types(endpoint.format)),
        "createdAt": iso(endpoint.created_at),
    }
    if with_secret:
        data["secret"] = endpoint.secret
    return data


@extend_schema_field({"type": "string", "enum": WebhookFormat.values, "default": WebhookFormat.NATIVE.value})
class FormatText(Text):
    """A format's name. Any string is taken in: the service refuses one that is not a format,
    naming the choices."""


class EndpointOutput(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    url = serializers.URLField()
    description = serializers.CharField()
    enabled = serializers.BooleanField()
    format = FormatText()
    eventTypes = serializers.ListField(child=serializers.CharField())  # noqa: N815
    createdAt = serializers.DateTimeField()  # noqa: N815
    secret = serializers.CharField(required=False, help_text="Only in the answer to the POST")


class EndpointCreateInput(StrictSerializer):
    url = Text(max_length=2000, required=True)
    description = Text(max_length=200, required=False, allow_null=True)
    format = FormatText(
        required=False,
        allow_null=True,
        help_text="What the endpoint receives: native (this server's events, the default), payluk "
        "(Payluk's envelope, event names and x-payluk-signature) or finternet (Finternet's, with "
        "finternet-signature).",
    )


class WebhookEndpoints(IntentAPIView):
    @extend_schema(
        operation_id="webhook_endpoint_list",
        responses={
            200: inline_serializer(
                "WebhookEndpointList",
                {"object": serializers.CharField(), "data": EndpointOutput(many=True)},
            ),
            **ERRORS,
        },
        tags=["webhooks"],
        summary="List your webhook endpoints",
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        endpoints = selectors.endpoints_for_user(request.user)
        return Response({"object": "list", "data": [endpoint_data(e) for e in endpoints]})

    @extend_schema(
        operation_id="webhook_endpoint_create",
        request=EndpointCreateInput,
        responses={201: EndpointOutput, **ERRORS},
        tags=["webhooks"],
        summary="Register a webhook endpoint (the answer carries its signing secret)",
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = parse(EndpointCreateInput, request)
        endpoint = services.webhook_endpoint_create(
            customer=request.user,
            url=data["url"],
            description=data.get("description") or "",
            format=WebhookFormat.NATIVE if data.get("format") is None else data["format"],
        )
        return Response(endpoint_data(endpoint, with_secret=True), status=status.HTTP_201_CREATED)


class WebhookEndpointDetail(IntentAPIView):
    @extend_schema(
        operation_id="webhook_endpoint_delete",
        responses={
            200: inline_serializer(
                "WebhookEndpointDeleted",
                {
                    "id": serializers.CharField(),
                    "object": serializers.CharField(),
                    "deleted": serializers.BooleanField(),
                },
            ),
            **ERRORS,
        },
        tags=["webhooks"],
        summary="Delete a webhook endpoint",
    )
    def delete(self, request: AuthenticatedRequest, endpoint_id: str) -> Response:
        endpoint = selectors.endpoint_get_for_user(request.user, endpoint_id)
        services.webhook_endpoint_delete(endpoint=endpoint, by=request.user)
        return Response({"id": endpoint_id, "object": "webhook_endpoint", "deleted": True})
