"""Domain errors. Each carries its HTTP status and a stable snake_case ``code``
that is part of the public contract; its docstring is its default message.

    SikaError
    ├── ValidationFailed (422)      bad input the schema could not catch
    │   └── IdempotencyKeyReused
    ├── NotAuthenticated (401)
    ├── PermissionDenied (403)
    ├── NotFound (404)
    ├── Conflict (409)              the request clashes with current state
    │   └── RefusalWithRecord       a refusal whose record outlives its rollback
    ├── PayloadTooLarge (413)
    ├── RateLimited (429)
    └── ServiceUnavailable (503)

The API maps these to RFC 9457 problem+json in one place
(``sika.api.problems``); services never know about HTTP beyond this status.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar


class SikaError(Exception):
    """Something went wrong."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or (self.__doc__ or self.title).strip()
        self.extra = extra
        super().__init__(self.detail)


class ValidationFailed(SikaError):
    """The request is not valid."""

    status = 422
    code = "validation_failed"
    title = "Validation failed"


class IdempotencyKeyReused(ValidationFailed):
    """This Idempotency-Key was already used with a different request."""

    code = "idempotency_key_reused"


class NotAuthenticated(SikaError):
    """Authentication is required: send a valid API key or party token."""

    status = 401
    code = "not_authenticated"
    title = "Not authenticated"


class PermissionDenied(SikaError):
    """These credentials may not do this."""

    status = 403
    code = "permission_denied"
    title = "Permission denied"


class NotFound(SikaError):
    """No such resource."""

    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(SikaError):
    """The request conflicts with the current state of the resource."""

    status = 409
    code = "conflict"
    title = "Conflict"


class RefusalWithRecord(Conflict):
    """The request was refused, and the refusal itself is recorded."""

    # The refused transaction rolls back, so what must be kept of the refusal (a
    # fraud rule's alert on a blocked transfer) cannot be written in it: the edge
    # that ran the transaction calls `record` with a session of a transaction of
    # its own, after the rollback.

    code = "refused_with_record"

    def __init__(self, detail: str | None = None, *, record: Callable[[Any], Awaitable[None]], **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.record = record


class IdempotencyKeyInFlight(Conflict):
    """A request with this Idempotency-Key is still being processed."""

    code = "idempotency_key_in_flight"


class PayloadTooLarge(SikaError):
    """The request body is too large."""

    status = 413
    code = "payload_too_large"
    title = "Payload too large"


class RateLimited(SikaError):
    """Too many requests; retry later."""

    status = 429
    code = "rate_limited"
    title = "Too many requests"


class ServiceUnavailable(SikaError):
    """The service cannot answer right now."""

    status = 503
    code = "service_unavailable"
    title = "Service unavailable"
