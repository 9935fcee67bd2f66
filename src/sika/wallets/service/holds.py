"""Holds: money of a wallet reserved for someone who relies on it, then
captured (paid on) or released.

A hold is a ledger pending transfer from the wallet's account to its holds
account, with the hold's id as the transfer id. Capturing it posts the
pending transfer (in full or in part; the rest returns) and pays the
captured money out of the holds account in the same transaction; releasing
it voids the pending transfer; the ledger's expiry job expires it.

Who may act: an API key with the route's scope, or the wallet's own party
with a party token (``check_owner``). A suspended party's wallets cannot be
debited: no hold placed, none captured; releases and credits still go.

**Owners.** A hold is placed for someone who relies on it: a payout on its
hold to cover what the provider pays out, a platform on a buyer's hold to
pay the merchant. So every hold has an owner (``HoldOwner``), recorded in
``wallet_holds`` in the transaction that places it: the domain object that
placed it (a payout), or ``api`` for a hold placed over the holds API. Only
the owner's own flow captures or releases it: the functions that resolve a
hold take the caller's owner identity and refuse any other
(``hold_owned_by_<owner type>``), so a payout's hold cannot be captured
or released over ``/v1/holds``, and no new path can skip the check, since
it is made here where the hold is resolved, not in a router. A table of
its own rather than ledger metadata: a domain's rule about a hold is not
the ledger's business, and the database can then hold the row fixed
(migration ``0005``).

An ``api`` hold belongs to whoever placed it, recorded as ``placed_by``
(and ``placed_by_party_id`` for a party token): one placed with an API key
is resolved with an API key (the platform; any of its keys, so that
rotating a key strands no hold), one placed with a party's token only with
that party's token. A party token never sets a fee, so a party's capture
names a destination wallet and pays it in full (``_check_party_capture``).
docs/wallets.md gives the whole table and the reasons.

**Expiry at read time.** A hold past its ``expires_at`` is lapsed even while
the ledger still counts it pending (until the minute job expires it): reads
show it ``expired`` and leave it out of ``held`` and ``available``, and a new
hold on the wallet first expires the wallet's lapsed holds in its own
transaction (``_expire_lapsed``), so the ``available`` the API shows is
what a new hold may take.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sika.audit import service as audit_service
from sika.core import errors, ids
from sika.core.context import Actor, system_actor
from sika.ledger import service as ledger_service
from sika.parties import service as parties_service
from sika.parties.schemas import PartyStatus
from sika.wallets import repository
from sika.wallets.models import HoldOwnerType, Wallet, WalletHold
from sika.wallets.service import wallets
from sika.wallets.service.fees import FEE_ACCOUNT_KIND, FEE_CODE, capture_fee, fee_account_id
from sika.wallets.service.hold_views import (
    HOLD_STATUS_BY_RESOLUTION,
    HoldOwner,
    HoldTransfer,
    HoldView,
)
from sika.wallets.service.rules import admit_to_party

HOLD_CODE = "hold.placed"
CAPTURE_CODE = "hold.captured"


class HoldNotFound(errors.NotFound):
    """No such hold."""

    code = "hold_not_found"


class InvalidCapture(errors.ValidationFailed):
    """The capture's amounts or destination are not valid."""

    code = "invalid_capture"


class HoldOwnedByApi(errors.Conflict):
    """This hold was placed over the holds API: only /v1/holds captures or releases it."""

    code = "hold_owned_by_api"


class HoldOwnedByPayout(errors.Conflict):
    """This hold guarantees a payout: only the payout's own flow captures or releases it."""

    code = "hold_owned_by_payout"


class HoldNotPlacedByCaller(errors.PermissionDenied):
    """Only what placed a hold resolves it: a party token the holds its party placed, an API key those a key placed."""

    code = "hold_not_placed_by_caller"


class PartyCannotSetFee(errors.PermissionDenied):
    """A party token never sets a platform fee: name a destination wallet and leave platform_fee_minor out."""

    code = "party_cannot_set_fee"


_OWNED_BY: dict[HoldOwnerType, type[errors.Conflict]] = {
    HoldOwnerType.api: HoldOwnedByApi,
    HoldOwnerType.payout: HoldOwnedByPayout,
}


