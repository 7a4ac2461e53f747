"""`Idempotency-Key` on the API's creates: `@idempotent` under a route's `@router.post`.

The first request with a key runs as usual; if its answer is a success, the answer (status and
body) is stored with the key, scoped by the token's agency and user, and a SHA-256 of the
request's method, path and body. A retry with the same key and the same request within 24 hours
gets that answer again (with `Idempotent-Replayed: true`) and changes nothing; the same key with
another request is a 422 naming the header. An answer that is not a success is not stored, so a
corrected request may be sent again under the same key.

The request and the storing of its answer are one transaction: of two requests racing with one
key, the second's insert of the key fails (the unique constraint, waiting on PostgreSQL for the
first to commit), its changes are rolled back and it answers what the first stored.
"""

import hashlib
from datetime import timedelta
from functools import wraps

from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from ninja import Field, Header, Schema
from ninja.decorators import decorate_view
from ninja.utils import contribute_operation_args

from referloop.core.models import IdempotentRequest

HEADER = "Idempotency-Key"
KEPT = timedelta(hours=24)


class IdempotencyHeader(Schema):
    key: str = Field(
        None,
        alias=HEADER,
        min_length=1,
        max_length=255,
        pattern=r"^[!-~]+$",  # visible ASCII, no spaces
        description="A key of your choosing (a UUID, say) unique to this create: a retry with "
        "the same key and the same body gets the first answer again and creates nothing; the "
        "same key with another body is a 422. Kept 24 hours.",
    )


def _request_hash(request) -> str:
    digest = hashlib.sha256(f"{request.method}\n{request.get_full_path()}\n".encode())
    digest.update(request.body)
    return digest.hexdigest()


def _stored(request, key: str) -> IdempotentRequest | None:
    return (
        IdempotentRequest.objects.for_agency(request.agency)
        .filter(user=request.user, key=key, created_at__gte=timezone.now() - KEPT)
        .first()
    )


def _refused(message: str) -> JsonResponse:
    """A 422 naming the header, worded as ninja words a refused parameter."""
    error = {"type": "idempotency_key_reused", "loc": ["header", HEADER], "msg": message}
    return JsonResponse({"detail": [error]}, status=422)


def _replay(request, stored: IdempotentRequest | None) -> HttpResponse:
    """The stored answer, if the request is the same."""
    if stored is None:  # the racing request's key expired in between: nothing to answer with
        return _refused("is in use by another request: try again")
    if stored.request_hash != _request_hash(request):
        return _refused(
            "was used for another request in the last 24 hours: use a new key for a new request"
        )
    response = HttpResponse(stored.content, status=stored.status, content_type=stored.content_type)
    response["Idempotent-Replayed"] = "true"
    return response


class _Raced(Exception):
    """Another request stored an answer under the key first."""


def _answer_kept(run):
    """Around the operation's whole run (the answer rendered): one transaction, and the answer
    stored when the handler ran for a key (see `idempotent`)."""

    @wraps(run)
    def wrapper(request, *args, **kwargs):
        if HEADER not in request.headers:
            return run(request, *args, **kwargs)
        try:
            with transaction.atomic():
                response = run(request, *args, **kwargs)
                key = getattr(request, "idempotency_key", None)
                if key is not None and 200 <= response.status_code < 300:
                    _keep(request, key, response)
                return response
        except _Raced:
            return _replay(request, _stored(request, key))

    return wrapper


def _keep(request, key: str, response) -> None:
    mine = IdempotentRequest.objects.for_agency(request.agency).filter(user=request.user, key=key)
    mine.filter(created_at__lt=timezone.now() - KEPT).delete()
    try:
        with transaction.atomic():
            IdempotentRequest.objects.create(
                agency=request.agency,
                user=request.user,
                key=key,
                request_hash=_request_hash(request),
                status=response.status_code,
                content_type=response.get("Content-Type", "application/json"),
                content=response.content.decode(),
            )
    except IntegrityError:
        raise _Raced from None


def idempotent(handler):
    """The route takes an `Idempotency-Key` header (documented in its OpenAPI operation)."""

    @wraps(handler)
    def view(request, *args, idempotency: IdempotencyHeader, **kwargs):
        key = idempotency.key
        if key is not None:
            stored = _stored(request, key)
            if stored is not None:
                return _replay(request, stored)
            request.idempotency_key = key
        return handler(request, *args, **kwargs)

    contribute_operation_args(view, "idempotency", IdempotencyHeader, Header(...))
    return decorate_view(_answer_kept)(view)
