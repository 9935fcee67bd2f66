"""A discount is computed in integers on the currency's minor unit, rounded
half-up, and is never below 0 nor above the base."""

from __future__ import annotations

import pytest

from sika.core.money import UnknownCurrency
from sika.promos.models import PromoCode
from sika.promos.service import PromoCodeNotApplicable, discount_minor


def _percent(bps: int) -> PromoCode:
    return PromoCode(percent_off_bps=bps, amount_off_minor=None)


def _amount(minor: int, currency: str) -> PromoCode:
    return PromoCode(percent_off_bps=None, amount_off_minor=minor, currency=currency)


@pytest.mark.parametrize(
    ("bps", "base", "expected"),
    [
        (1_000, 25_000, 2_500),  # 10 % of 25,000 francs
        (1, 25_000, 3),  # 2.5 francs: half-up to 3
        (1, 24_999, 2),  # 2.4999 francs: down to 2
        (3_333, 100, 33),  # 33.33 francs
        (5_000, 3, 2),  # 1.5 francs: half-up to 2
        (10_000, 7_777, 7_777),  # all of it
    ],
)
def test_percent_off_in_xof_rounds_half_up_to_the_franc(bps: int, base: int, expected: int) -> None:
    assert discount_minor(_percent(bps), base_minor=base, currency="XOF") == expected


@pytest.mark.parametrize(
    ("bps", "base", "expected"),
    [
        (1_500, 1_999, 300),  # 15 % of 19.99 € is 2.9985 €: half-up to 3.00 €
        (250, 100, 3),  # 2.5 % of 1.00 € is 2.5 cents: half-up to 3
        (250, 99, 2),  # 2.475 cents: down to 2
        (1, 5_000, 1),  # 0.5 cent: half-up to 1
        (1, 4_999, 0),  # 0.4999 cent: nothing
    ],
)
def test_percent_off_in_eur_rounds_half_up_to_the_cent(bps: int, base: int, expected: int) -> None:
    assert discount_minor(_percent(bps), base_minor=base, currency="EUR") == expected


def test_an_amount_off_is_never_above_the_base() -> None:
    assert discount_minor(_amount(5_000, "XOF"), base_minor=3_000, currency="XOF") == 3_000
    assert discount_minor(_amount(500, "EUR"), base_minor=1_999, currency="EUR") == 500


def test_nothing_off_nothing() -> None:
    assert discount_minor(_percent(10_000), base_minor=0, currency="XOF") == 0
    assert discount_minor(_amount(100, "XOF"), base_minor=0, currency="XOF") == 0


def test_an_unknown_currency_is_refused() -> None:
    with pytest.raises(UnknownCurrency):
        discount_minor(_percent(100), base_minor=100, currency="ABC")


def test_a_code_of_another_currency_is_not_applied() -> None:
    with pytest.raises(PromoCodeNotApplicable):
        discount_minor(_amount(500, "EUR"), base_minor=10_000, currency="XOF")
