"""One place that turns transport failures into what they mean for money.

A call that never reached the provider (refused or timed-out connection, no
pooled connection free) is ``ProviderUnavailable``: nothing happened there.
A call that may have reached it and got no usable answer (read timeout,
connection dropped mid-answer, 500, 504) is ``OutcomeUnknown`` when it could
have changed something; a read-only call that fails that way is simply
``ProviderUnavailable``. 429, 502 and 503 say the provider did not process the
request, so they are ``ProviderUnavailable`` too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog

from sika.core import clock
from sika.core.config import Settings
from sika.providers import calls, errors

log = structlog.get_logger(__name__)

UNPROCESSED_STATUSES = frozenset({429, 502, 503})
"""Answers by which a provider (or its gateway) says it did not process the request."""


def timeout_from(settings: Settings) -> httpx.Timeout:
    return httpx.Timeout(
        settings.PROVIDER_TIMEOUT_SECONDS,
        connect=min(settings.PROVIDER_CONNECT_TIMEOUT_SECONDS, settings.PROVIDER_TIMEOUT_SECONDS),
    )


async def call(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    provider: str,
    timeouts: httpx.Timeout,
    mutates: bool,
    reference: str | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """Send one request with an explicit timeout; any answer below 500 (bar 429) is returned.
    The request and its answer are noted, redacted, for the payment's timeline (``calls``)."""
    started_at, started = clock.now(), time.monotonic()
    try:
        response = await client.request(method, url, timeout=timeouts, **kwargs)
    except httpx.TransportError as exc:
        _note(provider, method, url, kwargs, None, started_at, started, error=type(exc).__name__)
        raise _unanswered(exc, provider=provider, url=url, mutates=mutates, reference=reference) from exc
    _note(provider, method, url, kwargs, response, started_at, started, error=None)
    return _answered(response, provider=provider, url=url, mutates=mutates, reference=reference)


def _note(
    provider: str,
    method: str,
    url: str,
    sent: dict[str, Any],
    response: httpx.Response | None,
    started_at: datetime,
    started: float,
    *,
    error: str | None,
) -> None:
    answer: Any = None
    if response is not None:
        try:
            answer = response.json()
        except ValueError:
            answer = response.text[: calls.MAX_TEXT_CHARS]
    calls.note(
        calls.Note(
            provider=provider,
            method=method,
            path=urlsplit(url).path,
            request=calls.redact({name: sent[name] for name in ("params", "json", "data") if name in sent}),
            status_code=None if response is None else response.status_code,
            response=calls.redact(answer),
            error=error,
            started_at=started_at,
            duration_ms=round((time.monotonic() - started) * 1000),
        )
    )


def _unanswered(
    exc: httpx.TransportError, *, provider: str, url: str, mutates: bool, reference: str | None
) -> errors.ProviderError:
    """What a request that got no answer means: nothing happened, or (for a write) nobody knows."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        log.warning("provider.unreachable", provider=provider, url=url, error=type(exc).__name__)
        return errors.ProviderUnavailable(f"{provider} is unreachable ({type(exc).__name__})", provider=provider)
    log.warning(
        "provider.no_answer",
        provider=provider,
        url=url,
        error=type(exc).__name__,
        mutates=mutates,
        reference=reference,
    )
    if mutates:
        return errors.OutcomeUnknown(
            f"{provider} did not answer ({type(exc).__name__}); the outcome is unknown",
            provider=provider,
            provider_reference=reference,
        )
    return errors.ProviderUnavailable(f"{provider} did not answer ({type(exc).__name__})", provider=provider)


def _answered(
    response: httpx.Response, *, provider: str, url: str, mutates: bool, reference: str | None
) -> httpx.Response:
    """The answer, or what it means when it is not one to read (429, 5xx, our credentials refused)."""
    if response.status_code in UNPROCESSED_STATUSES:
        log.warning("provider.refused", provider=provider, url=url, status=response.status_code)
        raise errors.ProviderUnavailable(f"{provider} answered {response.status_code}", provider=provider)
    if response.status_code >= 500:
        log.warning("provider.server_error", provider=provider, url=url, status=response.status_code)
        if mutates:
            raise errors.OutcomeUnknown(
                f"{provider} answered {response.status_code}; the outcome is unknown",
                provider=provider,
                provider_reference=reference,
            )
        raise errors.ProviderUnavailable(f"{provider} answered {response.status_code}", provider=provider)
    if response.status_code in (401, 403):
        # Our credentials are wrong or revoked: nothing was processed, and every
        # further call to this provider will fail the same way until an operator acts.
        log.error("provider.auth_refused", provider=provider, url=url, status=response.status_code)
        raise errors.ProviderUnavailable(
            f"{provider} refused Sika's credentials ({response.status_code})", provider=provider
        )
    return response


def json_object(
    response: httpx.Response, *, provider: str, mutates: bool, reference: str | None = None
) -> dict[str, Any]:
    """The JSON object in a response; garbage from a provider is a failed answer."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        detail = f"{provider} answered {response.status_code} with a body that is not a JSON object"
        if mutates:
            raise errors.OutcomeUnknown(detail, provider=provider, provider_reference=reference)
        raise errors.ProviderUnavailable(detail, provider=provider)
    return body


@dataclass(frozen=True)
class Answer:
    status_code: int
    body: dict[str, Any]
    """The JSON object the provider answered with."""


class Endpoint:
    """One provider's API as its adapter calls it: base URL, credentials and
    timeouts bound once; each request says whether it could change something."""

    def __init__(
        self, client: httpx.AsyncClient, *, provider: str, base_url: str, secret_key: str, timeout: httpx.Timeout
    ) -> None:
        self._client = client
        self._provider = provider
        self._base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {secret_key}"}
        self._timeout = timeout

    async def request(
        self,
        method: str,
        path: str,
        *,
        mutates: bool,
        reference: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Answer:
        """Send one request (see ``call``) and read its JSON object (see ``json_object``)."""
        response = await call(
            self._client,
            method,
            self._base_url + path,
            provider=self._provider,
            timeouts=self._timeout,
            mutates=mutates,
            reference=reference,
            headers={**self._headers, **(headers or {})},
            **kwargs,
        )
        body = json_object(response, provider=self._provider, mutates=mutates, reference=reference)
        return Answer(status_code=response.status_code, body=body)
