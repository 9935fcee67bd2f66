"""The house keeps its rooms: every domain folder has the same files, the
domains with money state their invariants, and no module or function grows
past the size a reader can hold (docs/architecture.md, CONTRIBUTING.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sika

PACKAGE = Path(sika.__file__).parent
MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 80
UNSIZED = {"migrations", "sandbox"}
"""Migrations are history and the sandbox plays other companies' APIs: neither is held to the sizes."""

NOT_DOMAINS = {
    "api": "the HTTP kit every router stands on",
    "core": "config, database, money, errors, ids, clock, invariants registry",
    "dashboard": "operator pages that read through the domains",
    "jobs": "the procrastinate app and task declaration",
    "migrations": "Alembic",
    "providers": "the adapters to the PSPs: a boundary of frozen dataclasses, no tables",
    "sandbox": "the fake PSPs, standing alone",
}
DOMAIN_FILES = {"models.py", "schemas.py", "repository.py", "service", "router.py"}
WITHOUT = {
    "idempotency": {"schemas.py", "router.py"},  # no route of its own: the HTTP kit claims keys through its service
    "search": {"models.py"},  # owns no table: it reads the other domains' rows
    "system": {"models.py", "schemas.py"},  # health, readiness and metrics own no table and answer plain shapes
}
"""Files a domain goes without, and why."""
WITH_MONEY = {"escrow", "ledger", "wallets", "payments", "mandates", "proofs", "transfers", "instalments", "promos"}


def domains() -> list[str]:
    return sorted(
        path.name
        for path in PACKAGE.iterdir()
        if path.is_dir() and (path / "__init__.py").exists() and path.name not in NOT_DOMAINS
    )


def present(domain: str) -> set[str]:
    folder = PACKAGE / domain
    names = {path.name for path in folder.iterdir() if path.suffix == ".py" or path.is_dir()}
    # ``service`` is one module or, for a domain with several flows, a package of them.
    if "service.py" in names or (folder / "service" / "__init__.py").exists():
        names.add("service")
    return names


def test_the_domains_are_the_ones_the_map_names() -> None:
    assert domains() == [
        "alerts",
        "audit",
        "auth",
        "escrow",
        "events",
        "idempotency",
        "instalments",
        "ledger",
        "mandates",
        "outbound",
        "p2p",
        "parties",
        "payments",
        "platforms",
        "promos",
        "proofs",
        "search",
        "system",
        "transfers",
        "wallets",
        "webhooks",
    ]


@pytest.mark.parametrize("domain", domains())
def test_every_domain_has_the_same_files(domain: str) -> None:
    expected = DOMAIN_FILES - WITHOUT.get(domain, set())
    assert expected <= present(domain), f"sika.{domain} lacks {sorted(expected - present(domain))}"
    assert not (present(domain) & WITHOUT.get(domain, set())), f"sika.{domain} now has what WITHOUT says it lacks"


@pytest.mark.parametrize("domain", sorted(WITH_MONEY))
def test_every_domain_with_money_states_its_invariants(domain: str) -> None:
    assert (PACKAGE / domain / "invariants.py").exists()


def sized_sources() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if not UNSIZED & set(path.relative_to(PACKAGE).parts))


def test_no_source_file_passes_the_line_limit() -> None:
    too_long = {
        str(path.relative_to(PACKAGE)): lines
        for path in sized_sources()
        if (lines := len(path.read_text().splitlines())) > MAX_FILE_LINES
    }
    assert too_long == {}


def test_no_function_passes_the_line_limit() -> None:
    too_long = {}
    for path in sized_sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    too_long[f"{path.relative_to(PACKAGE)}:{node.name}"] = lines
    assert too_long == {}
