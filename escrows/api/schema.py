"""OpenAPI: our authentication classes (registered when escrows.api.urls imports this) and the
common headers."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter


class APIKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.APIKeyAuthentication"
    match_subclasses = True  # the API's own (escrows.api.common)
    name = ["ApiKeyHeader", "BearerKey"]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        return [
            {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            {"type": "http", "scheme": "bearer", "bearerFormat": "sk_test_…"},
        ]


class CustomerSessionScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.CustomerSessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


class APIAutoSchema(AutoSchema):
    """Documents the headers every operation understands."""

    def get_override_parameters(self) -> list[Any]:
        params = [
            OpenApiParameter(
                "customer-id",
                str,
                OpenApiParameter.HEADER,
                description="Act for this customer: a platform key may name the customers it created.",
            )
        ]
        if self.method in ("POST", "PUT"):
            params.append(
                OpenApiParameter(
                    "Idempotency-Key",
                    str,
                    OpenApiParameter.HEADER,
                    description=(
                        "Same key + same body replays the stored response for 24 h "
                        "(Idempotent-Replayed: true); another body is 422; in flight is 409."
                    ),
                )
            )
        return [*super().get_override_parameters(), *params]
