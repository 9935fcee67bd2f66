from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from sika.providers import errors, registry
from sika.providers.base import (
    CollectionStatus,
    MobileOperator,
    PaymentMethod,
    PaymentProvider,
    ProviderName,
)
from sika.providers.failover import CircuitBreaker, CircuitState, CollectionRouter, parse_routes
from tests.providers import builders
from tests.support.sandbox import LiveSandbox, free_port

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
FAILURE_THRESHOLD = 2
OPEN_SECONDS = 30.0


def failovers(from_provider: str, to_provider: str, reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "sika_provider_failovers_total",
        {"from_provider": from_provider, "to_provider": to_provider, "reason": reason},
    )
    return value or 0.0


def state(breaker: CircuitBreaker) -> CircuitState:
    """The breaker's state now. Read through a call, since mypy keeps ``breaker.state``
    narrowed to what an earlier assert saw, across the calls that change it."""
    return breaker.state


def make_router(providers: dict[ProviderName, PaymentProvider]) -> CollectionRouter:
    return CollectionRouter(
        providers,
        routes=parse_routes({"XOF:mobile_money": ["paystack", "fedapay"], "XOF:card": ["stripe"]}),
        failure_threshold=FAILURE_THRESHOLD,
        open_seconds=OPEN_SECONDS,
    )


async def force(sandbox: LiveSandbox, provider: str, scenario: str | None) -> None:
    async with sandbox.admin() as admin:
        if scenario is None:
            await admin.delete(f"/scenarios/{provider}")
        else:
            await admin.put(f"/scenarios/{provider}", json={"scenario": scenario})