async def place_hold(
    session: AsyncSession,
    *,
    wallet_id: str,
    amount_minor: int,
    reason: str,
    reference: str | None,
    expires_in_seconds: int | None,
    owner: HoldOwner,
    actor: Actor,
    now: datetime,
) -> HoldView:
    """Reserve ``amount_minor`` of the wallet's available money for ``owner``;
    InsufficientFunds (from the ledger) when it does not have it,
    PartySuspended when its party is. The wallet's holds past their expiry
    are expired first, in this transaction, so they stand in no one's way."""
    found = await repository.wallet_to_debit(session, wallet_id, now=now)
    if found is None:
        raise wallets.WalletNotFound()
    wallet = found.wallet
    parties_service.check_owner(actor, wallet.party_id)
    _check_debitable(found.party_status)
    await _expire(session, found.lapsed_hold_ids, actor=actor, now=now)
    try:
        pending = await ledger_service.create_transfer(
            session,
            debit_account_id=wallet.account_id,
            credit_account_id=wallet.holds_account_id,
            amount_minor=amount_minor,
            currency=wallet.currency,
            code=HOLD_CODE,
            pending=True,
            timeout_seconds=expires_in_seconds,
            transfer_id=ids.new_id("hold"),
            metadata=wallets.movement_metadata(wallet_id=wallet.id, reference=reference, reason=reason),
            now=now,
            actor=actor,
        )
    except ledger_service.InsufficientFunds:
        raise await wallets.insufficient_funds(session, wallet, amount_minor=amount_minor, now=now) from None
    record = WalletHold(
        id=pending.id,
        wallet_id=wallet.id,
        owner_type=owner.type.value,
        owner_id=owner.id,
        placed_by=actor.id,
        placed_by_party_id=actor.party_id,
        platform_id=wallet.platform_id,
        created_at=now,
    )
    await repository.insert_hold(session, record)
    await audit_service.record(
        session,
        actor=actor,
        platform_id=wallet.platform_id,
        action="hold.placed",
        entity_type="hold",
        entity_id=pending.id,
        data={
            "wallet_id": wallet.id,
            "amount_minor": amount_minor,
            "reference": reference,
            "owner_type": owner.type.value,
            "owner_id": owner.id,
        },
    )
    return HoldView(
        pending=HoldTransfer.of_record(pending),
        resolution=None,
        record=record,
        wallet=await wallets.wallet_view(session, wallet, now=now),
        now=now,
    )


def _check_debitable(party_status: str) -> None:
    """A suspended party's wallet gives nothing (its row is share-locked by the read
    that found this status, so the status holds until the transaction ends)."""
    if party_status == PartyStatus.suspended.value:
        raise parties_service.PartySuspended()


async def _expire_lapsed(session: AsyncSession, *, wallet: Wallet, actor: Actor, now: datetime) -> None:
    """Expire the wallet's holds past their expiry now rather than at the
    expiry job's next run: until then the ledger still counts them against
    the wallet, and the API already shows their money as available."""
    lapsed = await repository.lapsed_holds(session, account_id=wallet.account_id, now=now)
    await _expire(session, sorted(lapsed), actor=actor, now=now)


async def _expire(session: AsyncSession, lapsed: list[str], *, actor: Actor, now: datetime) -> None:
    if lapsed:
        expirer = replace(system_actor("wallets.expire_lapsed"), request_id=actor.request_id)
        await ledger_service.expire_pending_transfers(session, pending_ids=lapsed, now=now, actor=expirer)


async def get_hold(session: AsyncSession, *, hold_id: str, actor: Actor, now: datetime) -> HoldView:
    row = await _reachable_hold(session, hold_id=hold_id, actor=actor)
    resolution = HoldTransfer.of_model(row.resolution) if row.resolution is not None else None
    return await _hold_view(session, row, resolution=resolution, now=now)


async def list_holds(
    session: AsyncSession, *, wallet_id: str, before_seq: int | None, limit: int, actor: Actor, now: datetime
) -> tuple[list[HoldView], int | None]:
    """The wallet's holds, newest first, and the cursor for the next page."""
    wallet = await wallets.owned_wallet(session, wallet_id=wallet_id, actor=actor)
    pendings = await ledger_service.list_account_transfers(
        session,
        account_id=wallet.account_id,
        side="debit",
        kind="pending",
        code=HOLD_CODE,
        before_seq=before_seq,
        limit=limit,
    )
    pending_ids = [p.id for p in pendings]
    resolutions = await ledger_service.get_resolutions(session, pending_ids=pending_ids)
    records = await repository.get_holds(session, pending_ids)
    view = await wallets.wallet_view(session, wallet, now=now)
    holds = [
        HoldView(
            pending=HoldTransfer.of_model(p),
            resolution=HoldTransfer.of_model(resolutions[p.id]) if p.id in resolutions else None,
            record=records[p.id],
            wallet=view,
            now=now,
        )
        for p in pendings
    ]
    return holds, (pendings[-1].seq if len(pendings) == limit else None)


