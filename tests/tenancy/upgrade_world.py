"""A database as the code of revision 0009 left it: every kind of row that code
wrote, in raw SQL against the 0009 schema, with the money moved through the
ledger's own function (``ledger_apply_transfers``) so that its totals, audit
rows, open-holds list and timeouts are the ones the ledger itself writes.

Used by ``test_upgrade.py``: the rows here are what an installation upgrading
to tenancy brings with it."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from sika.core import db, ids

PREVIOUS_REVISION = "0009"
"""The head before tenancy."""

CURRENCY = "XOF"

# The 0009 code's key hash (sika.auth.service): the secrets below must still
# authenticate after the upgrade, so they are hashed as that code hashed them.
_HASH_KEY = b"sika-api-key-v1"


def _secret() -> tuple[str, str]:
    """A key's lookup prefix and full secret, in the form ``sika_<lookup>_<random>``."""
    lookup = secrets.token_hex(6)
    return lookup, f"sika_{lookup}_{secrets.token_urlsafe(32)}"


@dataclass(frozen=True)
class World:
    """The ids of what ``fill`` wrote, and the platform each row should end under."""

    admin_key: str = field(default_factory=lambda: ids.new_id("key"))
    read_key: str = field(default_factory=lambda: ids.new_id("key"))
    platform_key: str = field(default_factory=lambda: ids.new_id("key"))
    platform_secret: str = ""
    alice: str = field(default_factory=lambda: ids.new_id("pty"))
    bob: str = field(default_factory=lambda: ids.new_id("pty"))
    alice_wallet: str = field(default_factory=lambda: ids.new_id("wal"))
    bob_wallet: str = field(default_factory=lambda: ids.new_id("wal"))
    alice_account: str = field(default_factory=lambda: ids.new_id("acct"))
    alice_holds: str = field(default_factory=lambda: ids.new_id("acct"))
    bob_account: str = field(default_factory=lambda: ids.new_id("acct"))
    bob_holds: str = field(default_factory=lambda: ids.new_id("acct"))
    raw_account: str = field(default_factory=lambda: ids.new_id("acct"))
    funding_account: str = "acct_funding_xof"
    fee_account: str = "acct_platform_fees_xof"
    clearing_account: str = "clearing.paystack.XOF"
    open_hold: str = field(default_factory=lambda: ids.new_id("hold"))
    captured_hold: str = field(default_factory=lambda: ids.new_id("hold"))
    payout_hold: str = field(default_factory=lambda: ids.new_id("hold"))
    collection: str = field(default_factory=lambda: ids.new_id("col"))
    payout: str = field(default_factory=lambda: ids.new_id("po"))
    collection_alert: str = field(default_factory=lambda: ids.new_id("alrt"))
    invariant_alert: str = field(default_factory=lambda: ids.new_id("alrt"))
    matched_webhook: str = field(default_factory=lambda: ids.new_id("whe"))
    unmatched_webhook: str = field(default_factory=lambda: ids.new_id("whe"))

    @property
    def platform_accounts(self) -> set[str]:
        """Accounts a platform owns after the upgrade: wallets', the fee account, raw ones."""
        return {
            self.alice_account,
            self.alice_holds,
            self.bob_account,
            self.bob_holds,
            self.fee_account,
            self.raw_account,
        }

    @property
    def system_accounts(self) -> set[str]:
        """Accounts of the installation's own: funding and provider clearing."""
        return {self.funding_account, self.clearing_account}


def fill(url: str) -> World:
    """Write the world into the database at ``url`` (migrated to ``PREVIOUS_REVISION``), in one transaction."""
    lookup, secret = _secret()
    world = World(platform_secret=secret)
    with psycopg.connect(db.libpq_url(url)) as conn:
        _keys(conn, world, platform_lookup=lookup)
        _parties_and_accounts(conn, world)
        _money(conn, world)
        _payments(conn, world)
        _records(conn, world)
    return world


