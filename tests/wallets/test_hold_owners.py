"""Only what placed a hold resolves it: every cell of the table in
docs/wallets.md, the party token's capture rules, the check made in the
wallets service itself, and the owners an upgraded database gives the holds
placed before owners existed. (A real payout's hold, refused over
``/v1/holds`` and then completed by its own flow: tests/payments/test_payouts.py.)"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import clock, db, errors, ids, migrate
from sika.core.context import Actor
from sika.payments import service as payments_service
from sika.payments.models import Payout
from sika.wallets import service as wallets_service
from sika.wallets.models import WalletHold
from tests.support.factories import Owner, top_up
from tests.support.ledger import snapshot
from tests.wallets.conftest import place_hold, wallet_state

Sessions = async_sessionmaker[AsyncSession]

WALLETS_DOC = Path(__file__).resolve().parents[2] / "docs" / "wallets.md"
TABLE_HEADER = "| the hold was placed by |"
PLACERS = ("an API key", "a party token", "a payout")
CALLERS = ("admin key", "platform key", "its party's token", "another party's token")
ALLOWED = "capture, release"
REFUSAL = re.compile(r"^`(\d{3}) ([a-z_]+)`$")
PLATFORM_ACTOR = Actor(id="key:key_platform", scopes=frozenset({"platform"}))
"""How the payout flow's actor looks when a platform key asked for the payout."""


def resolver_table() -> dict[tuple[str, str], str]:
    """The table of docs/wallets.md: (who placed the hold, who calls) → the cell."""
    lines = WALLETS_DOC.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(TABLE_HEADER))
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    assert tuple(header[1:]) == CALLERS
    table = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        placer, *cells = (cell.strip() for cell in line.strip("|").split("|"))
        for caller, cell in zip(CALLERS, cells, strict=True):
            assert cell == ALLOWED or REFUSAL.match(cell), f"unreadable cell {cell!r}"
            table[(placer, caller)] = cell
    assert {placer for placer, _ in table} == set(PLACERS)
    return table


TABLE = resolver_table()