class TestCollectionRouter:
    async def test_a_paystack_outage_sends_the_collection_through_fedapay(
        self, sandbox: LiveSandbox, providers: dict[ProviderName, PaymentProvider]
    ) -> None:
        router = make_router(providers)
        await force(sandbox, "paystack", "outage")
        before = failovers("paystack", "fedapay", "unavailable")
        request = builders.mobile_money()
        with capture_logs() as logs:
            result = await router.collect(request, now=NOW)
        assert result.provider is ProviderName.fedapay
        assert result.status is CollectionStatus.pending
        assert failovers("paystack", "fedapay", "unavailable") == before + 1
        [switch] = [entry for entry in logs if entry["event"] == "provider.failover"]
        assert switch["from_provider"] == "paystack"
        assert switch["to_provider"] == "fedapay"
        assert switch["reason"] == "unavailable"
        assert switch["reference"] == request.reference
        assert await sandbox.listed("payments", provider="paystack") == []
        [transaction] = await sandbox.listed("payments", provider="fedapay")
        assert transaction["merchant_reference"] == request.reference
        assert transaction["amount"] == 5_000

    async def test_a_paystack_that_refuses_connections_sends_it_through_fedapay(
        self, sandbox: LiveSandbox, http_client: httpx.AsyncClient
    ) -> None:
        settings = sandbox.settings.model_copy(update={"PAYSTACK_BASE_URL": f"http://127.0.0.1:{free_port()}"})
        router = make_router(registry.build_providers(settings, http_client))
        result = await router.collect(builders.mobile_money(), now=NOW)
        assert result.provider is ProviderName.fedapay
        assert len(await sandbox.listed("payments", provider="fedapay")) == 1

    async def test_a_paystack_decline_is_final_and_goes_nowhere_else(
        self, sandbox: LiveSandbox, providers: dict[ProviderName, PaymentProvider]
    ) -> None:
        router = make_router(providers)
        before = failovers("paystack", "fedapay", "unavailable")
        with pytest.raises(errors.ProviderDeclined) as declined:
            await router.collect(builders.mobile_money(last_four="0051"), now=NOW)
        assert declined.value.provider == "paystack"
        assert declined.value.decline_code == "insufficient_funds"
        assert await sandbox.listed("payments", provider="fedapay") == []
        assert failovers("paystack", "fedapay", "unavailable") == before
        assert router.breaker(ProviderName.paystack).consecutive_failures == 0

    async def test_an_unknown_paystack_outcome_is_never_tried_at_fedapay(
        self, sandbox: LiveSandbox, impatient_providers: dict[ProviderName, PaymentProvider]
    ) -> None:
        router = make_router(impatient_providers)
        before = failovers("paystack", "fedapay", "unavailable")
        with pytest.raises(errors.OutcomeUnknown):
            await router.collect(builders.mobile_money(last_four="0052"), now=NOW)
        assert await sandbox.listed("payments", provider="fedapay") == []
        assert len(await sandbox.listed("payments", provider="paystack")) == 1
        assert failovers("paystack", "fedapay", "unavailable") == before
        assert router.breaker(ProviderName.paystack).consecutive_failures == 1

    async def test_an_open_circuit_skips_paystack_until_a_trial_closes_it(
        self, sandbox: LiveSandbox, providers: dict[ProviderName, PaymentProvider]
    ) -> None:
        router = make_router(providers)
        await force(sandbox, "paystack", "outage")
        for _ in range(FAILURE_THRESHOLD):
            await router.collect(builders.mobile_money(), now=NOW)
        breaker = router.breaker(ProviderName.paystack)
        assert state(breaker) is CircuitState.open
        await force(sandbox, "paystack", None)
        skipped_before = failovers("paystack", "fedapay", "circuit_open")
        within = await router.collect(builders.mobile_money(), now=NOW + timedelta(seconds=29))
        assert within.provider is ProviderName.fedapay
        assert failovers("paystack", "fedapay", "circuit_open") == skipped_before + 1
        assert await sandbox.listed("payments", provider="paystack") == []
        after = await router.collect(builders.mobile_money(), now=NOW + timedelta(seconds=31))
        assert after.provider is ProviderName.paystack
        assert state(breaker) is CircuitState.closed
        assert len(await sandbox.listed("payments", provider="fedapay")) == FAILURE_THRESHOLD + 1

    async def test_with_every_provider_down_it_says_who_was_tried(
        self, sandbox: LiveSandbox, providers: dict[ProviderName, PaymentProvider]
    ) -> None:
        router = make_router(providers)
        await force(sandbox, "paystack", "outage")
        await force(sandbox, "fedapay", "outage")
        with pytest.raises(errors.NoProviderAvailable) as none:
            await router.collect(builders.mobile_money(), now=NOW)
        assert [name for name, _ in none.value.attempts] == ["paystack", "fedapay"]
        assert await sandbox.listed("payments", provider="paystack") == []
        assert await sandbox.listed("payments", provider="fedapay") == []

    async def test_a_wave_customer_with_a_return_url_goes_where_it_is_forwarded(
        self, sandbox: LiveSandbox, providers: dict[ProviderName, PaymentProvider]
    ) -> None:
        router = make_router(providers)
        before = failovers("paystack", "fedapay", "return_url_not_forwarded")
        request = builders.mobile_money(operator=MobileOperator.wave, return_url="https://shop.test/back")
        result = await router.collect(request, now=NOW)
        assert result.provider is ProviderName.fedapay
        assert failovers("paystack", "fedapay", "return_url_not_forwarded") == before + 1
        assert await sandbox.listed("payments", provider="paystack") == []
        assert result.redirect_url is not None
        async with httpx.AsyncClient() as browser:
            page = await browser.get(result.redirect_url)
        assert page.status_code == 303
        assert page.headers["location"] == "https://shop.test/back"
        # Paystack's circuit saw no call, so it stays as it was.
        assert router.breaker(ProviderName.paystack).consecutive_failures == 0

    @pytest.mark.parametrize(
        ("operator", "return_url"),
        [(MobileOperator.wave, None), (MobileOperator.orange, "https://shop.test/back")],
        ids=["wave-without-return-url", "orange-prompted-on-the-phone"],
    )
    async def test_a_customer_who_never_leaves_the_phone_stays_on_the_first_provider(
        self,
        sandbox: LiveSandbox,
        providers: dict[ProviderName, PaymentProvider],
        operator: MobileOperator,
        return_url: str | None,
    ) -> None:
        router = make_router(providers)
        result = await router.collect(builders.mobile_money(operator=operator, return_url=return_url), now=NOW)
        assert result.provider is ProviderName.paystack
        assert await sandbox.listed("payments", provider="fedapay") == []

    async def test_a_route_where_no_provider_forwards_the_return_url_says_so(
        self, sandbox: LiveSandbox, providers: dict[ProviderName, PaymentProvider]
    ) -> None:
        router = CollectionRouter(
            providers,
            routes=parse_routes({"XOF:mobile_money": ["paystack"]}),
            failure_threshold=FAILURE_THRESHOLD,
            open_seconds=OPEN_SECONDS,
        )
        request = builders.mobile_money(operator=MobileOperator.wave, return_url="https://shop.test/back")
        with pytest.raises(errors.NoProviderAvailable) as none:
            await router.collect(request, now=NOW)
        assert none.value.attempts == [("paystack", "it cannot send the customer back to return_url")]
        assert await sandbox.listed("payments", provider="paystack") == []

    async def test_cards_follow_their_own_route(
        self, sandbox: LiveSandbox, providers: dict[ProviderName, PaymentProvider]
    ) -> None:
        router = make_router(providers)
        result = await router.collect(builders.card("pm_card_visa"), now=NOW)
        assert result.provider is ProviderName.stripe
        assert router.route("XOF", PaymentMethod.card) == [ProviderName.stripe]

    async def test_a_currency_without_a_route_is_refused_before_any_call(
        self, sandbox: LiveSandbox, providers: dict[ProviderName, PaymentProvider]
    ) -> None:
        router = make_router(providers)
        with pytest.raises(errors.NoRoute):
            await router.collect(builders.mobile_money(currency="GHS", amount_minor=100), now=NOW)
        assert await sandbox.listed("payments", provider="paystack") == []

    def test_routes_that_name_an_unconfigured_provider_are_refused(self) -> None:
        with pytest.raises(ValueError, match="not configured"):
            CollectionRouter({}, routes=parse_routes({"XOF:card": ["stripe"]}), failure_threshold=1, open_seconds=1.0)


