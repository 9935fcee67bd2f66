"""GET /v1/holds/{id}/timeline, /v1/wallets/{id}/timeline and /v1/parties/{id}/timeline:
a wallet topped up, paid by a collection and paying a payout tells, newest first, each
movement with its balance and held money before and after (each entry's "before" the
"after" of the one under it); the payout's hold tells its placement and capture in order
with the wallet's money around each; the party's shows its collection and payout as
linked entries. Another platform's support key reads none of them; nothing moves."""

from __future__ import annotations

import itertools
from typing import Any

from sika.auth.scopes import Scope
from tests.conftest import make_key
from tests.support.factories import PartyWallet
from tests.support.operations import row_counts
from tests.support.payments import OTP, World, collection_body, mobile_money, payout_body

TOP_UP = 20_000
COLLECTED = 5_000
PAID_OUT = 3_000


async def _support(world: World) -> dict[str, str]:
    return {"Authorization": f"Bearer {await make_key(world.sessions, Scope.support)}"}


async def _topped_up_paid_and_paying(world: World, kofi: PartyWallet) -> tuple[str, dict[str, Any]]:
    """The collection's id and the payout, both succeeded, after a top-up."""
    await world.top_up(kofi, TOP_UP)
    collected = await world.collect(collection_body(kofi, amount_minor=COLLECTED, method=mobile_money("orange")))
    assert collected.status_code == 201, collected.text
    path = f"/v1/collections/{collected.json()['id']}/otp"
    otp = await world.client.post(path, json={"otp": OTP}, headers=world.platform)
    assert otp.json()["status"] == "succeeded", otp.text
    await world.deliver(1)
    await world.run_jobs()
    paid = await world.pay_out(payout_body(kofi, amount_minor=PAID_OUT))
    assert paid.status_code == 201, paid.text
    await world.deliver(2)  # the collection's webhook again (news already known), then the payout's
    await world.run_jobs()
    payout = await world.shown("payouts", paid.json()["id"])
    assert payout["status"] == "succeeded"
    return collected.json()["id"], payout


async def test_a_hold_tells_its_placement_and_capture_with_the_wallet_s_money(world: World, kofi: PartyWallet) -> None:
    _, payout = await _topped_up_paid_and_paying(world, kofi)
    response = await world.client.get(f"/v1/holds/{payout['hold_id']}/timeline", headers=await _support(world))
    assert response.status_code == 200, response.text
    timeline = response.json()
    assert timeline["hold"]["state"] == "captured"
    assert (timeline["hold"]["owner_type"], timeline["hold"]["owner_id"]) == ("payout", payout["id"])
    steps = [(entry["kind"], entry["state"] or entry["details"].get("transfer_kind")) for entry in timeline["entries"]]
    assert steps == [
        ("state_change", "open"),
        ("ledger_transfer", "pending"),
        ("linked", "succeeded"),
        ("state_change", "captured"),
        ("ledger_transfer", "post_pending"),
    ]
    entries = timeline["entries"]
    assert entries[0]["cause"]["request_id"], "placed by the payout's request"
    assert entries[2]["id"] == payout["id"]
    money = [_money(entries[1]), _money(entries[4])]
    balance = TOP_UP + COLLECTED
    assert money == [(balance, balance, 0, PAID_OUT), (balance, balance - PAID_OUT, PAID_OUT, 0)]


def _money(entry: dict[str, Any]) -> tuple[int, int, int, int]:
    details = entry["details"]
    return (
        details["balance_before_minor"],
        details["balance_after_minor"],
        details["held_before_minor"],
        details["held_after_minor"],
    )


