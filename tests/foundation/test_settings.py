"""Production refuses to start with any unsafe setting, and names each one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from sika.core.config import Environment, InsecureSettings, Settings

STRONG = "x" * 40


def safe_production(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "ENV": Environment.production,
        "DATABASE_URL": "postgresql://sika@db/sika",
        "PAYSTACK_SECRET_KEY": SecretStr("sk_live_" + STRONG),
        "FEDAPAY_SECRET_KEY": SecretStr("sk_live_" + STRONG),
        "FEDAPAY_WEBHOOK_SECRET": SecretStr("wh_live_" + STRONG),
        "STRIPE_SECRET_KEY": SecretStr("sk_live_" + STRONG),
        "STRIPE_WEBHOOK_SECRET": SecretStr("whsec_" + STRONG),
        "PARTY_TOKEN_KEYS": {"2026-11": SecretStr(STRONG)},
        "PARTY_TOKEN_ACTIVE_KID": "2026-11",
        "DASHBOARD_SESSION_SECRET": SecretStr(STRONG),
        "OUTBOUND_SECRETS_KEY": SecretStr(STRONG),
        "CORS_ORIGINS": ["https://app.example.com"],
    }
    values.update(overrides)
    return Settings(**values)


def test_safe_production_settings_start() -> None:
    safe_production().check_safe_to_start()


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        (
            {"ALERT_WEBHOOK_URL": "https://ops.example.com/sika"},
            "SIKA_ALERT_WEBHOOK_URL is set without SIKA_ALERT_WEBHOOK_SECRET to sign it",
        ),
        ({"OUTBOUND_SECRETS_KEY": None}, "SIKA_OUTBOUND_SECRETS_KEY is missing, left at its default or shorter"),
        ({"DEBUG": True}, "SIKA_DEBUG is on"),
        ({"CORS_ORIGINS": ["*"]}, "SIKA_CORS_ORIGINS allows '*'"),
        ({"DATABASE_URL": None}, "DATABASE_URL is missing"),
        ({"PAYSTACK_SECRET_KEY": None}, "SIKA_PAYSTACK_SECRET_KEY is missing"),
        ({"FEDAPAY_WEBHOOK_SECRET": SecretStr("")}, "SIKA_FEDAPAY_WEBHOOK_SECRET is missing"),
        ({"STRIPE_WEBHOOK_SECRET": None}, "SIKA_STRIPE_WEBHOOK_SECRET is missing"),
        (
            {"STRIPE_SECRET_KEY": SecretStr("sk_test_stripe_sandbox")},
            "SIKA_STRIPE_SECRET_KEY is left at its sandbox default",
        ),
        (
            {"PARTY_TOKEN_KEYS": {"k1": SecretStr("change-me-party-key")}, "PARTY_TOKEN_ACTIVE_KID": "k1"},
            "SIKA_PARTY_TOKEN_KEYS[k1] is left at its default",
        ),
        (
            {"PARTY_TOKEN_KEYS": {"k1": SecretStr("short")}, "PARTY_TOKEN_ACTIVE_KID": "k1"},
            "SIKA_PARTY_TOKEN_KEYS[k1] is shorter than 32 characters",
        ),
        (
            {"DASHBOARD_SESSION_SECRET": SecretStr("change-me-dashboard-session-secret-xyz")},
            "SIKA_DASHBOARD_SESSION_SECRET is left at its default",
        ),
        (
            {"DASHBOARD_SESSION_SECRET": SecretStr("short")},
            "SIKA_DASHBOARD_SESSION_SECRET is shorter than 32 characters",
        ),
    ],
)
def test_production_refuses_each_insecure_setting(overrides: dict[str, object], named: str) -> None:
    with pytest.raises(InsecureSettings) as refused:
        safe_production(**overrides).check_safe_to_start()
    assert named in str(refused.value)
    assert refused.value.problems == [p for p in refused.value.problems if p]


def test_all_problems_are_named_at_once() -> None:
    settings = safe_production(DEBUG=True, CORS_ORIGINS=["*"], PAYSTACK_SECRET_KEY=None)
    with pytest.raises(InsecureSettings) as refused:
        settings.check_safe_to_start()
    assert len(refused.value.problems) == 3


def test_defaults_are_fine_outside_production() -> None:
    Settings(ENV=Environment.development).check_safe_to_start()
    Settings(ENV=Environment.test, DEBUG=True, CORS_ORIGINS=["*"]).check_safe_to_start()


def test_the_readme_says_where_the_admin_key_and_generated_secrets_live(tmp_path: Path) -> None:
    """They belong to the database in the data folder, so they sit beside it (a second
    Sika with its own SIKA_PGDATA_DIR keeps its own); the README says so precisely."""
    settings = Settings(ENV=Environment.test, PGDATA_DIR=tmp_path / "elsewhere" / "pgdata")
    assert settings.local_dir == tmp_path / "elsewhere"
    readme = " ".join((Path(__file__).parents[2] / "README.md").read_text().split())
    assert "The key is also saved in `admin-key` in the parent folder of `SIKA_PGDATA_DIR`" in readme
    assert "generated on first start into `secrets/` beside the data folder" in readme


def test_provider_urls_left_unset_follow_the_sandbox() -> None:
    moved = Settings(ENV=Environment.test, SANDBOX_PORT=9123)
    assert (moved.PAYSTACK_BASE_URL, moved.FEDAPAY_BASE_URL, moved.STRIPE_BASE_URL) == (
        "http://127.0.0.1:9123/paystack",
        "http://127.0.0.1:9123/fedapay",
        "http://127.0.0.1:9123/stripe",
    )
    assert Settings(ENV=Environment.test, SANDBOX_HOST="0.0.0.0").FEDAPAY_BASE_URL == "http://127.0.0.1:8100/fedapay"  # noqa: S104 (no binding: where it is reached from)
    assert Settings(ENV=Environment.test, SANDBOX_HOST="::").FEDAPAY_BASE_URL == "http://[::1]:8100/fedapay"
    chosen = Settings(ENV=Environment.test, SANDBOX_PORT=9123, STRIPE_BASE_URL="https://api.stripe.com")
    assert chosen.STRIPE_BASE_URL == "https://api.stripe.com"


def test_request_slots_fit_in_the_pool() -> None:
    assert Settings(ENV=Environment.test, DB_POOL_SIZE=4, DB_REQUEST_SLOTS=4).DB_REQUEST_SLOTS == 4
    assert Settings(ENV=Environment.test, DB_POOL_SIZE=4, DB_REQUEST_SLOTS=0).DB_REQUEST_SLOTS == 0
    # Left unset, the slots follow a pool made smaller than they are.
    assert Settings(ENV=Environment.test, DB_POOL_SIZE=4).DB_REQUEST_SLOTS == 4
    assert Settings(ENV=Environment.test, DB_POOL_SIZE=20).DB_REQUEST_SLOTS == 8
    with pytest.raises(ValueError, match=r"SIKA_DB_REQUEST_SLOTS \(5\) exceeds SIKA_DB_POOL_SIZE \(4\)"):
        Settings(ENV=Environment.test, DB_POOL_SIZE=4, DB_REQUEST_SLOTS=5)
