"""Customers (Payluk): a platform key creates the customers it may then act for (`customer-id`),
lists and reads them, sets what each may do (buy, sell) and blocks or unblocks them. These are
the platform's own routes: they refuse `customer-id` (merchant_wide)."""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.models import User
from accounts.types import AuthenticatedRequest
from core.errors import InvalidRequest

from ..common import StrictSerializer, Text, iso, parse
from .base import ERRORS, ErrorOutput, envelope, ok
from .merchant_wide import MerchantWideAPIView, require_platform
from .paging import PAGE_PARAMETERS, Page, paged

FETCHED = "Customers fetched successfully"
STATUS_UPDATED = "Customers status updated successfully"
# Named as the URL names it (`{customer_id}`, escrows/api/urls.py): a differently named one would be
# a second, placeholder-less path parameter in the schema.
CUSTOMER_PATH = [
    OpenApiParameter("customer_id", str, OpenApiParameter.PATH, description="The customer's id (cus_…)")
]
TAGS = ["escrow-provider"]


class CustomerInput(StrictSerializer):
    firstname = Text(max_length=150, required=False, allow_null=True)
    lastname = Text(max_length=150, required=False, allow_null=True)
    email = serializers.EmailField(max_length=254)
    phone = Text(max_length=40, required=False, allow_null=True)
    # Payluk's newer body names the customer's country and BVN; we keep neither (docs/api.md).
    countryId = Text(max_length=100, required=False, allow_null=True)  # noqa: N815
    bvn = Text(max_length=20, required=False, allow_null=True)


def customer_data(customer: User) -> dict[str, Any]:
    """The customer object every customer route answers with."""
    return {
        "id": customer.customer_id,
        "customerId": customer.customer_id,
        "firstname": customer.first_name,
        "lastname": customer.last_name,
        "email": customer.email,
        "phone": customer.phone,
        "canBuy": customer.can_buy,
        "canSell": customer.can_sell,
        "status": status_of(customer),
        "createdAt": iso(customer.date_joined),
    }


# A customer's status as Payluk shows it (one enum in the schema: ENUM_NAME_OVERRIDES).
CUSTOMER_STATUSES = ("active", "blocked")


def status_of(customer: User) -> str:
    return "blocked" if customer.is_blocked else "active"


CustomerOutput = inline_serializer(
    "ProviderCustomer",
    {
        "id": serializers.CharField(),
        "customerId": serializers.CharField(),
        "firstname": serializers.CharField(),
        "lastname": serializers.CharField(),
        "email": serializers.EmailField(),
        "phone": serializers.CharField(),
        "canBuy": serializers.BooleanField(help_text="May pay escrows as buyer"),
        "canSell": serializers.BooleanField(help_text="May create escrows as seller"),
        "status": serializers.ChoiceField(choices=CUSTOMER_STATUSES),
        "createdAt": serializers.DateTimeField(),
    },
)


