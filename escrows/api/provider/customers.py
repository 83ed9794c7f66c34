"""Customers (Payluk): a platform key creates the customers it may then act for."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import services as account_services
from accounts.authentication import key_owner
from core.errors import InvalidRequest

from ..common import StrictSerializer, Text, parse
from .base import ERRORS, ErrorOutput, ProviderAPIView, envelope, ok


class CustomerInput(StrictSerializer):
    firstname = Text(max_length=150, required=False, allow_null=True)
    lastname = Text(max_length=150, required=False, allow_null=True)
    email = serializers.EmailField(max_length=254)
    phone = Text(max_length=40, required=False, allow_null=True)


CustomerOutput = inline_serializer(
    "ProviderCustomer",
    {
        "id": serializers.CharField(),
        "customerId": serializers.CharField(),
        "firstname": serializers.CharField(),
        "lastname": serializers.CharField(),
        "email": serializers.EmailField(),
        "phone": serializers.CharField(),
    },
)


class CustomerCreate(ProviderAPIView):
    @extend_schema(
        operation_id="provider_customer_create",
        request=CustomerInput,
        responses={201: envelope("ProviderCustomerCreated", CustomerOutput), 409: ErrorOutput, **ERRORS},
        tags=["escrow-provider"],
        summary="A platform key creates a customer it may then act for (customer-id)",
    )
    def post(self, request: Request) -> Response:
        data = parse(CustomerInput, request)
        platform = key_owner(request)
        if request.user.pk != platform.pk:
            raise InvalidRequest("Create customers as the platform itself, without customer-id")
        customer = account_services.customer_create_for_platform(
            platform=platform,
            email=data["email"],
            first_name=data.get("firstname") or "",
            last_name=data.get("lastname") or "",
            phone=data.get("phone") or "",
        )
        return ok(
            "Customer created successfully",
            {
                "id": customer.customer_id,
                "customerId": customer.customer_id,
                "firstname": customer.first_name,
                "lastname": customer.last_name,
                "email": customer.email,
                "phone": customer.phone,
            },
            status.HTTP_201_CREATED,
        )