def _keys(conn: psycopg.Connection, world: World, *, platform_lookup: str) -> None:
    rows = [
        (world.admin_key, "first admin", ["admin"], *_secret()),
        (world.read_key, "finance export", ["read"], *_secret()),
        (world.platform_key, "marketplace backend", ["platform"], platform_lookup, world.platform_secret),
    ]
    for key_id, name, scopes, lookup, secret in rows:
        digest = hmac.new(_HASH_KEY, secret.encode(), hashlib.sha256).hexdigest()
        conn.execute(
            "INSERT INTO auth_api_keys (id, name, lookup_prefix, secret_hash, scopes, created_by)"
            " VALUES (%s, %s, %s, %s, %s, 'cli')",
            (key_id, name, lookup, digest, scopes),
        )
        _audit(conn, actor="cli", action="api_key.created", entity=("api_key", key_id), data={"scopes": scopes})
    conn.execute(
        "INSERT INTO idempotency_keys (owner, key, fingerprint, response_status, response_body,"
        " response_content_type, expires_at) VALUES (%s, 'order-1', 'f00d', 201, '{}', 'application/json',"
        " now() + interval '1 day')",
        (world.platform_key,),
    )


def _account(
    conn: psycopg.Connection, account_id: str, kind: str, *, owner: str | None, protected: bool, managed: bool
) -> None:
    conn.execute(
        "INSERT INTO ledger_accounts (id, currency, kind, owner_type, owner_id, debits_must_not_exceed_credits,"
        " is_managed) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (account_id, CURRENCY, kind, "party" if owner else None, owner, protected, managed),
    )
    _audit(conn, actor="cli", action="ledger_account.created", entity=("ledger_account", account_id), data={})


def _parties_and_accounts(conn: psycopg.Connection, world: World) -> None:
    for party_id, name, kind in ((world.alice, "Awa Traoré", "individual"), (world.bob, "Boutique Kone", "business")):
        conn.execute(
            "INSERT INTO parties (id, display_name, type, email, phone, country)"
            " VALUES (%s, %s, %s, %s, '+2250700000001', 'CI')",
            (party_id, name, kind, f"{party_id}@example.com"),
        )
        _audit(conn, actor=world.platform_key, action="party.created", entity=("party", party_id), data={})
        _event(conn, "party.created", ("party", party_id), party_id=party_id)
    for party_id, wallet_id, account_id, holds_id in (
        (world.alice, world.alice_wallet, world.alice_account, world.alice_holds),
        (world.bob, world.bob_wallet, world.bob_account, world.bob_holds),
    ):
        _account(conn, account_id, "wallet", owner=party_id, protected=True, managed=True)
        _account(conn, holds_id, "wallet.holds", owner=party_id, protected=True, managed=True)
        conn.execute(
            "INSERT INTO wallets (id, party_id, currency, account_id, holds_account_id) VALUES (%s, %s, %s, %s, %s)",
            (wallet_id, party_id, CURRENCY, account_id, holds_id),
        )
        _audit(conn, actor=world.platform_key, action="wallet.opened", entity=("wallet", wallet_id), data={})
    _account(conn, world.funding_account, "funding", owner=None, protected=False, managed=True)
    _account(conn, world.fee_account, "platform.fees", owner=None, protected=True, managed=True)
    _account(conn, world.clearing_account, "provider.clearing", owner=None, protected=False, managed=True)
    # Opened by the platform key through the raw ledger API: not managed, no owner.
    _account(conn, world.raw_account, "merchant.float", owner=None, protected=False, managed=False)


