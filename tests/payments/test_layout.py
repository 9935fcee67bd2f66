"""Each layer of the payments and wallets domains speaks its own language:
a router is HTTP and never touches the database; services, repositories and
models never know they are served over HTTP."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sika.payments
import sika.wallets

DOMAINS = [Path(sika.payments.__file__).parent, Path(sika.wallets.__file__).parent]
HTTP = ("fastapi", "starlette")
DATABASE = ("sqlalchemy",)


def imported(path: Path) -> set[str]:
    """The top-level packages ``path`` imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("domain", DOMAINS, ids=lambda path: path.name)
def test_the_router_never_imports_the_database(domain: Path) -> None:
    assert imported(domain / "router.py").isdisjoint(DATABASE)


@pytest.mark.parametrize("domain", DOMAINS, ids=lambda path: path.name)
def test_nothing_but_the_router_imports_http(domain: Path) -> None:
    speaking_http = [
        str(path.relative_to(domain))
        for path in sorted(domain.rglob("*.py"))
        if path.name != "router.py" and not imported(path).isdisjoint(HTTP)
    ]
    assert speaking_http == []
