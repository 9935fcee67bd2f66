"""No secret is written in the code: outside production an unset secret is
generated once into the data folder and shared by every process of the
checkout; production generates nothing. What earlier versions shipped as
development defaults (public, since they were in the code) opens nothing."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from itsdangerous import URLSafeTimedSerializer
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sika import worker as jobs_worker
from sika.app import DASHBOARD_PATH, create_app
from sika.auth import service as auth_service
from sika.auth.scopes import Scope
from sika.core import clock, db, local_secrets
from sika.core.config import Environment, Settings
from sika.dashboard import auth as dashboard_auth
from tests.conftest import TEST_ACTOR
from tests.support.factories import create_party, party_headers

OLD_PARTY_TOKEN_KEY = "change-me-party-token-key-for-development-only"
OLD_DASHBOARD_SECRET = "change-me-dashboard-session-secret-for-development"
OLD_PROVIDER_SECRETS = {
    "sk_test_sandbox",
    "sk_sandbox_fedapay",
    "wh_sandbox_fedapay",
    "sk_test_stripe_sandbox",
    "whsec_sandbox_stripe",
}
GENERATED_VALUES = (
    "PAYSTACK_SECRET_KEY",
    "FEDAPAY_SECRET_KEY",
    "FEDAPAY_WEBHOOK_SECRET",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "DASHBOARD_SESSION_SECRET",
    "OUTBOUND_SECRETS_KEY",
)
GENERATED = {"PARTY_TOKEN_KEYS", *GENERATED_VALUES}
"""Every secret setting: none has a value in the code."""


def development(data_dir: Path, **values: Any) -> Settings:
    return Settings(ENV=Environment.development, PGDATA_DIR=data_dir / "pgdata", **values)


def secrets_of(settings: Settings) -> dict[str, str]:
    found = {"PARTY_TOKEN_KEYS": settings.PARTY_TOKEN_KEYS[settings.PARTY_TOKEN_ACTIVE_KID].get_secret_value()}
    for name in GENERATED_VALUES:
        value = getattr(settings, name)
        assert isinstance(value, SecretStr)
        found[name] = value.get_secret_value()
    return found


class TestGeneration:
    def test_unset_secrets_are_generated_into_the_data_folder_and_kept(self, tmp_path: Path) -> None:
        first = secrets_of(development(tmp_path))
        assert first.keys() == GENERATED
        assert all(len(value) >= 43 for value in first.values())
        assert not set(first.values()) & (OLD_PROVIDER_SECRETS | {OLD_PARTY_TOKEN_KEY, OLD_DASHBOARD_SECRET})
        assert len(set(first.values())) == len(first)
        assert first["STRIPE_WEBHOOK_SECRET"].startswith("whsec_")

        folder = tmp_path / local_secrets.SECRETS_FOLDER
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        for name in GENERATED:
            path = folder / name.lower()
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert path.read_text().strip() == first[name]
        assert sorted(p.name for p in folder.iterdir()) == sorted(n.lower() for n in GENERATED)

        # The next start, or another process of the same checkout, reads the same secrets.
        assert secrets_of(development(tmp_path)) == first
        # Another checkout has its own.
        elsewhere = secrets_of(development(tmp_path / "elsewhere"))
        assert not set(elsewhere.values()) & set(first.values())

    def test_the_generated_key_sits_under_the_active_kid(self, tmp_path: Path) -> None:
        settings = development(tmp_path, PARTY_TOKEN_ACTIVE_KID="2026-11")
        assert list(settings.PARTY_TOKEN_KEYS) == ["2026-11"]

    def test_a_secret_that_is_set_is_used_and_nothing_is_generated_for_it(self, tmp_path: Path) -> None:
        settings = development(
            tmp_path,
            DASHBOARD_SESSION_SECRET=SecretStr("mine-and-at-least-32-characters-long"),
            PARTY_TOKEN_KEYS={"k9": SecretStr("x" * 40)},
            STRIPE_SECRET_KEY=None,
        )
        assert SecretStr("mine-and-at-least-32-characters-long") == settings.DASHBOARD_SESSION_SECRET
        assert {"k9": SecretStr("x" * 40)} == settings.PARTY_TOKEN_KEYS
        assert settings.STRIPE_SECRET_KEY is None  # a provider switched off stays off
        generated = {p.name for p in (tmp_path / local_secrets.SECRETS_FOLDER).iterdir()}
        assert generated == {
            "paystack_secret_key",
            "fedapay_secret_key",
            "fedapay_webhook_secret",
            "stripe_webhook_secret",
            "outbound_secrets_key",
        }

    def test_production_generates_nothing(self, tmp_path: Path) -> None:
        settings = Settings(ENV=Environment.production, PGDATA_DIR=tmp_path / "pgdata")
        assert settings.PARTY_TOKEN_KEYS == {}
        assert settings.DASHBOARD_SESSION_SECRET is None
        assert settings.PAYSTACK_SECRET_KEY is None
        assert not (tmp_path / local_secrets.SECRETS_FOLDER).exists()

    def test_processes_starting_together_agree(self, tmp_path: Path) -> None:
        context = multiprocessing.get_context("spawn")
        with context.Pool(4) as pool:
            values = pool.starmap(local_secrets.load_or_create, [(tmp_path, "shared")] * 8)
        assert len(set(values)) == 1
        assert (tmp_path / local_secrets.SECRETS_FOLDER / "shared").read_text().strip() == values[0]
        assert [p.name for p in (tmp_path / local_secrets.SECRETS_FOLDER).iterdir()] == ["shared"]

    def test_an_emptied_file_is_named(self, tmp_path: Path) -> None:
        local_secrets.load_or_create(tmp_path, "x")
        (tmp_path / local_secrets.SECRETS_FOLDER / "x").write_text("")
        with pytest.raises(RuntimeError, match="is empty"):
            local_secrets.load_or_create(tmp_path, "x")


@pytest.fixture
def dev_settings(tmp_path: Path) -> Settings:
    return development(tmp_path, RATE_LIMIT_PER_ADDRESS="100000/minute")


@pytest.fixture
def dev_app(dev_settings: Settings, database_url: str, engine: AsyncEngine) -> httpx.AsyncClient:
    """A development configuration as ``sika run`` makes it, serving over ASGI."""
    jobs_worker.build(database_url)
    app = create_app(dev_settings, database_url=database_url, engine=engine)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sika.test")


async def _key(sessions: async_sessionmaker[AsyncSession], scope: Scope) -> tuple[str, str]:
    async with db.transaction(sessions) as session:
        created = await auth_service.create_key(
            session, name="k", scopes=[scope.value], expires_at=None, actor=TEST_ACTOR
        )
    return created.key.id, created.secret


async def test_a_party_token_forged_with_the_old_development_key_is_refused(
    dev_app: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    key_id, secret = await _key(sessions, Scope.platform)
    platform = {"Authorization": f"Bearer {secret}"}
    async with dev_app as client:
        party = await create_party(client, platform)
        now = int(clock.now().timestamp())
        claims = {
            "iss": "sika",
            "aud": "sika-party",
            "sub": party["id"],
            "iat": now,
            "exp": now + 600,
            "jti": "forged",
            "minted_by": key_id,
        }
        forged = jwt.encode(claims, OLD_PARTY_TOKEN_KEY, algorithm="HS256", headers={"kid": "k1"})
        refused = await client.get(f"/v1/parties/{party['id']}", headers={"Authorization": f"Bearer {forged}"})
        as_party = await party_headers(client, platform, party["id"])
        genuine = await client.get(f"/v1/parties/{party['id']}", headers=as_party)
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_party_token"
    assert genuine.status_code == 200


async def test_a_dashboard_cookie_forged_with_the_old_default_secret_is_refused(
    dev_app: httpx.AsyncClient, dev_settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    key_id, _ = await _key(sessions, Scope.admin)
    forged = URLSafeTimedSerializer(OLD_DASHBOARD_SECRET, salt=dashboard_auth.SESSION_SALT).dumps(
        {"k": key_id, "c": "csrf"}
    )
    async with dev_app as client:
        client.cookies.set(dashboard_auth.SESSION_COOKIE, forged)
        refused = await client.get(f"{DASHBOARD_PATH}/")
        assert dev_settings.DASHBOARD_SESSION_SECRET is not None
        signer = dashboard_auth.Signer(dev_settings.DASHBOARD_SESSION_SECRET, max_age_seconds=60)
        genuine_cookie, _ = signer.issue_session(key_id=key_id)
        client.cookies.set(dashboard_auth.SESSION_COOKIE, genuine_cookie)
        genuine = await client.get(f"{DASHBOARD_PATH}/")
    assert refused.status_code == 303
    assert refused.headers["location"].startswith(f"{DASHBOARD_PATH}/login")
    assert genuine.status_code == 200
