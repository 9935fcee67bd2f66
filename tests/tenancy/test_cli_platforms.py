"""``sika platforms create|list`` and ``sika keys create --platform``, run in
process against a real database migrated to head (which has ``plt_default``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from sika import cli
from sika.core import db
from sika.core.config import get_settings

Sika = Callable[..., Result]


@pytest.fixture
def sika(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sika]:
    """The ``sika`` command on this test's database (the settings are cached per process)."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    # Wide consoles: the ones made at import took the width of whatever ran the tests.
    monkeypatch.setattr(cli, "console", Console(width=250))
    monkeypatch.setattr(cli, "err_console", Console(stderr=True, width=250))
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(cli.app, list(args))
    get_settings.cache_clear()


def _rows(url: str, query: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(db.libpq_url(url)) as conn:
        return conn.execute(query, params).fetchall()


def _created_id(result: Result, prefix: str) -> str:
    assert result.exit_code == 0, result.output
    return next(word.strip("(),") for word in result.stdout.split() if word.startswith(prefix))


def test_platforms_create_and_list(sika: Sika, database_url: str) -> None:
    platform_id = _created_id(sika("platforms", "create", "--name", "Marché [Abidjan]", "--currency", "xof"), "plt_")

    assert _rows(database_url, "SELECT name, default_currency FROM platforms WHERE id = %s", platform_id) == [
        ("Marché [Abidjan]", "XOF")
    ]
    listed = sika("platforms", "list")
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    # Newest first, the upgraded installation's own platform after it, names shown as written.
    new, old = (next(i for i, line in enumerate(lines) if key in line) for key in (platform_id, "plt_default"))
    assert new < old
    assert "Marché [Abidjan]" in lines[new]
    assert "XOF" in lines[new]


def test_platforms_create_refuses_a_bad_currency_in_one_line(sika: Sika, database_url: str) -> None:
    result = sika("platforms", "create", "--name", "Shop", "--currency", "FRANCS")

    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "currency 3 letters" in result.stderr
    assert _rows(database_url, "SELECT id FROM platforms") == [("plt_default",)]


def test_keys_create_binds_a_key_to_the_named_platform(sika: Sika, database_url: str) -> None:
    platform_id = _created_id(sika("platforms", "create", "--name", "Second shop"), "plt_")

    bound = sika("keys", "create", "--name", "shop backend", "--scope", "platform", "--platform", platform_id)
    support = sika("keys", "create", "--name", "shop support", "--scope", "support", "--platform", platform_id)
    operator = sika("keys", "create", "--name", "ops", "--scope", "support")

    keys: dict[str, object] = {
        _created_id(bound, "key_"): platform_id,
        _created_id(support, "key_"): platform_id,
        _created_id(operator, "key_"): None,
    }
    assert f"bound to {platform_id}" in bound.stdout
    assert "global" in operator.stdout
    assert {
        str(key): platform for key, platform in _rows(database_url, "SELECT id, platform_id FROM auth_api_keys")
    } == keys
    listed = sika("keys", "list").stdout
    assert all(key in listed for key in keys)
    assert listed.count(platform_id) == 2
    assert "(global)" in listed


def test_keys_create_refuses_an_unknown_platform(sika: Sika, database_url: str) -> None:
    result = sika("keys", "create", "--name", "x", "--scope", "platform", "--platform", "plt_nowhere")

    assert result.exit_code == 2
    assert result.stderr.strip() == "No platform plt_nowhere: see sika platforms list."
    assert _rows(database_url, "SELECT count(*) FROM auth_api_keys") == [(0,)]


def test_a_platform_key_must_name_its_platform_once_there_are_several(sika: Sika, database_url: str) -> None:
    only = sika("keys", "create", "--name", "first shop", "--scope", "platform")
    assert _rows(database_url, "SELECT platform_id FROM auth_api_keys WHERE id = %s", _created_id(only, "key_")) == [
        ("plt_default",)
    ]
    _created_id(sika("platforms", "create", "--name", "Second shop"), "plt_")

    result = sika("keys", "create", "--name", "which shop", "--scope", "platform")

    assert result.exit_code == 2
    assert "--platform" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert _rows(database_url, "SELECT count(*) FROM auth_api_keys") == [(1,)]
