"""What both API surfaces share: authentication, throttling, idempotency, strict input fields,
and turning any failure into the surface's own error envelope (never a 500 for client input)."""

import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from drf_spectacular.utils import extend_schema_field
from redis.exceptions import RedisError
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from accounts import authentication
from accounts.authentication import LAST_USED_RESOLUTION, CustomerSessionAuthentication
from accounts.models import APIKey
from core import fastcache
from core.errors import EscrowError
from escrows import hot

from . import idempotency
from .parsers import StrictJSONParser
from .renderers import FastJSONRenderer
from .schema import APIAutoSchema

log = logging.getLogger(__name__)

# Ids in URLs: anything else never reaches a query (NUL bytes and the like would).
ID = r"[A-Za-z0-9_\-]{1,100}"

DOMAIN_STATUS = {
    "invalid_request": status.HTTP_400_BAD_REQUEST,
    "not_found": status.HTTP_404_NOT_FOUND,
    "forbidden": status.HTTP_403_FORBIDDEN,
    "conflict": status.HTTP_409_CONFLICT,
    "payment": status.HTTP_402_PAYMENT_REQUIRED,
}


# -- errors ------------------------------------------------------------------------------------


class Failure:
    """One error, independent of the envelope it will be written in."""

    def __init__(
        self, status_code: int, code: str, message: str, param: str | None = None, headers: dict | None = None
    ):
        self.status = status_code
        self.code = code
        self.message = message
        self.param = param
        self.headers = headers or {}


