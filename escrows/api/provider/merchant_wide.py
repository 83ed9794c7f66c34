"""Routes a platform calls for itself about all its customers (managing them, and the other
merchant-wide routes Payluk publishes): acting for one customer makes no sense there, so the
`customer-id` header is refused in Payluk's words once the key is known good."""

from typing import Any

from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

from accounts.authentication import CUSTOMER_ID_HEADER
from core.errors import Forbidden, InvalidRequest

from ..schema import APIAutoSchema
from .base import ProviderAPIView

CUSTOMER_ID_NOT_ALLOWED = "customer-id is not allowed in request header"


class MerchantWideSchema(APIAutoSchema):
    """The `customer-id` header documented as refused here."""

    def get_override_parameters(self) -> list[Any]:
        params = [
            p
            for p in super().get_override_parameters()
            if not (isinstance(p, OpenApiParameter) and p.name == "customer-id")
        ]
        refused = OpenApiParameter(
            "customer-id",
            str,
            OpenApiParameter.HEADER,
            description=f'Not allowed on this route: 400 "{CUSTOMER_ID_NOT_ALLOWED}".',
        )
        return [*params, refused]


class MerchantWideAPIView(ProviderAPIView):
    schema = MerchantWideSchema()

    def perform_authentication(self, request: Request) -> None:
        # After the key is checked (a bad one is still 401, a customer-id naming nobody the
        # platform has still 404), before anything else.
        super().perform_authentication(request)
        if request.user.is_authenticated and (request.META.get(CUSTOMER_ID_HEADER) or "").strip():
            raise InvalidRequest(CUSTOMER_ID_NOT_ALLOWED, code="customer_id_not_allowed", field="customer-id")


def require_platform(user: Any, doing: str) -> None:
    """Only a platform account has customers to manage."""
    if not user.is_platform:
        raise Forbidden(f"Only platform accounts can {doing}", code="not_platform")