class TestCircuitBreaker:
    def test_opens_after_the_threshold_of_consecutive_failures(self) -> None:
        breaker = CircuitBreaker("paystack", failure_threshold=3, open_seconds=10.0)
        breaker.record_failure(NOW)
        breaker.record_failure(NOW)
        assert breaker.allow(NOW)
        breaker.record_failure(NOW)
        assert state(breaker) is CircuitState.open
        assert not breaker.allow(NOW + timedelta(seconds=9.9))

    def test_an_answer_resets_the_count(self) -> None:
        breaker = CircuitBreaker("paystack", failure_threshold=2, open_seconds=10.0)
        breaker.record_failure(NOW)
        breaker.record_answer()
        breaker.record_failure(NOW)
        assert state(breaker) is CircuitState.closed

    def test_half_open_lets_one_trial_through_and_reopens_if_it_fails(self) -> None:
        breaker = CircuitBreaker("paystack", failure_threshold=1, open_seconds=10.0)
        breaker.record_failure(NOW)
        later = NOW + timedelta(seconds=10)
        assert breaker.allow(later)
        assert state(breaker) is CircuitState.half_open
        assert not breaker.allow(later), "only one trial at a time"
        breaker.record_failure(later)
        assert state(breaker) is CircuitState.open
        assert not breaker.allow(later + timedelta(seconds=9))

    def test_an_unrelated_error_during_the_trial_frees_it(self) -> None:
        breaker = CircuitBreaker("paystack", failure_threshold=1, open_seconds=10.0)
        breaker.record_failure(NOW)
        later = NOW + timedelta(seconds=10)
        assert breaker.allow(later)
        breaker.release()
        assert breaker.allow(later)