def _flatten(detail: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            name = str(key) if key != "non_field_errors" else ""
            yield from _flatten(value, f"{path}.{name}" if path and name else (name or path))
    elif isinstance(detail, list):
        if all(not isinstance(d, Mapping | list) for d in detail):
            for item in detail:
                yield path, str(item)
        else:
            for i, item in enumerate(detail):
                if item:
                    yield from _flatten(item, f"{path}[{i}]")
    else:
        yield path, str(detail)


def _code_of(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    while isinstance(codes, dict | list):
        if not codes:
            return exc.default_code
        codes = next(iter(codes.values())) if isinstance(codes, dict) else codes[0]
    return str(codes)


def failure_from(exc: Exception) -> Failure:
    if isinstance(exc, EscrowError):
        return Failure(DOMAIN_STATUS.get(exc.kind, 400), exc.code, exc.message, exc.field)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        return Failure(413, "request_too_large", "The request body is too large")
    elif isinstance(exc, SuspiciousOperation):
        return Failure(400, "invalid_request", "The request could not be understood")
    if isinstance(exc, exceptions.APIException):
        headers: dict[str, str] = {}
        # DRF's Throttled sets .wait in __init__; its stub leaves the attribute out.
        wait = exc.wait if isinstance(exc, exceptions.Throttled) else None  # type: ignore[attr-defined]
        if wait is not None:
            headers["Retry-After"] = str(max(int(wait + 0.999), 1))
        if isinstance(exc, exceptions.ValidationError):
            path, message = next(_flatten(exc.detail), ("", "Invalid request"))
            text = f"{path}: {message}" if path else message
            return Failure(400, "invalid_request", text, path or None, headers)
        if isinstance(exc, exceptions.ParseError):
            return Failure(400, "invalid_json", str(exc.detail), None, headers)
        code = {
            exceptions.NotAuthenticated: "authentication_required",
            exceptions.AuthenticationFailed: "invalid_api_key",
            exceptions.NotFound: "resource_missing",
            exceptions.Throttled: "rate_limited",
            exceptions.MethodNotAllowed: "method_not_allowed",
            exceptions.UnsupportedMediaType: "unsupported_media_type",
            exceptions.NotAcceptable: "not_acceptable",
            exceptions.PermissionDenied: "forbidden",
        }.get(type(exc)) or _code_of(exc)
        status_code = exc.status_code
        if status_code == 403 and isinstance(
            exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed
        ):
            status_code = 401
        if status_code == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="api"'
        message = str(exc.detail) if not isinstance(exc.detail, dict | list) else str(exc.default_detail)
        if isinstance(exc, exceptions.NotAuthenticated):
            message = "No API key provided: send it in X-API-Key or as Authorization: Bearer <key>"
        return Failure(status_code, code, str(message), None, headers)
    log.exception("Unhandled API error", exc_info=exc)
    return Failure(500, "api_error", "Something went wrong on our side; nothing was changed. Please retry.")


def make_exception_handler(
    envelope: Callable[[Failure], dict[str, Any]],
) -> Callable[[Exception, dict], Response]:
    def handler(exc: Exception, context: dict) -> Response:
        failure = failure_from(exc)
        return Response(envelope(failure), status=failure.status, headers=failure.headers)

    return handler


# -- throttling --------------------------------------------------------------------------------


def _clock() -> float:
    return time.time()


class APIKeyRateThrottle(BaseThrottle):
    """API_RATE_LIMIT ("600/min") per API key (or per signed-in user, or per address), counted
    in fixed windows: one counter per key and window, a single round trip (INCR + EXPIRE in one
    pipeline) when the default cache is Redis, add + incr elsewhere. The counters live in the
    default cache: per process with the embedded LocMemCache, shared when CACHE_URL points at
    Redis (production). (DRF's SimpleRateThrottle keeps every request's timestamp in one cached
    list, read and written whole on each request: a hot key paid for its whole history.)"""

    def allow_request(self, request: Request, view: APIView) -> bool:
        limit, period = _rate(settings.API_RATE_LIMIT)
        now = _clock()
        window = int(now // period)
        self._wait = (window + 1) * period - now
        try:
            count = _count(f"throttle:api:{self._ident(request)}:{window}", period)
        except RedisError:
            # The limiter fails open: an outage of the cache must not take the API down.
            log.exception("rate limit counter unavailable; request allowed")
            return True
        return count <= limit

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)

    def _ident(self, request: Request) -> str:
        if isinstance(request.auth, APIKey):
            return f"key:{request.auth.prefix}"
        if request.user and request.user.is_authenticated:
            return f"user:{request.user.pk}"
        return f"ip:{self.get_ident(request)}"


def _rate(text: str) -> tuple[int, int]:
    """ "600/min" -> (600, 60), as DRF reads rates (s, m, h, d by the unit's first letter)."""
    count, _, unit = text.partition("/")
    return int(count), {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit.strip()[0]]


def _count(key: str, period: int) -> int:
    """This window's count for `key`, after counting this request."""
    return fastcache.count(key, period)


# -- authentication ----------------------------------------------------------------------------


class APIKeyAuthentication(authentication.APIKeyAuthentication):
    """accounts' API-key check with the lookup as a hot statement (escrows/hot.py): every API
    call makes it. In autocommit on PostgreSQL the same statement also records the key's use
    when it is due, its secret matches and it is usable (not revoked or expired, owner active),
    committing asynchronously; otherwise accounts records the use after it, when due."""

    def find_key(self, key: str, now: datetime) -> tuple[APIKey, bool]:
        prefix, _, _ = key.partition(".")
        recorded = False
        if hot.can_touch_in_lookup():
            hashed = APIKey.objects.key_generator.preferred_hasher.encode(key, "")
            api_key = hot.API_KEY_BY_PREFIX_TOUCHING.first(
                prefix, prelude_params=(now, prefix, hashed, now, now - LAST_USED_RESOLUTION)
            )
            recorded = api_key is not None and api_key.hashed_key == hashed
        else:
            api_key = hot.API_KEY_BY_PREFIX.first(prefix)
        if api_key is None or not api_key.is_valid(key):
            raise APIKey.DoesNotExist("Key is not valid.")
        return api_key, recorded


# -- the base view -----------------------------------------------------------------------------


class BaseAPIView(APIView):
    schema = APIAutoSchema()
    authentication_classes = [APIKeyAuthentication, CustomerSessionAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [APIKeyRateThrottle]
    parser_classes = [StrictJSONParser]
    renderer_classes = [FastJSONRenderer]
    exception_handler: Callable[[Exception, dict], Response]

    _idempotency_record = None

    def get_exception_handler(self) -> Callable[[Exception, dict], Response]:
        return type(self).exception_handler

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.method in idempotency.METHODS:
            request._request.body  # noqa: B018 -- enforces DATA_UPLOAD_MAX_MEMORY_SIZE up front
        self._idempotency_record = idempotency.begin(request)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, idempotency.IdempotentReplay):
            return exc.response
        return super().handle_exception(exc)

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        record, self._idempotency_record = self._idempotency_record, None
        idempotency.finish(record, response)
        return response


# -- strict input fields -----------------------------------------------------------------------


class StrictSerializer(serializers.Serializer):
    """Unknown fields are an error, not silently ignored."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class Text(serializers.CharField):
    """A string, and only a string (numbers are not silently turned into text)."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("allow_blank", not kwargs.get("required", False))
        kwargs.setdefault("trim_whitespace", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("Must be a string.")
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "format": "email", "maxLength": 254, "example": "buyer@example.com"})
class Email(Text):
    """An email address, as a string; whether it is one the service decides (one message for
    every surface and the pages)."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("max_length", 254)
        super().__init__(**kwargs)


class StrictInteger(serializers.IntegerField):
    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise serializers.ValidationError("Must be an integer.")
        return super().to_internal_value(data)


@extend_schema_field(
    {
        "type": "integer",
        "minimum": settings.ESCROW_INSPECTION_DAYS_MIN,
        "maximum": settings.ESCROW_INSPECTION_DAYS_MAX,
        "example": settings.ESCROW_INSPECTION_PERIOD.days,
    }
)
class InspectionDays(StrictInteger):
    """The seller's inspection period in whole days; whether it is within the bounds the
    service decides (one message for both surfaces and the pages)."""


DECIMAL_STRING = re.compile(r"-?\d+(\.\d+)?")


@extend_schema_field({"type": "string", "example": "300.00", "pattern": r"^\d+(\.\d+)?$"})
class DecimalString(serializers.Field):
    """A money amount as a decimal string ("300.00") or an integer; floats are refused.
    The exact conversion to minor units happens with the currency (escrows.money)."""

    default_error_messages = {"invalid": 'Must be a decimal string such as "300.00".'}

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, bool) or not isinstance(data, str | int):
            self.fail("invalid")
        text = str(data).strip()
        if not text or len(text) > 40 or not text.isascii():
            self.fail("invalid")
        # What the schema documents: digits with an optional fraction ("1e3", "0x10", " 1_000"
        # are not amounts). A leading minus passes here so it gets the "greater than zero" error.
        if not DECIMAL_STRING.fullmatch(text):
            self.fail("invalid")
        return text

    def to_representation(self, value: Any) -> str:
        return str(value)


@extend_schema_field({"type": "number", "minimum": 0, "maximum": 100})
class Percentage(serializers.Field):
    default_error_messages = {"invalid": "Must be a number from 0 to 100 with at most 3 decimals."}

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool) or not isinstance(data, int | float | str) or len(str(data)) > 20:
            self.fail("invalid")
        try:
            value = Decimal(str(data))
        except InvalidOperation:
            self.fail("invalid")
        if not value.is_finite() or not (0 <= value <= 100) or value != value.quantize(Decimal("0.001")):
            self.fail("invalid")
        return value

    def to_representation(self, value: Any) -> Any:
        return value


def _check_json_text(value: Any, depth: int = 0) -> None:
    if depth > 8:
        raise serializers.ValidationError("Nested too deeply.")
    if isinstance(value, str):
        if "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            raise serializers.ValidationError("Contains characters that cannot be stored.")
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_json_text(k, depth + 1)
            _check_json_text(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _check_json_text(v, depth + 1)
    elif isinstance(value, float) and not math.isfinite(value):
        raise serializers.ValidationError("Numbers must be finite.")


class Metadata(serializers.JSONField):
    """Free JSON object, bounded, and storable in PostgreSQL jsonb (no NUL, no lone surrogates)."""

    def to_internal_value(self, data: Any) -> dict:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        if len(data) > 50:
            raise serializers.ValidationError("At most 50 keys.")
        _check_json_text(data)
        if len(json.dumps(data)) > 8000:
            raise serializers.ValidationError("At most 8000 characters of JSON.")
        return data


def iso(value: Any) -> str | None:
    """Timestamps as Finternet and Payluk show them: ISO 8601 in UTC with a Z."""
    return value.isoformat().replace("+00:00", "Z") if value else None


def parse(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    data = request.data
    if data is None or (not isinstance(data, dict) and not data):
        data = {}
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def unknown_route(handler: Callable[[Exception, dict], Response]) -> Callable:
    """A view for every unknown path under the surface: the surface's 404, never Django's HTML."""

    from drf_spectacular.utils import extend_schema

    @extend_schema(exclude=True)
    class UnknownRoute(APIView):
        authentication_classes: list = []
        permission_classes: list = []
        throttle_classes: list = []
        renderer_classes = [FastJSONRenderer]
        exception_handler = handler

        def get_exception_handler(self) -> Callable[[Exception, dict], Response]:
            return type(self).exception_handler

        def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            self.args, self.kwargs = args, kwargs
            request = self.initialize_request(request, *args, **kwargs)
            self.request = request
            self.headers = self.default_response_headers
            response = self.handle_exception(exceptions.NotFound("Unknown API route"))
            self.response = self.finalize_response(request, response, *args, **kwargs)
            return self.response

    return UnknownRoute.as_view()
