"""Random sequences of ledger operations against an in-memory model.

After every step the balances of every account and the error (or its
absence) must match the model, and the ledger's invariants must hold. Each
example opens accounts of its own, so examples share the database but not
the accounts they are compared on."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from sika.core import clock, db, errors, invariants, money
from sika.ledger import service as ledger_service
from tests.conftest import TEST_ACTOR

MAX = money.MAX_AMOUNT_MINOR
CURRENCIES = ("XOF", "EUR")


@dataclass
class ModelAccount:
    id: str
    currency: str
    dflag: bool
    cflag: bool
    dp: int = 0
    cp: int = 0
    dpe: int = 0
    cpe: int = 0
    closed: bool = False


@dataclass
class ModelPending:
    id: str
    debit: str
    credit: str
    amount: int
    expires_at: datetime | None
    resolved: bool = False


@dataclass
class Model:
    accounts: dict[str, ModelAccount] = field(default_factory=dict)
    pendings: dict[str, ModelPending] = field(default_factory=dict)
    posted_ids: list[str] = field(default_factory=list)

    def transfer_error(self, debit: str, credit: str, amount: int, currency: str, pending: bool) -> str | None:
        if currency not in money.CURRENCY_EXPONENTS:
            return "unknown_currency"
        if amount <= 0:
            return "invalid_amount"
        if amount > MAX:
            return "amount_overflow"
        if debit == credit:
            return "same_account"
        if debit not in self.accounts or credit not in self.accounts:
            return "account_not_found"
        d, c = self.accounts[debit], self.accounts[credit]
        if d.currency != currency or c.currency != currency:
            return "currency_mismatch"
        if d.closed or c.closed:
            return "account_closed"
        if (d.dpe if pending else d.dp) + amount > MAX:
            return "amount_overflow"
        if (c.cpe if pending else c.cp) + amount > MAX:
            return "amount_overflow"
        if d.dflag and d.dp + d.dpe + amount > d.cp:
            return "insufficient_funds"
        if c.cflag and c.cp + c.cpe + amount > c.dp:
            return "exceeds_debits"
        return None

    def resolution_error(self, pending_id: str, amount: int | None, *, post: bool, now: datetime) -> str | None:
        if amount is not None and amount <= 0:
            return "invalid_amount"
        if pending_id in self.posted_ids:
            return "transfer_not_pending"
        p = self.pendings.get(pending_id)
        if p is None:
            return "pending_transfer_not_found"
        if p.resolved:
            return "pending_transfer_already_resolved"
        if p.expires_at is not None and p.expires_at <= now:
            return "pending_transfer_expired"
        if post and amount is not None and amount > p.amount:
            return "amount_exceeds_pending"
        return None


class LedgerMachine(RuleBasedStateMachine):
    loop: asyncio.AbstractEventLoop
    sessions: Any

    def __init__(self) -> None:
        super().__init__()
        self.model = Model()
        self.now = clock.now() + timedelta(days=365 * (1 + _examples.bump()))

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def attempt(self, operation: Any) -> tuple[Any, str | None]:
        async def go() -> Any:
            async with db.transaction(self.sessions) as session:
                return await operation(session)

        try:
            return self.run(go()), None
        except errors.SikaError as exc:
            return None, exc.code

    @initialize()
    def open_world(self) -> None:
        for currency in CURRENCIES:
            self._open(currency, dflag=False, cflag=False)

    def _open(self, currency: str, *, dflag: bool, cflag: bool) -> None:
        account, error = self.attempt(
            lambda s: ledger_service.create_account(
                s,
                currency=currency,
                kind="test",
                debits_must_not_exceed_credits=dflag,
                credits_must_not_exceed_debits=cflag,
                platform_id=None,
                now=self.now,
                actor=TEST_ACTOR,
            )
        )
        assert error is None
        self.model.accounts[account.id] = ModelAccount(id=account.id, currency=currency, dflag=dflag, cflag=cflag)

    @rule(currency=st.sampled_from(CURRENCIES), flag=st.sampled_from(["debits", "credits", "none"]))
    def open_account(self, currency: str, flag: str) -> None:
        self._open(currency, dflag=flag == "debits", cflag=flag == "credits")

    def _account(self, data: st.DataObject, label: str) -> str:
        ids = sorted(self.model.accounts)
        return str(data.draw(st.one_of(st.sampled_from(ids), st.just("acct_missing")), label=label))

    @rule(
        data=st.data(),
        amount=st.one_of(st.integers(-2, 2500), st.sampled_from([MAX, MAX - 1, MAX + 1])),
        pending=st.booleans(),
        timeout=st.one_of(st.none(), st.integers(1, 120)),
        currency=st.sampled_from([*CURRENCIES, "ZZZ"]),
    )
    def transfer(self, data: st.DataObject, amount: int, pending: bool, timeout: int | None, currency: str) -> None:
        debit = self._account(data, "debit")
        credit = self._account(data, "credit")
        timeout = timeout if pending else None
        expected = self.model.transfer_error(debit, credit, amount, currency, pending)
        record, error = self.attempt(
            lambda s: ledger_service.create_transfer(
                s,
                debit_account_id=debit,
                credit_account_id=credit,
                amount_minor=amount,
                currency=currency,
                code="model",
                pending=pending,
                timeout_seconds=timeout,
                now=self.now,
                actor=TEST_ACTOR,
            )
        )
        assert error == expected
        if error is not None:
            return
        d, c = self.model.accounts[debit], self.model.accounts[credit]
        if pending:
            d.dpe += amount
            c.cpe += amount
            expires = self.now + timedelta(seconds=timeout) if timeout is not None else None
            assert record.expires_at == expires
            self.model.pendings[record.id] = ModelPending(record.id, debit, credit, amount, expires)
        else:
            d.dp += amount
            c.cp += amount
            self.model.posted_ids.append(record.id)

    def _pending_ref(self, data: st.DataObject) -> str:
        choices = sorted(self.model.pendings) + self.model.posted_ids[:3] + ["xfr_missing"]
        return str(data.draw(st.sampled_from(choices), label="pending"))

    @rule(data=st.data(), amount=st.one_of(st.none(), st.integers(-1, 2500)))
    def post(self, data: st.DataObject, amount: int | None) -> None:
        pending_id = self._pending_ref(data)
        expected = self.model.resolution_error(pending_id, amount, post=True, now=self.now)
        record, error = self.attempt(
            lambda s: ledger_service.post_pending(
                s, pending_id=pending_id, amount_minor=amount, now=self.now, actor=TEST_ACTOR
            )
        )
        assert error == expected
        if error is None:
            p = self.model.pendings[pending_id]
            posted = p.amount if amount is None else amount
            assert (record.kind, record.amount_minor) == ("post_pending", posted)
            self._resolve(p, posted)

    @rule(data=st.data())
    def void(self, data: st.DataObject) -> None:
        pending_id = self._pending_ref(data)
        expected = self.model.resolution_error(pending_id, None, post=False, now=self.now)
        record, error = self.attempt(
            lambda s: ledger_service.void_pending(s, pending_id=pending_id, now=self.now, actor=TEST_ACTOR)
        )
        assert error == expected
        if error is None:
            assert record.kind == "void_pending"
            self._resolve(self.model.pendings[pending_id], 0)

    def _resolve(self, p: ModelPending, posted: int) -> None:
        d, c = self.model.accounts[p.debit], self.model.accounts[p.credit]
        d.dpe -= p.amount
        c.cpe -= p.amount
        d.dp += posted
        c.cp += posted
        p.resolved = True

    @rule(seconds=st.integers(1, 90))
    def time_passes_and_expiry_runs(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)
        while True:
            expired, error = self.attempt(lambda s: ledger_service.expire_pending(s, now=self.now, actor=TEST_ACTOR))
            assert error is None
            if expired < ledger_service.EXPIRY_BATCH_SIZE:
                break
        for p in self.model.pendings.values():
            if not p.resolved and p.expires_at is not None and p.expires_at <= self.now:
                self._resolve(p, 0)

    @precondition(lambda self: len(self.model.accounts) > 2)
    @rule(data=st.data())
    def close(self, data: st.DataObject) -> None:
        account_id = self._account(data, "account")
        account = self.model.accounts.get(account_id)
        expected = (
            "account_not_found"
            if account is None
            else "account_has_pending_transfers"
            if account.dpe or account.cpe
            else None
        )
        _, error = self.attempt(
            lambda s: ledger_service.close_account(s, account_id=account_id, now=self.now, actor=TEST_ACTOR)
        )
        assert error == expected
        if account is not None and error is None:
            account.closed = True

    @invariant()
    def balances_match_the_model(self) -> None:
        async def read() -> dict[str, tuple[int, int, int, int, bool]]:
            async with db.transaction(self.sessions) as session:
                found = {}
                for account_id in self.model.accounts:
                    account = await ledger_service.get_account(session, account_id=account_id)
                    found[account_id] = (
                        account.debits_posted,
                        account.credits_posted,
                        account.debits_pending,
                        account.credits_pending,
                        account.closed_at is not None,
                    )
                return found

        expected = {a.id: (a.dp, a.cp, a.dpe, a.cpe, a.closed) for a in self.model.accounts.values()}
        assert self.run(read()) == expected

    @invariant()
    def ledger_invariants_hold(self) -> None:
        async def check() -> invariants.Report:
            async with db.transaction(self.sessions) as session:
                return await invariants.check_all(session)

        report = self.run(check())
        assert report.ok, [b.describe() for b in report.breaches]


class _Examples:
    count = 0

    def bump(self) -> int:
        self.count += 1
        return self.count


_examples = _Examples()


@pytest.mark.slow
def test_ledger_matches_its_model(database_url: str) -> None:
    loop = asyncio.new_event_loop()
    engine = db.make_engine(database_url, pool_size=2, max_overflow=0)
    LedgerMachine.loop = loop
    LedgerMachine.sessions = db.make_sessionmaker(engine)
    try:
        runner = LedgerMachine.TestCase
        runner.settings = settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        runner().runTest()
    finally:
        loop.run_until_complete(engine.dispose())
        loop.close()
