"""The platform's P2P policy governs every path by which money reaches another
party's wallet: a transfer and a hold captured to a destination wallet. Over
the three policies × (recipient on the sender's allowlist or not) × (recipient
certified at the required level or below it) × (the platform's key or the
sender's own token), each movement is allowed exactly when the policy says so,
and each refusal moves nothing."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import httpx
import pytest

from tests.support.factories import Owner, owner
from tests.transfers.conftest import Cast, Headers, Sessions, Still, allow, available, certify, set_settings

REQUIRED_LEVEL = 2
AMOUNT = 1_000


@dataclass(frozen=True)
class Recipient:
    party: Owner
    allowlisted: bool
    level: int


def allowed(policy: str, recipient: Recipient) -> bool:
    if policy == "allowlist":
        return recipient.allowlisted
    if policy == "certified":
        return recipient.level >= REQUIRED_LEVEL
    return True


async def recipients(client: httpx.AsyncClient, cast: Cast) -> list[Recipient]:
    """One recipient per (allowlisted, level): 1 is certified, yet below the required level."""
    made = []
    for number, (allowlisted, level) in enumerate(itertools.product((True, False), (1, REQUIRED_LEVEL))):
        party = await owner(client, cast.platform, display_name=f"Recipient {number}", phone=f"+22177000010{number}")
        if allowlisted:
            await allow(client, cast, cast.sender, party)
        await certify(client, cast, party, level)
        made.append(Recipient(party=party, allowlisted=allowlisted, level=level))
    return made


async def transfer(client: httpx.AsyncClient, cast: Cast, headers: Headers, to: Owner) -> httpx.Response:
    body = {"source_wallet_id": cast.sender.wallet_id, "destination_wallet_id": to.wallet_id, "amount_minor": AMOUNT}
    return await client.post("/v1/transfers", json=body, headers=headers)


async def hold(client: httpx.AsyncClient, cast: Cast, headers: Headers) -> str:
    placed = await client.post(
        f"/v1/wallets/{cast.sender.wallet_id}/holds", json={"amount_minor": AMOUNT, "reason": "order"}, headers=headers
    )
    assert placed.status_code == 201, placed.text
    return str(placed.json()["id"])


async def capture(client: httpx.AsyncClient, hold_id: str, headers: Headers, to: Owner) -> httpx.Response:
    return await client.post(
        f"/v1/holds/{hold_id}/capture", json={"destination_wallet_id": to.wallet_id}, headers=headers
    )


REFUSAL_BY_POLICY = {"allowlist": "p2p_recipient_not_allowlisted", "certified": "p2p_recipient_not_certified"}


@pytest.mark.parametrize("policy", ["open", "allowlist", "certified"])
async def test_transfers_follow_the_policy(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions, policy: str
) -> None:
    await set_settings(client, cast, p2p_policy=policy, p2p_certified_level=REQUIRED_LEVEL)
    for recipient in await recipients(client, cast):
        for headers in (cast.platform, cast.sender.headers):
            before = await available(client, cast, recipient.party)
            still = await Still.now(sessions)
            response = await transfer(client, cast, headers, recipient.party)
            case = f"{policy}, {recipient}, {'platform key' if headers is cast.platform else 'party token'}"
            if allowed(policy, recipient):
                assert response.status_code == 201, (case, response.text)
                assert await available(client, cast, recipient.party) == before + AMOUNT
            else:
                assert (response.status_code, response.json()["code"]) == (409, REFUSAL_BY_POLICY[policy]), case
                await still.assert_nothing_moved(sessions)


@pytest.mark.parametrize("policy", ["open", "allowlist", "certified"])
async def test_captures_to_another_partys_wallet_follow_the_policy(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions, policy: str
) -> None:
    await set_settings(client, cast, p2p_policy=policy, p2p_certified_level=REQUIRED_LEVEL)
    for recipient in await recipients(client, cast):
        for headers in (cast.platform, cast.sender.headers):
            hold_id = await hold(client, cast, headers)
            before = await available(client, cast, recipient.party)
            still = await Still.now(sessions)
            response = await capture(client, hold_id, headers, recipient.party)
            case = f"{policy}, {recipient}, {'platform key' if headers is cast.platform else 'party token'}"
            if allowed(policy, recipient):
                assert response.status_code == 200, (case, response.text)
                assert await available(client, cast, recipient.party) == before + AMOUNT
            else:
                assert (response.status_code, response.json()["code"]) == (409, REFUSAL_BY_POLICY[policy]), case
                await still.assert_nothing_moved(sessions)
                shown = await client.get(f"/v1/holds/{hold_id}", headers=cast.platform)
                assert shown.json()["status"] == "open"


async def test_a_capture_to_the_platform_alone_is_not_between_parties(client: httpx.AsyncClient, cast: Cast) -> None:
    """Without a destination wallet the platform takes the capture: no party receives it, no policy applies."""
    await set_settings(client, cast, p2p_policy="allowlist")
    hold_id = await hold(client, cast, cast.platform)
    captured = await client.post(f"/v1/holds/{hold_id}/capture", json={}, headers=cast.platform)
    assert captured.status_code == 200, captured.text


@pytest.mark.parametrize("credential", ["read", "support", "recipient"])
async def test_credentials_that_may_not_send_move_nothing(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions, credential: str
) -> None:
    """A read or support key cannot send, and another party's token cannot send from the sender's wallet."""
    headers = {"read": cast.read, "support": cast.support, "recipient": cast.recipient.headers}[credential]
    hold_id = await hold(client, cast, cast.platform)
    still = await Still.now(sessions)
    sent = await transfer(client, cast, headers, cast.other)
    captured = await capture(client, hold_id, headers, cast.other)
    expected = "not_owned_by_party" if credential == "recipient" else "permission_denied"
    assert (sent.status_code, sent.json()["code"]) == (403, expected)
    assert captured.status_code == 403
    await still.assert_nothing_moved(sessions)
