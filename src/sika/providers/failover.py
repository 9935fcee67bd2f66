"""Collections through an ordered list of providers, with a circuit breaker each.

For a (currency, method) the route names providers in order of preference
(``PROVIDER_ROUTES``). A collection goes to the first whose circuit lets it
through; it moves to the next one only when that provider is *unavailable*
(``ProviderUnavailable``: nothing happened there), or when the customer pays
away from the phone (Wave's page) with a ``return_url`` that provider does not
forward, so would never come back. A decline is final, and an
unknown outcome is never tried elsewhere: the first provider may have charged
the customer already, and reconciliation will tell.

OTP submission and payouts are not routed: they stay with the provider that
started them (``CollectionResult.provider``).

Circuit breaker, per provider:

    closed ──(FAILURE_THRESHOLD consecutive unavailable or unanswered calls)──► open
    open ──(after OPEN_SECONDS)──► half_open: one trial call goes through
    half_open ──(trial answered, even with a decline)──► closed
    half_open ──(trial unavailable or unanswered)──► open again

Each switch to another provider is logged (``provider.failover``) and counted in
``sika_provider_failovers_total``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import structlog
from prometheus_client import Counter, Gauge

from sika.core.config import Settings
from sika.providers import errors
from sika.providers.base import (
    CollectionRequest,
    CollectionResult,
    PaymentMethod,
    PaymentProvider,
    ProviderName,
)

log = structlog.get_logger(__name__)

FAILOVERS = Counter(
    "sika_provider_failovers_total",
    "Collections passed from one provider to the next, by why",
    ["from_provider", "to_provider", "reason"],
)
CIRCUIT_OPEN = Gauge("sika_provider_circuit_open", "1 while a provider's circuit is open", ["provider"])


class CircuitState(StrEnum):
    closed = "closed"
    open = "open"
    half_open = "half_open"


class SkipReason(StrEnum):
    unavailable = "unavailable"
    circuit_open = "circuit_open"
    return_url_not_forwarded = "return_url_not_forwarded"


@dataclass
class CircuitBreaker:
    provider: str
    failure_threshold: int
    """Consecutive unavailable or unanswered calls that open the circuit."""
    open_seconds: float
    """How long the circuit stays open before one trial call."""
    state: CircuitState = CircuitState.closed
    consecutive_failures: int = 0
    opened_at: datetime | None = None
    trial_in_flight: bool = False

    def __post_init__(self) -> None:
        assert self.failure_threshold >= 1, "a circuit must tolerate at least one failure"
        assert self.open_seconds > 0, "an open circuit must stay open for some time"

    def allow(self, now: datetime) -> bool:
        """Whether a call may go to the provider now; a half-open circuit lets one through."""
        if self.state is CircuitState.closed:
            return True
        if self.state is CircuitState.open:
            assert self.opened_at is not None
            if (now - self.opened_at).total_seconds() < self.open_seconds:
                return False
            self._move(CircuitState.half_open)
        if self.trial_in_flight:
            return False
        self.trial_in_flight = True
        return True

    def record_answer(self) -> None:
        """The provider answered (a decline is an answer)."""
        self.consecutive_failures = 0
        self.trial_in_flight = False
        if self.state is not CircuitState.closed:
            self._move(CircuitState.closed)
            self.opened_at = None

    def record_failure(self, now: datetime) -> None:
        """The provider was unavailable or did not answer."""
        self.consecutive_failures += 1
        self.trial_in_flight = False
        if self.state is CircuitState.half_open or self.consecutive_failures >= self.failure_threshold:
            self.opened_at = now
            if self.state is not CircuitState.open:
                self._move(CircuitState.open)

    def release(self) -> None:
        """The call ended in a way that says nothing about the provider's health."""
        self.trial_in_flight = False

    def _move(self, state: CircuitState) -> None:
        log.warning(
            "provider.circuit",
            provider=self.provider,
            state=state.value,
            previous=self.state.value,
            consecutive_failures=self.consecutive_failures,
        )
        self.state = state
        CIRCUIT_OPEN.labels(provider=self.provider).set(1 if state is CircuitState.open else 0)