def _check_party_capture(*, destination_wallet_id: str | None, platform_fee_minor: int | None) -> None:
    """A party token pays a destination wallet: it sets no fee (its platform's fee
    policy decides), and without a destination the whole capture would be the
    platform's fee."""
    if destination_wallet_id is None or platform_fee_minor is not None:
        raise PartyCannotSetFee()


async def capture_hold(
    session: AsyncSession,
    *,
    hold_id: str,
    amount_minor: int | None,
    destination_wallet_id: str | None,
    platform_fee_minor: int | None,
    owner: HoldOwner,
    actor: Actor,
    now: datetime,
) -> HoldView:
    """Post the hold (all of it, or ``amount_minor``; the rest returns to the
    wallet) and pay the captured money to the destination wallet, less the
    platform's fee (``platform_fee_minor``, or its fee policy's when None), in
    one transaction. Only for ``owner``'s own holds, and for a party token only
    with a destination and no fee of its own.

    The hold, its wallet, its party (share-locked) and the destination are read
    in one statement; the post and the payments are one call of the ledger
    function, which locks every account they touch in its own order."""
    row = await _resolvable_hold(
        session, hold_id=hold_id, owner=owner, actor=actor, destination_wallet_id=destination_wallet_id, lock_party=True
    )
    wallet = row.wallet
    if actor.is_party:
        _check_party_capture(destination_wallet_id=destination_wallet_id, platform_fee_minor=platform_fee_minor)
    captured, destination, to_platform = await _capture_split(
        session, row, amount_minor=amount_minor, destination_wallet_id=destination_wallet_id, asked=platform_fee_minor
    )
    _check_debitable(row.party_status)
    if destination is not None:
        await admit_to_party(
            session, wallet, destination, movement_id=hold_id, kind="capture", amount=captured, now=now
        )
    requests = _capture_requests(row, captured=captured, destination=destination, to_platform=to_platform, actor=actor)
    # Before the ledger call, which holds every capture's fee account until commit (a refusal rolls it back).
    await audit_service.record(
        session,
        actor=actor,
        platform_id=wallet.platform_id,
        action="hold.captured",
        entity_type="hold",
        entity_id=hold_id,
        data={
            "wallet_id": wallet.id,
            "captured_minor": captured,
            "destination_wallet_id": destination.id if destination else None,
            "platform_fee_minor": to_platform,
        },
    )
    posted = await _apply_capture(session, hold_id, requests, wallet=wallet, actor=actor, now=now)
    return await _hold_view(session, row, resolution=HoldTransfer.of_record(posted), now=now)


async def _capture_split(
    session: AsyncSession,
    row: repository.HoldRow,
    *,
    amount_minor: int | None,
    destination_wallet_id: str | None,
    asked: int | None,
) -> tuple[int, Wallet | None, int]:
    """What a capture takes, where it goes, and the platform's part:
    (captured, destination wallet or None, to the platform). Without a
    destination the platform takes it all; with one, the fee asked or, if none
    was, the platform's fee policy's."""
    pending = row.pending
    captured = pending.amount_minor if amount_minor is None else amount_minor
    if captured > pending.amount_minor:
        raise ledger_service.AmountExceedsPending(
            f"Cannot capture {captured}: hold {pending.id} holds {pending.amount_minor}."
        )
    destination = _destination(row, destination_wallet_id=destination_wallet_id)
    to_platform = captured if destination is None else await capture_fee(session, row.wallet, captured, asked)
    if destination is None and asked:
        raise InvalidCapture(
            "Without a destination wallet the whole capture goes to the platform; leave platform_fee_minor out."
        )
    if to_platform > captured:
        raise InvalidCapture(f"The platform fee {to_platform} exceeds the captured {captured}.")
    return captured, destination, to_platform


