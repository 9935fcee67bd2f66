"""The foundation's CLI commands against a real database: migrate and keys."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sika.core import migrate
from tests.support import database

SIKA = str(Path(sys.executable).with_name("sika"))


def sika(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "COLUMNS": "250"}
    return subprocess.run([SIKA, *args], capture_output=True, text=True, env=env, timeout=120, check=False)


@pytest.fixture
def empty_database_url(pg_url: str) -> Iterator[str]:
    name = database.create_empty(pg_url)
    yield database.with_database(pg_url, name)
    database.drop(pg_url, name)


def test_migrate_up_current_down(empty_database_url: str) -> None:
    assert sika(empty_database_url, "migrate", "current").stdout.strip() == "(empty database)"

    assert sika(empty_database_url, "migrate", "up").returncode == 0
    head = migrate.head_revision()
    assert sika(empty_database_url, "migrate", "current").stdout.strip() == head

    assert sika(empty_database_url, "migrate", "down").returncode == 0
    after_down = sika(empty_database_url, "migrate", "current").stdout.strip()
    assert after_down not in (head, "(empty database)")

    assert sika(empty_database_url, "migrate", "down", "base").returncode == 0
    assert sika(empty_database_url, "migrate", "current").stdout.strip() == "(empty database)"


def test_migrate_refuses_an_unknown_action(empty_database_url: str) -> None:
    result = sika(empty_database_url, "migrate", "sideways")
    assert result.returncode == 2
    assert "use up, down or current" in result.stderr


def test_keys_create_list_revoke(database_url: str) -> None:
    created = sika(database_url, "keys", "create", "--name", "ops laptop", "--scope", "support", "--scope", "read")
    assert created.returncode == 0, created.stderr
    key_id = next(word for word in created.stdout.split() if word.startswith("key_"))
    secret = next(word for word in created.stdout.split() if word.startswith("sika_"))

    listed = sika(database_url, "keys", "list").stdout
    assert key_id in listed
    assert "ops laptop" in listed
    assert secret not in listed

    assert sika(database_url, "keys", "revoke", key_id).returncode == 0
    assert key_id not in sika(database_url, "keys", "list").stdout
    assert key_id in sika(database_url, "keys", "list", "--include-revoked").stdout


def test_keys_revoke_names_an_unknown_key_in_one_line(database_url: str) -> None:
    result = sika(database_url, "keys", "revoke", "key_nowhere")
    assert result.returncode == 2
    assert result.stderr.strip() == "No API key key_nowhere: see sika keys list."


def test_keys_create_refuses_an_unknown_scope(database_url: str) -> None:
    result = sika(database_url, "keys", "create", "--name", "x", "--scope", "root")
    assert result.returncode == 2
    assert sika(database_url, "keys", "list").stdout.count("key_") == 0


def test_production_refuses_to_start_naming_every_problem(database_url: str) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SIKA_ENV": "production",
        "SIKA_DEBUG": "true",
        "SIKA_STRIPE_WEBHOOK_SECRET": "whsec_sandbox_stripe",
    }
    result = subprocess.run(
        [SIKA, "migrate", "current"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 2
    stderr = " ".join(result.stderr.split())
    assert "Refusing to start in production" in stderr
    assert "SIKA_DEBUG is on" in stderr
    assert "SIKA_STRIPE_WEBHOOK_SECRET is left at its sandbox default" in stderr
    # Production is given every secret: none is generated for it, none has a default.
    assert "SIKA_PAYSTACK_SECRET_KEY is missing" in stderr
    assert "SIKA_PARTY_TOKEN_KEYS is empty" in stderr
    assert "SIKA_DASHBOARD_SESSION_SECRET is missing" in stderr
    assert "SIKA_OUTBOUND_SECRETS_KEY is missing, left at its default or shorter than 32 characters" in stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "sika.example.com"])  # noqa: S104
def test_run_outside_production_refuses_a_non_loopback_address(
    empty_database_url: str, tmp_path: Path, host: str
) -> None:
    env = {**os.environ, "DATABASE_URL": empty_database_url, "SIKA_PGDATA_DIR": str(tmp_path / "pgdata")}
    env.pop("SIKA_ENV", None)
    result = subprocess.run(
        [SIKA, "run", "--host", host, "--port", "1"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 2
    stderr = " ".join(result.stderr.split())
    assert f"Refusing to serve SIKA_ENV=development on {host}" in stderr
    assert "--insecure-dev" in stderr
    # Refused before anything: the database was not even migrated.
    assert sika(empty_database_url, "migrate", "current").stdout.strip() == "(empty database)"


def test_run_outside_production_refuses_a_non_loopback_sandbox(empty_database_url: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": empty_database_url,
        "SIKA_PGDATA_DIR": str(tmp_path / "pgdata"),
        "SIKA_ENV": "test",
        "SIKA_SANDBOX_HOST": "0.0.0.0",  # noqa: S104
    }
    result = subprocess.run([SIKA, "run"], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert result.returncode == 2
    assert "Refusing to serve SIKA_ENV=test on 0.0.0.0" in " ".join(result.stderr.split())


def test_keys_create_refuses_an_expiry_already_past(database_url: str) -> None:
    result = sika(database_url, "keys", "create", "--name", "x", "--scope", "read", "--expires-at", "2020-01-01")
    assert result.returncode == 2
    assert "already past" in result.stderr
    assert sika(database_url, "keys", "list").stdout.count("key_") == 0
