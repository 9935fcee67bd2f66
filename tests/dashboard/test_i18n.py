"""English and French: every label in both, the choice of language, and
numbers, amounts, days and durations written as each language writes them."""

from __future__ import annotations

import re
import string
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest

from sika.core import invariants
from sika.dashboard import app as dashboard_app
from sika.dashboard import i18n
from sika.payments import models as payments_models
from sika.webhooks import schemas as webhooks_schemas
from tests.dashboard import pages
from tests.dashboard.conftest import DASHBOARD


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_label_has_both_texts_with_the_same_placeholders() -> None:
    for key, (english, french) in i18n.MESSAGES.items():
        assert english.strip(), key
        assert french.strip(), key
        assert _fields(english) == _fields(french), key


def test_every_key_the_templates_use_exists() -> None:
    used: set[str] = set()
    for template in Path(dashboard_app.TEMPLATES_DIR).glob("*.html"):
        # Whole keys only; keys built with ``~`` are checked against the domains' values below.
        used |= set(re.findall(r"""\bt\(["']([a-z_.]+)["']\s*[,)]""", template.read_text()))
    assert len(used) > 60
    assert sorted(used - set(i18n.MESSAGES)) == []


def test_every_word_the_domains_show_is_translated() -> None:
    """Built keys (``check.<name>``, ``status.<state>``, ``severity.<level>``) for every value there is."""
    wanted = {f"check.{found.name}" for found in invariants.load()}
    wanted |= {f"status.{status.value}" for status in webhooks_schemas.EventStatus}
    payment_statuses = (*payments_models.COLLECTION_STATUSES, *payments_models.PAYOUT_STATUSES)
    wanted |= {f"status.{status}" for status in payment_statuses}
    wanted |= {"severity.info", "severity.warning", "severity.critical"}
    wanted |= {"alerts.filter_open", "alerts.filter_acknowledged", "alerts.filter_all"}
    assert sorted(wanted - set(i18n.MESSAGES)) == []
    # The English of each check is its domain's own description, word for word.
    for found in invariants.load():
        assert i18n.MESSAGES[f"check.{found.name}"][0] == found.description


@pytest.mark.parametrize(
    ("query", "cookie", "header", "chosen"),
    [
        (None, None, None, "en"),
        (None, None, "fr-FR,fr;q=0.9,en;q=0.8", "fr"),
        (None, None, "en-GB,en;q=0.9,fr;q=0.8", "en"),
        (None, None, "de-DE,de;q=0.9,fr;q=0.5", "fr"),
        (None, None, "de, es", "en"),
        (None, None, "fr;q=0.2, en;q=0.7", "en"),
        (None, None, "fr;q=zero, en", "en"),
        (None, "fr", "en", "fr"),
        ("en", "fr", "fr", "en"),
        ("fr", None, "en", "fr"),
        ("xx", None, "fr", "fr"),
    ],
)
def test_the_language_is_chosen_query_then_cookie_then_browser(
    query: str | None, cookie: str | None, header: str | None, chosen: str
) -> None:
    assert i18n.choose(query=query, cookie=cookie, accept_language=header) == chosen


async def test_lang_fr_switches_the_pages_and_is_remembered(operator: httpx.AsyncClient) -> None:
    english = await operator.get(f"{DASHBOARD}/")
    assert '<html lang="en">' in english.text
    assert "Ledger health" in english.text
    french = await operator.get(f"{DASHBOARD}/?lang=fr")
    assert '<html lang="fr">' in french.text
    text = pages.text(french.text)
    assert "Santé du grand livre" in text
    assert "Encaissements, décaissements et séquestres par jour, 14 derniers jours (UTC)" in text
    assert "Ledger health" not in text
    assert 'href="/dashboard/?lang=en"' in french.text
    # Remembered: the next page, asked for without ?lang, is French too, until switched back.
    assert "Paiements bloqués" in pages.text((await operator.get(f"{DASHBOARD}/payments/stuck")).text)
    assert "Stuck payments" in pages.text((await operator.get(f"{DASHBOARD}/payments/stuck?lang=en")).text)
    assert "Stuck payments" in pages.text((await operator.get(f"{DASHBOARD}/payments/stuck")).text)


async def test_the_browser_s_language_is_used_when_none_was_chosen(client: httpx.AsyncClient) -> None:
    french = await client.get(f"{DASHBOARD}/login", headers={"Accept-Language": "fr-CI,fr;q=0.9"})
    assert "Connectez-vous avec une clé d'API ayant le rôle admin ou support." in pages.text(french.text)
    english = await client.get(f"{DASHBOARD}/login", headers={"Accept-Language": "en-US"})
    assert "Sign in with an API key that has the admin or support scope." in pages.text(english.text)


async def test_every_page_renders_in_french_without_an_english_label_left(
    operator: httpx.AsyncClient, open_alert: str
) -> None:
    english_only = {english for english, french in i18n.MESSAGES.values() if english != french and len(english) > 3}
    for path in (
        "/",
        "/alerts",
        "/alerts?status=all",
        "/payments/stuck",
        "/webhooks",
        "/escrows",
        "/proofs",
        "/mandates",
        "/transfers",
        "/instalments",
        "/promo-codes",
    ):
        response = await operator.get(f"{DASHBOARD}{path}", headers={"Accept-Language": "fr"})
        assert response.status_code == 200
        text = pages.text(response.text)
        leftover = sorted(label for label in english_only if re.search(rf"(?<!\w){re.escape(label)}(?!\w)", text))
        assert leftover == [], path


def test_numbers_and_amounts_are_written_per_language() -> None:
    assert i18n.number(1_250_000, "en") == "1,250,000"
    assert i18n.number(1_250_000, "fr") == "1\u202f250\u202f000"
    assert i18n.amount(1_250_000, "XOF", "en") == "1,250,000 XOF"
    assert i18n.amount(1_250_000, "XOF", "fr") == "1\u202f250\u202f000 XOF"
    assert i18n.amount(123_456, "EUR", "en") == "1,234.56 EUR"
    assert i18n.amount(123_456, "EUR", "fr") == "1\u202f234,56 EUR"
    assert i18n.amount(5, "EUR", "en") == "0.05 EUR"
    assert i18n.amount(0, "GHS", "fr") == "0,00 GHS"


def test_days_instants_and_durations_are_written_per_language() -> None:
    assert i18n.day(date(2026, 11, 21), "en") == "Nov 21"
    assert i18n.day(date(2026, 8, 3), "fr") == "3 août"
    assert i18n.timestamp(datetime(2026, 11, 21, 14, 3, 59, tzinfo=UTC)) == "2026-11-21 14:03 UTC"
    assert i18n.duration(45.9, "en") == "45 s"
    assert i18n.duration(300, "en") == "5 min"
    assert i18n.duration(7_530, "en") == "2 h 5 min"
    assert i18n.duration(3 * 86_400 + 4 * 3_600 + 59, "fr") == "3 j 4 h"
    assert i18n.duration(20 * 86_400 + 30, "en") == "20 d"
    assert i18n.duration(-5, "en") == "0 s"


def test_major_units_leave_the_code_to_the_column() -> None:
    assert i18n.major_units(123_456, "EUR", "fr") == "1\u202f234,56"
    assert i18n.major_units(-2_500, "XOF", "en") == "-2,500"
