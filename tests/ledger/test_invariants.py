"""The invariant checks find what is wrong, the job turns breaches into alerts and metrics, and
every domain's invariants module registers its checks where every runner finds them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import sika
from sika.alerts import service as alerts_service
from sika.core import clock, db, invariants
from sika.ledger import service as ledger_service
from sika.ledger import tasks
from tests.conftest import TEST_ACTOR
from tests.ledger.conftest import Books

Sessions = async_sessionmaker[AsyncSession]


async def run_checks(sessions: Sessions) -> invariants.Report:
    async with db.transaction(sessions) as session:
        return await invariants.check_all(session)


async def test_a_healthy_ledger_passes_every_check(sessions: Sessions, books: Books) -> None:
    async with db.transaction(sessions) as session:
        hold = await ledger_service.create_transfer(
            session,
            debit_account_id=books.alice,
            credit_account_id=books.bob,
            amount_minor=300,
            currency="XOF",
            code="hold",
            pending=True,
            timeout_seconds=60,
            now=clock.now(),
            actor=TEST_ACTOR,
        )
        await ledger_service.create_transfer(
            session,
            debit_account_id=books.alice,
            credit_account_id=books.bob,
            amount_minor=100,
            currency="XOF",
            code="hold",
            pending=True,
            now=clock.now(),
            actor=TEST_ACTOR,
        )
        await ledger_service.post_pending(
            session, pending_id=hold.id, amount_minor=200, now=clock.now(), actor=TEST_ACTOR
        )
    report = await run_checks(sessions)
    assert report.ok
    assert [(r.domain, r.name) for r in report.results] == [
        ("escrow", "escrow_accounts"),
        ("escrow", "escrow_milestones"),
        ("escrow", "escrow_closed_empty"),
        ("instalments", "instalment_paid_once"),
        ("instalments", "instalment_payment_amounts"),
        ("ledger", "balanced"),
        ("ledger", "account_totals"),
        ("ledger", "balance_flags"),
        ("ledger", "transfer_accounts"),
        ("ledger", "resolutions"),
        ("ledger", "timeouts"),
        ("mandates", "mandate_accounts"),
        ("mandates", "mandate_payee_limits"),
        ("mandates", "mandate_closed_empty"),
        ("outbound", "outbound_delivery_states"),
        ("outbound", "outbound_delivery_platform"),
        ("payments", "collection_credits"),
        ("payments", "payout_holds"),
        ("promos", "promo_codes_uses"),
        ("promos", "promo_codes_uses_per_party"),
        ("proofs", "proof_releases"),
        ("proofs", "proof_required_held"),
        ("transfers", "transfers_ledger"),
        ("wallets", "wallet_accounts"),
        ("wallets", "wallet_open_holds"),
        ("wallets", "wallet_hold_owners"),
    ]


async def test_drifted_totals_are_found_and_alerted_once(sessions: Sessions, books: Books) -> None:
    # Account totals are not append-only, so a bug (or a hand edit) could move them.
    async with db.transaction(sessions) as session:
        await session.execute(
            sa.text("UPDATE ledger_accounts SET credits_posted = credits_posted + 5 WHERE id = :id"), {"id": books.bob}
        )
    report = await run_checks(sessions)
    assert not report.ok
    by_check = {r.name: r for r in report.results}
    assert by_check["balanced"].breach_count == 1
    assert by_check["balanced"].breaches[0].entity_id == "XOF"
    assert by_check["account_totals"].breach_count == 1
    breach = by_check["account_totals"].breaches[0]
    assert breach.entity_id == books.bob
    assert (
        breach.message
        == "totals (debits/credits posted, debits/credits pending) 0/5/0/0 but its transfers sum to 0/0/0/0"
    )
    for _ in range(2):
        async with db.transaction(sessions) as session:
            assert await tasks.record_breaches(session, report) == 2
    async with db.transaction(sessions) as session:
        alerts = await alerts_service.list_alerts(session, kind=tasks.INVARIANT_ALERT_KIND)
    assert sorted((a.entity_type, a.entity_id, a.severity) for a in alerts) == sorted(
        [("currency", "XOF", "critical"), ("ledger_account", books.bob, "critical")]
    )
    assert REGISTRY.get_sample_value("sika_ledger_invariant_breaches", {"check": "account_totals"}) == 1.0
    assert REGISTRY.get_sample_value("sika_ledger_invariant_breaches", {"check": "resolutions"}) == 0.0


async def test_a_lost_timeout_is_found(sessions: Sessions, books: Books) -> None:
    async with db.transaction(sessions) as session:
        await ledger_service.create_transfer(
            session,
            debit_account_id=books.alice,
            credit_account_id=books.bob,
            amount_minor=300,
            currency="XOF",
            code="hold",
            pending=True,
            timeout_seconds=60,
            now=clock.now(),
            actor=TEST_ACTOR,
        )
        await session.execute(sa.text("DELETE FROM ledger_pending_timeouts"))
    report = await run_checks(sessions)
    assert [(r.name, r.breach_count) for r in report.results if r.breach_count] == [("timeouts", 1)]


async def test_a_transfer_written_around_the_ledger_is_found(sessions: Sessions, books: Books) -> None:
    async with db.transaction(sessions) as session:
        await session.execute(
            sa.text(
                "INSERT INTO ledger_transfers (id, kind, debit_account_id, credit_account_id, amount_minor,"
                " currency, code) VALUES ('forged', 'posted', :debit, 'acct_nowhere', 5, 'EUR', 't')"
            ),
            {"debit": books.world},
        )
    report = await run_checks(sessions)
    by_check = {r.name: r for r in report.results}
    assert [b.entity_id for b in by_check["transfer_accounts"].breaches] == ["forged"]
    assert [b.entity_id for b in by_check["account_totals"].breaches] == [books.world]


async def test_every_way_a_transfer_can_miss_its_accounts_is_found(sessions: Sessions, books: Books) -> None:
    """What a composite foreign key (account, currency) would refuse, and the
    transfer_accounts check finds instead: transfers have no such key (the one
    writer checks both accounts under lock), so a row written around the
    writer must be reported, whichever side is wrong and however."""
    async with db.transaction(sessions) as session:
        euro = await ledger_service.create_account(
            session, currency="EUR", kind="world", platform_id=None, now=clock.now(), actor=TEST_ACTOR
        )
    forged = {
        "no_debit_account": ("acct_nowhere", books.alice, "XOF"),
        "no_credit_account": (books.world, "acct_nowhere", "XOF"),
        "debit_in_another_currency": (euro.id, books.alice, "XOF"),
        "credit_in_another_currency": (books.world, euro.id, "XOF"),
    }
    async with db.transaction(sessions) as session:
        for transfer_id, (debit, credit, currency) in forged.items():
            await session.execute(
                sa.text(
                    "INSERT INTO ledger_transfers (id, kind, debit_account_id, credit_account_id, amount_minor,"
                    " currency, code) VALUES (:id, 'posted', :debit, :credit, 5, :currency, 't')"
                ),
                {"id": transfer_id, "debit": debit, "credit": credit, "currency": currency},
            )
    report = await run_checks(sessions)
    found = {r.name: r for r in report.results}["transfer_accounts"]
    assert found.breach_count == 4
    assert sorted(b.entity_id for b in found.breaches) == sorted(forged)


def test_every_invariants_module_registers_its_checks_under_its_domain() -> None:
    """Each ``sika/<domain>/invariants.py`` there is (the file, not a list) is
    loaded and states at least one check, under its own domain's name."""
    package = Path(sika.__file__).resolve().parent
    registry = package / "core" / "invariants.py"
    files = sorted(path for path in package.glob("*/invariants.py") if path != registry)
    assert {"ledger", "wallets"} <= {path.parent.name for path in files}
    loaded = invariants.load()
    assert len({found.name for found in loaded}) == len(loaded)
    for path in files:
        domain = path.parent.name
        mine = [found for found in loaded if found.domain == domain]
        assert mine, f"{path} registers no invariant"
        assert {found.check.__module__ for found in mine} == {f"sika.{domain}.invariants"}
    assert {found.domain for found in loaded} == {path.parent.name for path in files}


def test_a_process_that_imports_no_domain_runs_every_invariant() -> None:
    """What ``sika check``, the job and the dashboard get: the core alone
    finds every domain's checks, whatever the process imported before."""
    script = "from sika.core import invariants; print(' '.join(found.name for found in invariants.load()))"
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    assert ran.stdout.split() == [found.name for found in invariants.load()]


def test_a_name_is_registered_once() -> None:
    ledger_check = next(found for found in invariants.load() if found.name == "balanced")
    with pytest.raises(ValueError, match="registered twice"):
        invariants.invariant(name="balanced", domain="wallets", description="another")(_another_check)
    assert [found for found in invariants.load() if found.name == "balanced"] == [ledger_check]


async def _another_check(session: AsyncSession) -> tuple[int, list[invariants.Breach]]:
    return 0, []
