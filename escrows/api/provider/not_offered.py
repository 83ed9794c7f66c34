"""Routes Payluk publishes that this server does not offer: each answers, whatever the method
and with or without a key, a 4xx in Payluk's envelope saying so and what to use instead (403
`not_offered`, as Payluk answers a feature an account does not have; the virtual account 410, as
Payluk itself now answers it). Paths nobody publishes stay the surface's 404."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, re_path
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..common import ID, Failure
from ..renderers import FastJSONRenderer
from .base import ErrorOutput, error_envelope, exception_handler


@dataclass(frozen=True)
class Feature:
    what: str  # "Saved cards are"
    instead: str  # what to use here instead
    status_code: int = status.HTTP_403_FORBIDDEN

    @property
    def message(self) -> str:
        return f"{self.what} not offered by this server: {self.instead}"


CARDS = Feature("Saved cards are", "pay with gateway CARD and a cardToken each time.")
CRYPTO = Feature("Crypto deposits and whitelisted addresses are", "fund a wallet or pay an escrow by card.")
CATEGORIES = Feature(
    "Category administration is", "an escrow keeps the categoryId it is created with, as given."
)
VAULTS = Feature("Vault escrows are", "create a standard or milestone escrow.")
BANKS = Feature(
    "Bank lists and account checks are", "payouts go to the settlement destination of the customer's account."
)
VIRTUAL_ACCOUNTS = Feature(
    "Virtual accounts are", "pay an escrow with POST /v1/payment/escrow.", status.HTTP_410_GONE
)
CHECKOUT = Feature(
    "The hosted checkout widget is", "send the buyer to the escrow's payment link (/pay/<paymentToken>)."
)
PAYMENT_INTENTS = Feature(
    "Deposits, withdrawals and wallet transfers through payment intents are",
    "top up with POST /v1/payment/topup (test mode); withdrawals are made on the balance page.",
)
HISTORY = Feature("The payment history is", "each customer's statement is on their balance page.")
PHONE = Feature("Looking customers up by phone here is", "use GET /v1/customers?phone=….")
COUNTRIES = Feature("The country list is", "customer/create accepts countryId and does not keep it.")
CUSTOMER_UPDATE = Feature(
    "Changing a customer's details is", "a customer changes their own name and email on their account page."
)
MERCHANT = Feature(
    "The merchant account routes are", "GET /v1/wallet without customer-id answers for the platform itself."
)


@dataclass(frozen=True)
class Route:
    path: str  # as Payluk publishes it, under /v1
    regex: str
    methods: tuple[str, ...]
    feature: Feature


ROUTES = (
    Route("/cards", r"^cards$", ("get",), CARDS),
    Route("/card/{cardId}", rf"^card/(?P<card_id>{ID})$", ("delete",), CARDS),
    Route("/whitelist-address", r"^whitelist-address$", ("get", "post"), CRYPTO),
    Route(
        "/whitelist-address/{addressId}", rf"^whitelist-address/(?P<address_id>{ID})$", ("delete",), CRYPTO
    ),
    Route("/payment/deposit/wallet", r"^payment/deposit/wallet$", ("get",), CRYPTO),
    Route("/escrow/category/create", r"^escrow/category/create$", ("post",), CATEGORIES),
    Route("/escrow/category/get", r"^escrow/category/get$", ("get",), CATEGORIES),
    Route(
        "/escrow/category/get/{categoryId}",
        rf"^escrow/category/get/(?P<category_id>{ID})$",
        ("get",),
        CATEGORIES,
    ),
    Route(
        "/escrow/category/edit/{categoryId}",
        rf"^escrow/category/edit/(?P<category_id>{ID})$",
        ("put",),
        CATEGORIES,
    ),
    Route(
        "/escrow/category/position/{categoryId}",
        rf"^escrow/category/position/(?P<category_id>{ID})$",
        ("put",),
        CATEGORIES,
    ),
    Route(
        "/escrow/category/delete/{categoryId}",
        rf"^escrow/category/delete/(?P<category_id>{ID})$",
        ("delete",),
        CATEGORIES,
    ),
    Route("/escrow/vault/create", r"^escrow/vault/create$", ("post",), VAULTS),
    Route(
        "/escrow/vault/winner/{paymentToken}",
        rf"^escrow/vault/winner/(?P<payment_token>{ID})$",
        ("post",),
        VAULTS,
    ),
    Route(
        "/escrow/vault/cancel/{paymentToken}",
        rf"^escrow/vault/cancel/(?P<payment_token>{ID})$",
        ("post",),
        VAULTS,
    ),
    Route("/escrow/vault/{paymentToken}", rf"^escrow/vault/(?P<payment_token>{ID})$", ("get",), VAULTS),
    Route("/payment/bank-list", r"^payment/bank-list$", ("get",), BANKS),
    Route("/payment/verify-account", r"^payment/verify-account$", ("post",), BANKS),
    Route("/payment/virtual-account", r"^payment/virtual-account$", ("post",), VIRTUAL_ACCOUNTS),
    Route("/checkout/session", r"^checkout/session$", ("post",), CHECKOUT),
    Route("/payment/create-intent", r"^payment/create-intent$", ("post",), PAYMENT_INTENTS),
    Route("/payment/verify", r"^payment/verify$", ("post",), PAYMENT_INTENTS),
    Route("/payment/history", r"^payment/history$", ("get",), HISTORY),
    Route("/payment/verify-phone/{phone}", rf"^payment/verify-phone/(?P<phone>{ID})$", ("get",), PHONE),
    Route("/countries", r"^countries$", ("get",), COUNTRIES),
    Route(
        "/customer/update/{customerId}",
        rf"^customer/update/(?P<customer_id>{ID})$",
        ("put",),
        CUSTOMER_UPDATE,
    ),
    Route("/merchant/balance", r"^merchant/balance$", ("get",), MERCHANT),
    Route("/merchant/transactions", r"^merchant/transactions$", ("get",), MERCHANT),
)


def _operation(route: Route, method: str) -> Callable[..., Response]:
    def handler(self: APIView, request: Request, **kwargs: Any) -> Response:
        raise AssertionError("dispatch answers before any handler")  # pragma: no cover

    name = route.path.strip("/").replace("/", "_").replace("{", "").replace("}", "").replace("-", "_")
    return extend_schema(
        operation_id=f"provider_not_offered_{method}_{name}",
        request=None,
        responses={route.feature.status_code: ErrorOutput},
        tags=["escrow-provider-not-offered"],
        summary=f"Not offered: {route.feature.message}",
        auth=[],
    )(handler)


def _view(route: Route) -> Callable[..., Any]:
    feature = route.feature

    class NotOfferedRoute(APIView):
        authentication_classes: list = []
        permission_classes: list = []
        throttle_classes: list = []
        renderer_classes = [FastJSONRenderer]

        def get_exception_handler(self) -> Callable[[Exception, dict], Response]:
            return exception_handler

        def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            # Every method, known to Payluk or not, gets the same answer.
            self.args, self.kwargs = args, kwargs
            request = self.initialize_request(request, *args, **kwargs)
            self.request = request
            self.headers = self.default_response_headers
            failure = Failure(feature.status_code, "not_offered", feature.message)
            response = Response(error_envelope(failure), status=failure.status)
            self.response = self.finalize_response(request, response, *args, **kwargs)
            return self.response

    for method in route.methods:
        setattr(NotOfferedRoute, method, _operation(route, method))
    return NotOfferedRoute.as_view()


def urlpatterns() -> list[URLPattern]:
    return [
        re_path(route.regex, _view(route), name=f"api_provider_not_offered_{i}")
        for i, route in enumerate(ROUTES)
    ]