class CustomerCreate(MerchantWideAPIView):
    @extend_schema(
        operation_id="provider_customer_create",
        request=CustomerInput,
        responses={201: envelope("ProviderCustomerCreated", CustomerOutput), 409: ErrorOutput, **ERRORS},
        tags=TAGS,
        summary="A platform key creates a customer it may then act for (customer-id)",
        description="`countryId` and `bvn` are accepted and not kept.",
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = parse(CustomerInput, request)
        customer = account_services.customer_create_for_platform(
            platform=request.user,
            email=data["email"],
            first_name=data.get("firstname") or "",
            last_name=data.get("lastname") or "",
            phone=data.get("phone") or "",
        )
        return ok("Customer created successfully", customer_data(customer), status.HTTP_201_CREATED)


class CustomerList(MerchantWideAPIView):
    @extend_schema(
        operation_id="provider_customer_list",
        parameters=[
            *PAGE_PARAMETERS,
            OpenApiParameter("email", str, description="Only the customer with this email"),
            OpenApiParameter("phone", str, description="Only the customer with this phone number"),
        ],
        responses={
            200: envelope("ProviderCustomerPage", paged("ProviderCustomerPageData", CustomerOutput)),
            **ERRORS,
        },
        tags=TAGS,
        summary="The platform's customers, newest first",
        description=(
            "With `email` or `phone` (or both: the customer matching both) the page holds that one "
            'customer; when none matches the answer is 400 "Customer not found".'
        ),
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        require_platform(request.user, "list customers")
        page = Page.of(request)
        customers = account_selectors.platform_customers(request.user)
        email = _filter(request, "email", 254)
        phone = _filter(request, "phone", 40)
        if email is not None:
            customers = customers.filter(email=email.lower())
        if phone is not None:
            customers = customers.filter(phone=phone)
        if (email is not None or phone is not None) and not customers.exists():
            raise InvalidRequest("Customer not found", code="resource_missing")
        return ok(FETCHED, page.answer(customers, lambda rows: [customer_data(c) for c in rows]))


def _filter(request: AuthenticatedRequest, name: str, max_length: int) -> str | None:
    value = request.query_params.get(name)
    if value is None or not value.strip():
        return None
    value = value.strip()
    if "\x00" in value:
        raise InvalidRequest(f"{name} is not valid", field=name)
    if len(value) > max_length:
        raise InvalidRequest(f"{name} must be at most {max_length} characters", field=name)
    return value


class CustomerDetail(MerchantWideAPIView):
    @extend_schema(
        operation_id="provider_customer_get",
        parameters=CUSTOMER_PATH,
        responses={200: envelope("ProviderCustomerFetched", CustomerOutput), **ERRORS},
        tags=TAGS,
        summary="One of the platform's customers",
    )
    def get(self, request: AuthenticatedRequest, customer_id: str) -> Response:
        require_platform(request.user, "read customers")
        return ok(FETCHED, customer_data(account_selectors.platform_customer_get(request.user, customer_id)))


class StrictBoolean(serializers.BooleanField):
    """true or false, and nothing else ("yes", 1 and "true" are not booleans here)."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            raise serializers.ValidationError("Must be true or false.")
        return data


class PermissionsInput(StrictSerializer):
    canBuy = StrictBoolean(required=False)  # noqa: N815
    canSell = StrictBoolean(required=False)  # noqa: N815


PermissionsOutput = inline_serializer(
    "ProviderCustomerPermissions",
    {
        "id": serializers.CharField(),
        "canBuy": serializers.BooleanField(),
        "canSell": serializers.BooleanField(),
    },
)


class CustomerPermissions(MerchantWideAPIView):
    @extend_schema(
        operation_id="provider_customer_permissions",
        parameters=CUSTOMER_PATH,
        request=PermissionsInput,
        responses={200: envelope("ProviderCustomerPermissionsUpdated", PermissionsOutput), **ERRORS},
        tags=TAGS,
        summary="What the customer may do: pay escrows as buyer (canBuy), create them as seller (canSell)",
        description=(
            "Either or both; one left out stays as it was. A customer who may not buy is refused "
            'paying (403 "This customer may not buy"), one who may not sell is refused creating '
            'an escrow (403 "This customer may not sell"), through this API, the payment-intents '
            "API and the pages alike."
        ),
    )
    def put(self, request: AuthenticatedRequest, customer_id: str) -> Response:
        require_platform(request.user, "manage customers")
        data = parse(PermissionsInput, request)
        customer = account_selectors.platform_customer_get(request.user, customer_id)
        customer = account_services.customer_permissions_update(
            customer=customer, can_buy=data.get("canBuy"), can_sell=data.get("canSell")
        )
        # Payluk answers this route with the same words as a customer read.
        return ok(
            FETCHED, {"id": customer.customer_id, "canBuy": customer.can_buy, "canSell": customer.can_sell}
        )


StatusOutput = inline_serializer(
    "ProviderCustomerStatus",
    {"id": serializers.CharField(), "status": serializers.ChoiceField(choices=CUSTOMER_STATUSES)},
)


class CustomerBlock(MerchantWideAPIView):
    blocking = True

    @extend_schema(
        operation_id="provider_customer_block",
        parameters=CUSTOMER_PATH,
        request=None,
        responses={200: envelope("ProviderCustomerBlocked", StatusOutput), **ERRORS},
        tags=TAGS,
        summary="Block the customer: nothing as them until unblocked",
        description=(
            "A blocked customer cannot sign in to the site, no API call acts as them "
            '(403 "This customer is blocked", `customer_blocked`), and every action of theirs '
            "is refused with the same words. Their money stays where it is; the other party "
            "and the timers still act on their escrows. Blocking again changes nothing."
        ),
    )
    def put(self, request: AuthenticatedRequest, customer_id: str) -> Response:
        require_platform(request.user, "manage customers")
        customer = account_selectors.platform_customer_get(request.user, customer_id)
        if self.blocking:
            customer = account_services.customer_block(customer=customer)
        else:
            customer = account_services.customer_unblock(customer=customer)
        return ok(STATUS_UPDATED, {"id": customer.customer_id, "status": status_of(customer)})


class CustomerUnblock(CustomerBlock):
    blocking = False

    @extend_schema(
        operation_id="provider_customer_unblock",
        parameters=CUSTOMER_PATH,
        request=None,
        responses={200: envelope("ProviderCustomerUnblocked", StatusOutput), **ERRORS},
        tags=TAGS,
        summary="Unblock the customer",
    )
    def put(self, request: AuthenticatedRequest, customer_id: str) -> Response:
        return super().put(request, customer_id)
