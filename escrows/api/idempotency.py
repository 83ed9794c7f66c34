"""`Idempotency-Key` on POST/PUT. The record lives in the database (a unique constraint per
owner and key), so it holds across any number of web processes:
- first request: a row is inserted before the handler runs (in flight);
- success: the response is stored on the row and replayed for 24 h to the same key + body;
- an error response deletes the row: an error changed nothing, so a retry may run again;
- the same key with another body is 422; a duplicate while the first is in flight is 409;
- a claim still in flight after IN_FLIGHT_LEASE belonged to a process that died mid-request: the
  next request with the key takes it over (the services refuse a money move made twice)."""

import hashlib
import json
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from accounts.authentication import key_owner
from accounts.models import IdempotencyRecord

HEADER = "HTTP_IDEMPOTENCY_KEY"
REPLAYED_HEADER = "Idempotent-Replayed"
TTL = timedelta(hours=24)
# Far longer than any request may run (gunicorn's timeout is 30 s).
IN_FLIGHT_LEASE = timedelta(minutes=5)
METHODS = {"POST", "PUT"}


class InvalidIdempotencyKey(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "Idempotency-Key must be 1 to 255 printable ASCII characters"
    default_code = "invalid_idempotency_key"


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = (
        "This Idempotency-Key was already used with a different request; use a new key for a new request"
    )
    default_code = "idempotency_key_reused"


class IdempotencyInFlight(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still being processed; retry shortly"
    default_code = "idempotency_in_flight"


class IdempotentReplay(Exception):
    def __init__(self, response: Response):
        super().__init__("replay")
        self.response = response


def _fingerprint(request: Request, method: str, owner_acting: str) -> str:
    body = request._request.body
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError):
        canonical = body
    digest = hashlib.sha256()
    for part in (method.encode(), request.path.encode(), owner_acting.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def begin(request: Request) -> IdempotencyRecord | None:
    """Claim the key for this request, or raise: replay, 422 or 409."""
    method = request.method
    if method not in METHODS:
        return None
    key = request.META.get(HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > 255 or not key.isascii() or not key.isprintable():
        raise InvalidIdempotencyKey()
    owner = key_owner(request)
    acting = request.user
    assert acting.is_authenticated  # the view's IsAuthenticated check runs first
    digest = _fingerprint(request, method, acting.customer_id)
    cutoff = timezone.now() - TTL
    for _ in range(3):
        try:
            with transaction.atomic():
                # Old records of this owner go lazily; a purge job is not needed for correctness.
                IdempotencyRecord.objects.filter(owner=owner, created_at__lt=cutoff).delete()
                return IdempotencyRecord.objects.create(
                    owner=owner, key=key, request_hash=digest, method=method, path=request.path[:500]
                )
        except IntegrityError:
            pass
        existing = IdempotencyRecord.objects.filter(owner=owner, key=key).first()
        if existing is None:
            continue  # the first attempt failed and released the key in between
        if existing.created_at < cutoff:
            IdempotencyRecord.objects.filter(pk=existing.pk, created_at__lt=cutoff).delete()
            continue
        if existing.request_hash != digest:
            raise IdempotencyKeyReused()
        if existing.response_status is None:
            if existing.created_at < timezone.now() - IN_FLIGHT_LEASE:
                IdempotencyRecord.objects.filter(
                    pk=existing.pk, response_status__isnull=True, created_at=existing.created_at
                ).delete()
                continue
            raise IdempotencyInFlight()
        raise IdempotentReplay(
            Response(
                json.loads(existing.response_body) if existing.response_body else None,
                status=existing.response_status,
                headers={REPLAYED_HEADER: "true"},
            )
        )
    raise IdempotencyInFlight()


def finish(record: IdempotencyRecord | None, response: Response) -> None:
    """Store a success for replay; forget anything else so that a retry runs again."""
    if record is None:
        return
    if 200 <= response.status_code < 300:
        body = json.dumps(response.data, cls=JSONEncoder) if response.data is not None else ""
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            response_status=response.status_code, response_body=body
        )
    else:
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