def parse_routes(
    raw: Mapping[str, Sequence[str]],
) -> dict[tuple[str, PaymentMethod], list[ProviderName]]:
    """``{"XOF:mobile_money": ["paystack", "fedapay"]}`` as typed keys; a typo fails loudly."""
    routes: dict[tuple[str, PaymentMethod], list[ProviderName]] = {}
    for key, names in raw.items():
        currency, sep, method = key.partition(":")
        if not sep:
            raise ValueError(f"Route key {key!r} must read CURRENCY:method")
        routes[(currency.upper(), PaymentMethod(method))] = [ProviderName(name) for name in names]
    return routes


class CollectionRouter:
    """Sends each collection to the first available provider on its route."""

    def __init__(
        self,
        providers: Mapping[ProviderName, PaymentProvider],
        *,
        routes: Mapping[tuple[str, PaymentMethod], Sequence[ProviderName]],
        failure_threshold: int,
        open_seconds: float,
    ) -> None:
        for route in routes.values():
            missing = [name.value for name in route if name not in providers]
            if missing:
                raise ValueError(f"Routes name providers that are not configured: {missing}")
        self._providers = dict(providers)
        self._routes = {key: list(route) for key, route in routes.items()}
        self._breakers = {
            name: CircuitBreaker(name.value, failure_threshold=failure_threshold, open_seconds=open_seconds)
            for name in providers
        }

    @classmethod
    def from_settings(cls, providers: Mapping[ProviderName, PaymentProvider], settings: Settings) -> CollectionRouter:
        return cls(
            providers,
            routes=parse_routes(settings.PROVIDER_ROUTES),
            failure_threshold=settings.PROVIDER_CIRCUIT_FAILURE_THRESHOLD,
            open_seconds=settings.PROVIDER_CIRCUIT_OPEN_SECONDS,
        )

    def route(self, currency: str, method: PaymentMethod) -> list[ProviderName]:
        return list(self._routes.get((currency, method), []))

    def provider(self, name: ProviderName) -> PaymentProvider:
        """The adapter for ``name``: OTP submission and payouts go straight to it."""
        return self._providers[name]

    def breaker(self, name: ProviderName) -> CircuitBreaker:
        return self._breakers[name]

    async def collect(self, request: CollectionRequest, *, now: datetime) -> CollectionResult:
        route = self.route(request.currency, request.method)
        if not route:
            raise errors.NoRoute(
                f"No provider collects {request.currency} by {request.method.value}",
                provider="none",
            )
        passed_over: list[tuple[ProviderName, str]] = []
        for position, name in enumerate(route):
            following = route[position + 1] if position + 1 < len(route) else None
            if request.sends_customer_away and not self._providers[name].forwards_return_url:
                why = "it cannot send the customer back to return_url"
                passed_over.append((name, why))
                _announce_switch(name, following, SkipReason.return_url_not_forwarded, why, request.reference)
                continue
            breaker = self._breakers[name]
            if not breaker.allow(now):
                passed_over.append((name, "circuit open"))
                _announce_switch(name, following, SkipReason.circuit_open, "circuit open", request.reference)
                continue
            try:
                result = await self._providers[name].collect(request)
            except errors.ProviderUnavailable as exc:
                breaker.record_failure(now)
                passed_over.append((name, exc.detail))
                _announce_switch(name, following, SkipReason.unavailable, exc.detail, request.reference)
                continue
            except errors.OutcomeUnknown:
                breaker.record_failure(now)
                raise
            except errors.ProviderDeclined:
                breaker.record_answer()
                raise
            except BaseException:
                breaker.release()
                raise
            breaker.record_answer()
            return result
        log.error(
            "provider.route_exhausted",
            reference=request.reference,
            currency=request.currency,
            method=request.method.value,
            attempts=[(n.value, why) for n, why in passed_over],
        )
        raise errors.NoProviderAvailable(
            f"No provider could take this {request.currency} {request.method.value} collection",
            attempts=[(name.value, why) for name, why in passed_over],
        )


def _announce_switch(
    previous: ProviderName,
    following: ProviderName | None,
    reason: SkipReason,
    detail: str,
    reference: str,
) -> None:
    if following is None:
        return
    FAILOVERS.labels(from_provider=previous.value, to_provider=following.value, reason=reason.value).inc()
    log.warning(
        "provider.failover",
        from_provider=previous.value,
        to_provider=following.value,
        reason=reason.value,
        detail=detail,
        reference=reference,
    )