def _capture_requests(
    row: repository.HoldRow, *, captured: int, destination: Wallet | None, to_platform: int, actor: Actor
) -> list[ledger_service.TransferRequest]:
    """The hold's post into its wallet's holds account, then the journal entry
    paying the captured money out of it: to the destination wallet, and the
    platform's part to its fee account."""
    wallet, pending = row.wallet, row.pending
    post = ledger_service.resolution_request(
        kind="post_pending",
        pending_id=pending.id,
        amount_minor=captured,
        transfer_id=None,
        code=None,
        metadata={"destination_wallet_id": destination.id if destination else None, "platform_fee_minor": to_platform},
        actor=actor,
    )
    journal_id = ids.new_id("jrn")
    paid = {"hold_id": pending.id, "wallet_id": wallet.id}
    legs: list[tuple[str, int, str, dict[str, Any]]] = []
    if destination is not None and captured > to_platform:
        described = {**paid, **{k: v for k, v in pending.metadata_.items() if k in ("reference", "reason")}}
        legs.append((destination.account_id, captured - to_platform, CAPTURE_CODE, described))
    if to_platform:
        legs.append((fee_account_id(wallet.platform_id, wallet.currency), to_platform, FEE_CODE, paid))
    return [
        post,
        *(
            ledger_service.transfer_request(
                debit_account_id=wallet.holds_account_id,
                credit_account_id=credit_account_id,
                amount_minor=amount,
                currency=wallet.currency,
                code=code,
                pending=False,
                timeout_seconds=None,
                transfer_id=None,
                metadata=metadata,
                journal_id=journal_id,
                actor=actor,
            )
            for credit_account_id, amount, code, metadata in legs
        ),
    ]


async def _apply_capture(
    session: AsyncSession,
    hold_id: str,
    requests: list[ledger_service.TransferRequest],
    *,
    wallet: Wallet,
    actor: Actor,
    now: datetime,
) -> ledger_service.TransferRecord:
    """The capture's post, its payments applied with it. The platform's fee account
    is opened on first use: when the ledger finds it missing, it is opened and the
    capture (which wrote nothing) applied again."""
    rows = await ledger_service.apply_in_order(session, requests=requests, now=now)
    fees = fee_account_id(wallet.platform_id, wallet.currency)
    if any(r.error_code == ledger_service.AccountNotFound.code and r.credit_account_id == fees for r in rows):
        await ledger_service.ensure_account(
            session,
            account_id=fees,
            currency=wallet.currency,
            kind=FEE_ACCOUNT_KIND,
            debits_must_not_exceed_credits=True,
            managed=True,
            platform_id=wallet.platform_id,
            now=now,
            actor=actor,
        )
        rows = await ledger_service.apply_in_order(session, requests=requests, now=now)
    return _posted(hold_id, rows, legs=True)


def _posted(hold_id: str, rows: list[ledger_service.AppliedRow], *, legs: bool) -> ledger_service.TransferRecord:
    """The hold's post (the first row), or the first refusal: the post's as a
    refusal about the hold, a payment's as the ledger names it (with ``legs``,
    as a journal entry's leg, counted from 0)."""
    for index, row in enumerate(rows):
        if row.error_code is None:
            continue
        if index == 0:
            with _as_hold_refusal(hold_id):
                raise ledger_service.error_of(row)
        raise ledger_service.error_of(row, leg=index - 1 if legs else None)
    return ledger_service.record_of(rows[0])


async def capture_hold_to_account(
    session: AsyncSession,
    *,
    hold_id: str,
    account_id: str,
    code: str,
    metadata: dict[str, Any],
    owner: HoldOwner,
    actor: Actor,
    now: datetime,
) -> HoldView:
    """Post the whole hold and pay it to a system ledger account (for a
    payout, the provider's clearing account), in one transaction; only for
    ``owner``'s own holds.

    Unlike ``capture_hold`` it does not ask whether the party may be debited:
    it records money that has already left (the provider paid it out), which
    a suspension decided meanwhile must not keep out of the books."""
    row = await _resolvable_hold(session, hold_id=hold_id, owner=owner, actor=actor)
    wallet, pending = row.wallet, row.pending
    requests = [
        ledger_service.resolution_request(
            kind="post_pending",
            pending_id=hold_id,
            amount_minor=None,
            transfer_id=None,
            code=None,
            metadata={"destination_account_id": account_id},
            actor=actor,
        ),
        ledger_service.transfer_request(
            debit_account_id=wallet.holds_account_id,
            credit_account_id=account_id,
            amount_minor=pending.amount_minor,
            currency=wallet.currency,
            code=code,
            pending=False,
            timeout_seconds=None,
            transfer_id=None,
            metadata={"hold_id": hold_id, "wallet_id": wallet.id, **metadata},
            journal_id=None,
            actor=actor,
        ),
    ]
    rows = await ledger_service.apply_in_order(session, requests=requests, now=now)
    posted = _posted(hold_id, rows, legs=False)
    await audit_service.record(
        session,
        actor=actor,
        platform_id=wallet.platform_id,
        action="hold.captured",
        entity_type="hold",
        entity_id=hold_id,
        data={"wallet_id": wallet.id, "captured_minor": pending.amount_minor, "destination_account_id": account_id},
    )
    return await _hold_view(session, row, resolution=HoldTransfer.of_record(posted), now=now)