async def test_a_wallet_tells_its_movements_newest_first_with_balances(world: World, kofi: PartyWallet) -> None:
    collection_id, payout = await _topped_up_paid_and_paying(world, kofi)
    support = await _support(world)
    response = await world.client.get(f"/v1/wallets/{kofi.wallet_id}/timeline", headers=support)
    assert response.status_code == 200, response.text
    timeline = response.json()
    assert (timeline["wallet"]["balance_minor"], timeline["limit"], timeline["truncated"]) == (
        TOP_UP + COLLECTED - PAID_OUT,
        50,
        False,
    )
    moved = [entry for entry in timeline["entries"] if entry["kind"] == "ledger_transfer"]
    assert [entry["action"] for entry in moved] == ["hold_captured", "hold_placed", "credit", "credit"]
    assert moved[0]["details"]["payout_id"] == payout["id"]
    assert moved[2]["details"]["collection_id"] == collection_id
    assert _money(moved[-1])[:2] == (0, TOP_UP)
    for newer, older in itertools.pairwise(moved):
        assert _money(newer)[0::2] == _money(older)[1::2], "each movement starts where the one before ended"
    times = [entry["at"] for entry in timeline["entries"]]
    assert times == sorted(times, reverse=True)
    assert {"wallet.opened", "wallet.topped_up"} <= {entry["action"] for entry in timeline["entries"]}

    bounded = await world.client.get(f"/v1/wallets/{kofi.wallet_id}/timeline", params={"limit": 2}, headers=support)
    assert bounded.status_code == 200, bounded.text
    assert (len(bounded.json()["entries"]), bounded.json()["truncated"]) == (2, True)
    assert bounded.json()["entries"] == timeline["entries"][:2]


async def test_a_party_tells_its_wallet_s_movements_and_links_its_payments(world: World, kofi: PartyWallet) -> None:
    collection_id, payout = await _topped_up_paid_and_paying(world, kofi)
    support = await _support(world)
    response = await world.client.get(f"/v1/parties/{kofi.party_id}/timeline", headers=support)
    assert response.status_code == 200, response.text
    timeline = response.json()
    assert timeline["wallet_ids"] == [kofi.wallet_id]
    linked = {entry["id"]: entry for entry in timeline["entries"] if entry["kind"] == "linked"}
    assert set(linked) == {collection_id, payout["id"]}
    assert (linked[collection_id]["details"]["object_kind"], linked[collection_id]["state"]) == (
        "collection",
        "succeeded",
    )
    assert linked[payout["id"]]["details"]["amount_minor"] == PAID_OUT
    moved = [entry["action"] for entry in timeline["entries"] if entry["kind"] == "ledger_transfer"]
    assert moved == ["hold_captured", "hold_placed", "credit", "credit"]
    assert timeline["entries"][-1]["action"] == "party.created"
    times = [entry["at"] for entry in timeline["entries"]]
    assert times == sorted(times, reverse=True)

    bounded = await world.client.get(f"/v1/parties/{kofi.party_id}/timeline", params={"limit": 3}, headers=support)
    assert (len(bounded.json()["entries"]), bounded.json()["truncated"]) == (3, True)


async def test_only_support_of_its_platform_reads_a_hold_wallet_or_party_story(
    world: World, kofi: PartyWallet, elsewhere: dict[str, str]
) -> None:
    _, payout = await _topped_up_paid_and_paying(world, kofi)
    before = await row_counts(world.sessions)
    for path, code, made_up in (
        (f"/v1/holds/{payout['hold_id']}/timeline", "hold_not_found", "hold_aaaaaaaaaaaaaaaaaaaaaaaaaa"),
        (f"/v1/wallets/{kofi.wallet_id}/timeline", "wallet_not_found", "wal_aaaaaaaaaaaaaaaaaaaaaaaaaa"),
        (f"/v1/parties/{kofi.party_id}/timeline", "party_not_found", "pty_aaaaaaaaaaaaaaaaaaaaaaaaaa"),
    ):
        refused = await world.client.get(path, headers=world.platform)
        assert refused.status_code == 403, path
        assert refused.headers["content-type"].startswith("application/problem+json")
        hidden = await world.client.get(path, headers=elsewhere)
        assert (hidden.status_code, hidden.json()["code"]) == (404, code), hidden.text
        nowhere = await world.client.get("/".join([*path.split("/")[:3], made_up, "timeline"]), headers=elsewhere)
        assert (nowhere.status_code, nowhere.json()["code"]) == (404, code)
    assert await row_counts(world.sessions) == before