async def placed(
    placer: str,
    client: httpx.AsyncClient,
    sessions: Sessions,
    platform_headers: dict[str, str],
    payer: Owner,
) -> str:
    """A hold of 1000 on the payer's wallet, placed by ``placer``; its id."""
    if placer == "a payout":
        async with db.transaction(sessions) as session:
            view = await wallets_service.place_hold(
                session,
                wallet_id=payer.wallet_id,
                amount_minor=1000,
                reason="payout",
                reference=None,
                expires_in_seconds=None,
                owner=payments_service.hold_owner(ids.new_id("po")),
                actor=PLATFORM_ACTOR,
                now=clock.now(),
            )
        return view.pending.id
    headers = platform_headers if placer == "an API key" else payer.headers
    response = await place_hold(client, headers, payer.wallet_id, 1000)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def hold_shown(client: httpx.AsyncClient, headers: dict[str, str], hold_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/holds/{hold_id}", headers=headers)
    assert response.status_code == 200, response.text
    shown: dict[str, Any] = response.json()
    return shown


@pytest.mark.parametrize("action", ["capture", "release"])
@pytest.mark.parametrize(("placer", "caller"), list(TABLE))
async def test_a_hold_is_resolved_exactly_where_the_docs_say(
    client: httpx.AsyncClient,
    sessions: Sessions,
    admin_headers: dict[str, str],
    platform_headers: dict[str, str],
    funded: Owner,
    merchant: Owner,
    placer: str,
    caller: str,
    action: str,
) -> None:
    hold_id = await placed(placer, client, sessions, platform_headers, funded)
    headers = {
        "admin key": admin_headers,
        "platform key": platform_headers,
        "its party's token": funded.headers,
        "another party's token": merchant.headers,
    }[caller]
    body = {"destination_wallet_id": merchant.wallet_id} if action == "capture" else None
    before = await snapshot(sessions)
    response = await client.post(f"/v1/holds/{hold_id}/{action}", json=body, headers=headers)

    cell = TABLE[(placer, caller)]
    if cell == ALLOWED:
        assert response.status_code == 200, response.text
        if action == "capture":
            assert (response.json()["status"], response.json()["captured_minor"]) == ("captured", 1000)
            assert await wallet_state(client, platform_headers, funded.wallet_id) == (9000, 0, 9000)
            assert await wallet_state(client, platform_headers, merchant.wallet_id) == (1000, 0, 1000)
        else:
            assert response.json()["status"] == "released"
            assert await wallet_state(client, platform_headers, funded.wallet_id) == (10000, 0, 10000)
    else:
        refusal = REFUSAL.match(cell)
        assert refusal is not None
        assert (response.status_code, response.json()["code"]) == (int(refusal[1]), refusal[2]), response.text
        assert await snapshot(sessions) == before
        assert (await hold_shown(client, platform_headers, hold_id))["status"] == "open"
        assert await wallet_state(client, platform_headers, funded.wallet_id) == (10000, 1000, 9000)
        assert await wallet_state(client, platform_headers, merchant.wallet_id) == (0, 0, 0)


class TestPartyCapture:
    async def test_the_platforms_guarantee_cannot_be_paid_to_an_accomplice(
        self,
        client: httpx.AsyncClient,
        sessions: Sessions,
        platform_headers: dict[str, str],
        funded: Owner,
        merchant: Owner,
    ) -> None:
        hold_id = await placed("an API key", client, sessions, platform_headers, funded)
        before = await snapshot(sessions)
        response = await client.post(
            f"/v1/holds/{hold_id}/capture",
            json={"destination_wallet_id": merchant.wallet_id, "platform_fee_minor": 0},
            headers=funded.headers,
        )
        assert (response.status_code, response.json()["code"]) == (403, "hold_not_placed_by_caller")
        assert await snapshot(sessions) == before
        assert await wallet_state(client, platform_headers, merchant.wallet_id) == (0, 0, 0)

    @pytest.mark.parametrize(
        "body",
        [
            {"destination_wallet_id": "{merchant}", "platform_fee_minor": 1},
            {"destination_wallet_id": "{merchant}", "platform_fee_minor": 999},
            {},
            {"amount_minor": 400},
        ],
        ids=["a small fee", "a large fee", "no destination", "part, no destination"],
    )
    async def test_a_party_sets_no_fee_even_on_its_own_hold(
        self,
        client: httpx.AsyncClient,
        sessions: Sessions,
        platform_headers: dict[str, str],
        funded: Owner,
        merchant: Owner,
        body: dict[str, Any],
    ) -> None:
        body = {k: merchant.wallet_id if v == "{merchant}" else v for k, v in body.items()}
        hold_id = await placed("a party token", client, sessions, platform_headers, funded)
        before = await snapshot(sessions)
        response = await client.post(f"/v1/holds/{hold_id}/capture", json=body, headers=funded.headers)
        assert (response.status_code, response.json()["code"]) == (403, "party_cannot_set_fee")
        assert await snapshot(sessions) == before
        assert (await hold_shown(client, funded.headers, hold_id))["status"] == "open"

    async def test_a_party_pays_its_own_hold_in_part_to_another_wallet(
        self,
        client: httpx.AsyncClient,
        sessions: Sessions,
        platform_headers: dict[str, str],
        funded: Owner,
        merchant: Owner,
    ) -> None:
        hold_id = await placed("a party token", client, sessions, platform_headers, funded)
        response = await client.post(
            f"/v1/holds/{hold_id}/capture",
            json={"amount_minor": 400, "destination_wallet_id": merchant.wallet_id},
            headers=funded.headers,
        )
        assert response.status_code == 200, response.text
        assert (response.json()["owner_type"], response.json()["owner_id"]) == ("api", None)
        assert await wallet_state(client, platform_headers, funded.wallet_id) == (9600, 0, 9600)
        assert await wallet_state(client, platform_headers, merchant.wallet_id) == (400, 0, 400)


class TestTheServiceChecksTheOwner:
    """The rule is the wallets service's: a caller that skips the router meets it too."""

    @pytest.mark.parametrize("resolve", ["capture_hold", "capture_hold_to_account", "release_hold"])
    @pytest.mark.parametrize(
        ("placer", "resolver", "code"),
        [
            ("an API key", "a payout", "hold_owned_by_api"),
            ("a payout", "the holds API", "hold_owned_by_payout"),
            ("a payout", "another payout", "hold_owned_by_payout"),
        ],
    )
    async def test_another_owner_is_refused_and_nothing_moves(
        self,
        client: httpx.AsyncClient,
        sessions: Sessions,
        platform_headers: dict[str, str],
        funded: Owner,
        merchant: Owner,
        placer: str,
        resolver: str,
        code: str,
        resolve: str,
    ) -> None:
        hold_id = await placed(placer, client, sessions, platform_headers, funded)
        owner = (
            wallets_service.API_OWNER if resolver == "the holds API" else payments_service.hold_owner(ids.new_id("po"))
        )
        before = await snapshot(sessions)
        with pytest.raises(errors.Conflict) as refused:
            await _resolve(sessions, resolve, hold_id=hold_id, owner=owner, destination=merchant)
        assert refused.value.code == code
        assert refused.value.status == 409
        assert await snapshot(sessions) == before


async def _resolve(
    sessions: Sessions, resolve: str, *, hold_id: str, owner: wallets_service.HoldOwner, destination: Owner
) -> None:
    """Capture or release the hold through the wallets service, as a domain flow does."""
    common: dict[str, Any] = {"hold_id": hold_id, "owner": owner, "actor": PLATFORM_ACTOR, "now": clock.now()}
    async with db.transaction(sessions) as session:
        if resolve == "capture_hold":
            await wallets_service.capture_hold(
                session, amount_minor=None, destination_wallet_id=destination.wallet_id, platform_fee_minor=0, **common
            )
        elif resolve == "capture_hold_to_account":
            await wallets_service.capture_hold_to_account(
                session,
                account_id=payments_service.clearing_account_id("paystack", "XOF"),
                code="payout.succeeded",
                metadata={},
                **common,
            )
        else:
            await wallets_service.release_hold(session, **common)


class TestExpiryAtReadTime:
    async def test_a_hold_past_its_expiry_reads_expired_and_its_money_is_available_at_once(
        self,
        client: httpx.AsyncClient,
        sessions: Sessions,
        platform_headers: dict[str, str],
        funded: Owner,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        lapsing = (await place_hold(client, platform_headers, funded.wallet_id, 2500, expires_in_seconds=60)).json()
        kept = (await place_hold(client, platform_headers, funded.wallet_id, 500, expires_in_seconds=600)).json()
        assert await wallet_state(client, platform_headers, funded.wallet_id) == (10000, 3000, 7000)

        later = datetime.fromisoformat(lapsing["expires_at"])
        monkeypatch.setattr(clock, "now", lambda: later)
        before = await snapshot(sessions)
        shown = await hold_shown(client, platform_headers, lapsing["id"])
        assert (shown["status"], shown["resolved_at"]) == ("expired", lapsing["expires_at"])
        assert (shown["wallet"]["held_minor"], shown["wallet"]["available_minor"]) == (500, 9500)
        assert (await hold_shown(client, platform_headers, kept["id"]))["status"] == "open"
        listed = (await client.get(f"/v1/wallets/{funded.wallet_id}/holds", headers=funded.headers)).json()
        assert [(h["id"], h["status"]) for h in listed["data"]] == [(kept["id"], "open"), (lapsing["id"], "expired")]
        assert await wallet_state(client, funded.headers, funded.wallet_id) == (10000, 500, 9500)
        party = funded.party["id"]
        (wallet,) = (await client.get(f"/v1/parties/{party}/wallets", headers=funded.headers)).json()["data"]
        assert (wallet["held_minor"], wallet["available_minor"]) == (500, 9500)
        (summary,) = (await client.get(f"/v1/parties/{party}/summary", headers=funded.headers)).json()["currencies"]
        assert (summary["held_minor"], summary["available_minor"]) == (500, 9500)
        assert await snapshot(sessions) == before, "reading records nothing: the ledger still has it pending"

        # What the API shows as available, a new hold may take: the lapsed hold is expired on the way.
        taken = await place_hold(client, platform_headers, funded.wallet_id, 9500)
        assert taken.status_code == 201, taken.text
        assert (taken.json()["wallet"]["held_minor"], taken.json()["wallet"]["available_minor"]) == (10000, 0)
        history = (await client.get(f"/v1/wallets/{funded.wallet_id}/history", headers=funded.headers)).json()
        assert [(e["type"], e["hold_id"]) for e in history["data"][:2]] == [
            ("hold_placed", taken.json()["id"]),
            ("hold_expired", lapsing["id"]),
        ]

    async def test_a_new_hold_expires_its_own_wallets_lapsed_holds_only(
        self,
        client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        platform_headers: dict[str, str],
        funded: Owner,
        merchant: Owner,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Placing a hold is no business of another wallet's: its lapsed holds wait for their
        own wallet's next hold (or the expiry job), and its accounts are not locked meanwhile."""
        await top_up(client, admin_headers, merchant.wallet_id, 1000)
        lapsing = (await place_hold(client, platform_headers, funded.wallet_id, 2500, expires_in_seconds=60)).json()
        theirs = (await place_hold(client, platform_headers, merchant.wallet_id, 400, expires_in_seconds=60)).json()
        later = max(datetime.fromisoformat(hold["expires_at"]) for hold in (lapsing, theirs))
        monkeypatch.setattr(clock, "now", lambda: later)

        taken = await place_hold(client, platform_headers, merchant.wallet_id, 1000)
        assert taken.status_code == 201, taken.text
        merchants = (await client.get(f"/v1/wallets/{merchant.wallet_id}/history", headers=merchant.headers)).json()
        assert ("hold_expired", theirs["id"]) in [(e["type"], e["hold_id"]) for e in merchants["data"]]
        buyers = (await client.get(f"/v1/wallets/{funded.wallet_id}/history", headers=funded.headers)).json()
        assert "hold_expired" not in [e["type"] for e in buyers["data"]]
        assert await wallet_state(client, platform_headers, funded.wallet_id) == (10000, 0, 10000)

    async def test_a_hold_not_yet_due_still_counts(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        funded: Owner,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        hold = (await place_hold(client, platform_headers, funded.wallet_id, 2500, expires_in_seconds=60)).json()
        just_before = datetime.fromisoformat(hold["expires_at"]) - timedelta(milliseconds=1)
        monkeypatch.setattr(clock, "now", lambda: just_before)
        assert (await hold_shown(client, platform_headers, hold["id"]))["status"] == "open"
        assert await wallet_state(client, platform_headers, funded.wallet_id) == (10000, 2500, 7500)
        refused = await place_hold(client, platform_headers, funded.wallet_id, 7501)
        assert (refused.status_code, refused.json()["code"]) == (409, "insufficient_funds")


async def test_an_upgraded_database_gives_earlier_holds_their_owners(
    client: httpx.AsyncClient,
    sessions: Sessions,
    database_url: str,
    platform_headers: dict[str, str],
    funded: Owner,
) -> None:
    by_key = await placed("an API key", client, sessions, platform_headers, funded)
    by_party = await placed("a party token", client, sessions, platform_headers, funded)
    released = await placed("an API key", client, sessions, platform_headers, funded)
    assert (await client.post(f"/v1/holds/{released}/release", headers=platform_headers)).status_code == 200
    payout_id = ids.new_id("po")
    async with db.transaction(sessions) as session:
        view = await wallets_service.place_hold(
            session,
            wallet_id=funded.wallet_id,
            amount_minor=1000,
            reason="payout",
            reference=payout_id,
            expires_in_seconds=None,
            owner=payments_service.hold_owner(payout_id),
            actor=PLATFORM_ACTOR,
            now=clock.now(),
        )
        session.add(_payout(payout_id, funded, hold_id=view.pending.id))
    by_payout = view.pending.id
    expected = await _owners(sessions)
    assert set(expected) == {by_key, by_party, released, by_payout}

    migrate.downgrade(database_url, "0004")
    migrate.upgrade(database_url)
    assert await _owners(sessions) == expected
    assert expected[by_party][2:] == (f"party:{funded.party['id']}", funded.party["id"])
    assert expected[by_payout][:3] == ("payout", payout_id, PLATFORM_ACTOR.id)
    assert expected[by_key][:2] == ("api", None)
    assert expected[by_key][2].startswith("key:")


async def _owners(sessions: Sessions) -> dict[str, tuple[str, str | None, str, str | None]]:
    async with sessions() as session:
        rows = await session.execute(
            sa.select(
                WalletHold.id,
                WalletHold.owner_type,
                WalletHold.owner_id,
                WalletHold.placed_by,
                WalletHold.placed_by_party_id,
            )
        )
        return {row[0]: (row[1], row[2], row[3], row[4]) for row in rows}


def _payout(payout_id: str, payer: Owner, *, hold_id: str) -> Payout:
    """The payout row its flow's first phase commits with its hold, as a crash would leave it."""
    now = clock.now()
    return Payout(
        id=payout_id,
        party_id=payer.party["id"],
        platform_id=payer.party["platform_id"],
        wallet_id=payer.wallet_id,
        amount_minor=1000,
        currency="XOF",
        operator="mtn",
        phone="+2250700000101",
        country="CI",
        recipient_name="Awa Buyer",
        reason="withdrawal",
        status="initiated",
        provider="paystack",
        hold_id=hold_id,
        created_by=PLATFORM_ACTOR.id,
        created_at=now,
        updated_at=now,
    )