def apply(
    conn: psycopg.Connection,
    transfer_id: str,
    kind: str,
    *,
    actor: str,
    debit: str | None = None,
    credit: str | None = None,
    amount: int | None = None,
    code: str | None = None,
    pending: str | None = None,
    timeout: int | None = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    """One transfer through the ledger's function, as the 0009 services called it."""
    row = conn.execute(
        "SELECT r_error, r_detail FROM ledger_apply_transfers("
        "%s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[], %s::text[], %s::text[], %s::text[],"
        " %s::integer[], %s::jsonb[], NULL, %s::text[], %s::text[], now(), true, true, 0, %s::boolean[])",
        (
            [transfer_id],
            [kind],
            [debit],
            [credit],
            [amount],
            [CURRENCY if pending is None else None],
            [code],
            [pending],
            [timeout],
            [Jsonb(metadata or {})],
            [actor],
            ["req_upgrade"],
            [False],
        ),
    ).fetchone()
    assert row is not None
    assert row[0] is None, f"{transfer_id}: {row[0]} {row[1]}"


def _hold_owner(
    conn: psycopg.Connection, world: World, hold_id: str, wallet_id: str, *, owner: tuple[str, str | None]
) -> None:
    conn.execute(
        "INSERT INTO wallet_holds (id, wallet_id, owner_type, owner_id, placed_by) VALUES (%s, %s, %s, %s, %s)",
        (hold_id, wallet_id, owner[0], owner[1], world.platform_key),
    )


def _money(conn: psycopg.Connection, world: World) -> None:
    key = world.platform_key
    apply(
        conn, ids.new_id("tr"), "posted", actor="cli", debit=world.funding_account, credit=world.alice_account,
        amount=100_000, code="wallet.top_up", metadata={"wallet_id": world.alice_wallet},
    )  # fmt: skip
    # An open hold, a week to run (so the ledger's timeout row exists too).
    apply(
        conn, world.open_hold, "pending", actor=key, debit=world.alice_account, credit=world.alice_holds,
        amount=10_000, code="hold.placed", timeout=7 * 86_400, metadata={"wallet_id": world.alice_wallet},
    )  # fmt: skip
    _hold_owner(conn, world, world.open_hold, world.alice_wallet, owner=("api", None))
    # A hold captured in full as the platform's fee.
    apply(
        conn, world.captured_hold, "pending", actor=key, debit=world.alice_account, credit=world.alice_holds,
        amount=20_000, code="hold.placed", metadata={"wallet_id": world.alice_wallet},
    )  # fmt: skip
    _hold_owner(conn, world, world.captured_hold, world.alice_wallet, owner=("api", None))
    apply(conn, ids.new_id("tr"), "post_pending", actor=key, pending=world.captured_hold)
    apply(
        conn, ids.new_id("tr"), "posted", actor=key, debit=world.alice_holds, credit=world.fee_account,
        amount=20_000, code="platform.fee", metadata={"hold_id": world.captured_hold, "wallet_id": world.alice_wallet},
    )  # fmt: skip
    _event(conn, "hold.placed", ("hold", world.open_hold), party_id=world.alice)
    _event(conn, "hold.captured", ("hold", world.captured_hold), party_id=world.alice)


def _payments(conn: psycopg.Connection, world: World) -> None:
    conn.execute(
        "INSERT INTO payments_collections (id, party_id, wallet_id, amount_minor, currency, method, operator, phone,"
        " country, customer_email, description, status, provider, provider_reference, created_by, idempotency_key,"
        " created_at, updated_at, completed_at) VALUES (%s, %s, %s, 50000, %s, 'mobile_money', 'orange',"
        " '+2250700000002', 'CI', 'buyer@example.com', 'Order 42', 'processing', 'paystack', 'PSK_ref_1', %s,"
        " 'col-1', now(), now(), NULL)",
        (world.collection, world.bob, world.bob_wallet, CURRENCY, world.platform_key),
    )
    credit = f"{world.collection}.credit"
    apply(
        conn, credit, "posted", actor="webhook:paystack", debit=world.clearing_account, credit=world.bob_account,
        amount=50_000, code="collection.succeeded", metadata={"collection_id": world.collection},
    )  # fmt: skip
    conn.execute(
        "UPDATE payments_collections SET status = 'succeeded', credit_transfer_id = %s, completed_at = now()"
        " WHERE id = %s",
        (credit, world.collection),
    )
    _audit(conn, actor="webhook:paystack", action="collection.succeeded", entity=("collection", world.collection))
    _event(conn, "collection.succeeded", ("collection", world.collection), party_id=world.bob)

    apply(
        conn, world.payout_hold, "pending", actor=world.platform_key, debit=world.bob_account,
        credit=world.bob_holds, amount=5_000, code="payout.hold", metadata={"payout_id": world.payout},
    )  # fmt: skip
    _hold_owner(conn, world, world.payout_hold, world.bob_wallet, owner=("payout", world.payout))
    conn.execute(
        "INSERT INTO payments_payouts (id, party_id, wallet_id, amount_minor, currency, operator, phone, country,"
        " recipient_name, reason, status, provider, provider_reference, hold_id, created_by, idempotency_key,"
        " created_at, updated_at) VALUES (%s, %s, %s, 5000, %s, 'mtn', '+2250500000003', 'CI', 'Boutique Kone',"
        " 'Weekly payout', 'processing', 'paystack', 'PSK_tr_1', %s, %s, 'po-1', now(), now())",
        (world.payout, world.bob, world.bob_wallet, CURRENCY, world.payout_hold, world.platform_key),
    )
    _audit(conn, actor=world.platform_key, action="payout.created", entity=("payout", world.payout))
    _event(conn, "payout.processing", ("payout", world.payout), party_id=world.bob)


def _records(conn: psycopg.Connection, world: World) -> None:
    """Alerts and inbound webhooks, with the audit rows of an operator's handling."""
    conn.execute(
        "INSERT INTO alerts (id, kind, severity, message, entity_type, entity_id, data) VALUES"
        " (%s, 'collection.amount_mismatch', 'warning', 'Reported 49000, expected 50000', 'collection', %s, '{}'),"
        " (%s, 'ledger.invariant_breached', 'critical', 'Every account''s totals equal the sums of its transfers',"
        "  'ledger_account', %s, '{\"check\": \"account_totals\"}')",
        (world.collection_alert, world.collection, world.invariant_alert, world.funding_account),
    )
    conn.execute(
        "UPDATE alerts SET acknowledged_at = now(), acknowledged_by = %s WHERE id = %s",
        (world.admin_key, world.invariant_alert),
    )
    _audit(conn, actor=world.admin_key, action="alert.acknowledged", entity=("alert", world.invariant_alert))
    conn.execute(
        "INSERT INTO webhooks_inbound_events (id, provider, event_id, event_type, body, status, subject, reference,"
        " outcome, attempts, received_at, processed_at) VALUES"
        " (%s, 'paystack', 'evt_1', 'charge.success', '{}', 'processed', 'collection', %s, 'succeeded', 1, now(),"
        "  now()),"
        " (%s, 'paystack', 'evt_2', 'charge.success', '{}', 'unmatched', 'collection', 'col_unknown', NULL, 1, now(),"
        "  now())",
        (world.matched_webhook, world.collection, world.unmatched_webhook),
    )


def _audit(
    conn: psycopg.Connection, *, actor: str, action: str, entity: tuple[str, str], data: dict[str, Any] | None = None
) -> None:
    conn.execute(
        "INSERT INTO audit_events (actor, action, entity_type, entity_id, data, request_id)"
        " VALUES (%s, %s, %s, %s, %s, 'req_upgrade')",
        (actor, action, entity[0], entity[1], Jsonb(data or {})),
    )


def _event(conn: psycopg.Connection, kind: str, entity: tuple[str, str], *, party_id: str) -> None:
    conn.execute(
        "INSERT INTO events (id, type, entity_type, entity_id, party_id, data, occurred_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, now())",
        (ids.new_id("evt"), kind, entity[0], entity[1], party_id, Jsonb({"id": entity[1]})),
    )