async def release_hold(
    session: AsyncSession, *, hold_id: str, owner: HoldOwner, actor: Actor, now: datetime
) -> HoldView:
    """Void the hold: all of it returns to the wallet's available money. Only
    for ``owner``'s own holds."""
    row = await _resolvable_hold(session, hold_id=hold_id, owner=owner, actor=actor)
    with _as_hold_refusal(hold_id):
        voided = await ledger_service.void_pending(session, pending_id=hold_id, now=now, actor=actor)
    await audit_service.record(
        session,
        actor=actor,
        platform_id=row.wallet.platform_id,
        action="hold.released",
        entity_type="hold",
        entity_id=hold_id,
        data={"wallet_id": row.wallet.id, "amount_minor": row.pending.amount_minor},
    )
    return await _hold_view(session, row, resolution=HoldTransfer.of_record(voided), now=now)


async def _reachable_hold(
    session: AsyncSession,
    *,
    hold_id: str,
    actor: Actor,
    destination_wallet_id: str | None = None,
    lock_party: bool = False,
) -> repository.HoldRow:
    """The hold, its owner record and its wallet, if ``actor`` may see the wallet
    (and the destination wallet named, if ``actor`` may see it)."""
    row = await repository.hold_row(
        session, hold_id, code=HOLD_CODE, destination_wallet_id=destination_wallet_id, lock_party=lock_party
    )
    if row is None:
        raise HoldNotFound()
    parties_service.check_owner(actor, row.wallet.party_id)
    return row


async def _resolvable_hold(
    session: AsyncSession,
    *,
    hold_id: str,
    owner: HoldOwner,
    actor: Actor,
    destination_wallet_id: str | None = None,
    lock_party: bool = False,
) -> repository.HoldRow:
    """The hold, if ``owner``'s flow, run by ``actor``, may capture or release it."""
    row = await _reachable_hold(
        session, hold_id=hold_id, actor=actor, destination_wallet_id=destination_wallet_id, lock_party=lock_party
    )
    _check_resolver(row.record, owner=owner, actor=actor)
    if row.resolution is not None:
        status = HOLD_STATUS_BY_RESOLUTION[row.resolution.kind].value
        raise ledger_service.PendingTransferAlreadyResolved(f"Hold {hold_id} is already {status}.")
    return row


@contextlib.contextmanager
def _as_hold_refusal(hold_id: str) -> Iterator[None]:
    """The ledger's refusal to resolve a hold, told of the hold the caller
    named: the ledger names its pending transfer, and its ``transfer_id`` is
    that of the resolving transfer, which was never written."""
    try:
        yield
    except ledger_service.PendingTransferAlreadyResolved:
        raise ledger_service.PendingTransferAlreadyResolved(
            f"Hold {hold_id} was already captured, released or expired."
        ) from None
    except ledger_service.PendingTransferExpired:
        raise ledger_service.PendingTransferExpired(f"Hold {hold_id} has expired.") from None


def _check_resolver(record: WalletHold, *, owner: HoldOwner, actor: Actor) -> None:
    """Only the hold's owner resolves it; for a hold of the holds API, only
    what placed it: that party's token, or an API key when a key placed it."""
    held_by = HoldOwnerType(record.owner_type)
    if (held_by, record.owner_id) != (owner.type, owner.id):
        raise _OWNED_BY[held_by]()
    if held_by is HoldOwnerType.api and record.placed_by_party_id != actor.party_id:
        raise HoldNotPlacedByCaller()


async def _hold_view(
    session: AsyncSession, row: repository.HoldRow, *, resolution: HoldTransfer | None, now: datetime
) -> HoldView:
    return HoldView(
        pending=HoldTransfer.of_model(row.pending),
        resolution=resolution,
        record=row.record,
        wallet=await wallets.wallet_view(session, row.wallet, now=now),
        now=now,
    )


def _destination(row: repository.HoldRow, *, destination_wallet_id: str | None) -> Wallet | None:
    if destination_wallet_id is None:
        return None
    destination, wallet = row.destination, row.wallet
    if destination is None:
        raise wallets.WalletNotFound(f"No destination wallet {destination_wallet_id}.")
    if destination.id == wallet.id:
        raise InvalidCapture("A hold cannot be captured to its own wallet; release it instead.")
    if destination.platform_id != wallet.platform_id:
        # Only an operator bound to no platform sees both wallets to get here.
        raise InvalidCapture(f"Wallet {destination.id} belongs to another platform: money does not cross platforms.")
    if destination.currency != wallet.currency:
        raise ledger_service.CurrencyMismatch(
            f"The hold is in {wallet.currency}; wallet {destination.id} is in {destination.currency}."
        )
    return destination
