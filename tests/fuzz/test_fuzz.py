"""Schemathesis against a real Sika (the API as a process, the providers'
sandbox over HTTP): every operation of the served OpenAPI document, with
examples, boundary cases, fuzzed inputs and stateful chains that follow the
links from what it creates (a party, its wallet, a top-up, a hold, its
capture…) to what acts on it, starting from a world of real ids. Every answer
must be no 5xx, of a documented status, media type and schema; a method a
path does not take is 405 with ``Allow``, and ``OPTIONS`` lists the documented
methods. Every money-moving operation must have succeeded at least once.

Bounded for CI and deterministic: derandomized generation (the same cases on
every run), 10 examples per operation, one worker. ``SIKA_FUZZ_MAX_EXAMPLES``
and ``SIKA_FUZZ_SEED`` run it longer, or on random cases from a seed
(CONTRIBUTING.md, "Fuzzing the API")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.auth.scopes import Scope
from tests.conftest import make_key
from tests.fuzz import hooks
from tests.fuzz.world import World, world
from tests.support import idempotency
from tests.support.stack import live_stack

CONFIG = Path(__file__).with_name("schemathesis.toml")
REPOSITORY = Path(__file__).parents[2]
"""Where ``st`` runs, so that it imports the hooks as ``tests.fuzz.hooks``."""
MAX_EXAMPLES = int(os.environ.get("SIKA_FUZZ_MAX_EXAMPLES", "10"))
SEED = os.environ.get("SIKA_FUZZ_SEED")
"""Unset: derandomized generation, the same cases on every run. Set: random generation from this seed."""
RUN_TIMEOUT_SECONDS = 900
REAL_ID_PROBABILITY = 0.8
"""How often a parameter naming an object takes one of the world's ids rather than a generated value."""

BODY_IDS = {
    "party_id": "party_id",
    "wallet_id": "wallet_id",
    "platform_id": "platform_id",
    "debit_account_id": "account_id",
    "credit_account_id": "account_id",
    "account_id": "account_id",
    "currency": "currency",
    "otp": "otp",
}
"""Body fields naming an object (or the world's currency, the sandbox's OTP), by the dictionary they draw from."""
BODY_ONLY = frozenset({"currency", "otp"})
"""Dictionaries no path parameter draws from."""

MONEY_OPERATIONS = (
    "POST /v1/wallets/{wallet_id}/top-ups",
    "POST /v1/wallets/{wallet_id}/holds",
    "POST /v1/holds/{hold_id}/capture",
    "POST /v1/holds/{hold_id}/release",
    "POST /v1/ledger/transfers",
    "POST /v1/collections",
    "POST /v1/payouts",
)
"""Operations that move money: each must have been reached with real ids and succeeded at least once."""


def _config(found: World, directory: Path) -> Path:
    """This directory's copy of the configuration, with the world's ids as dictionaries."""
    lines = [CONFIG.read_text(), "", "[parameters]"]
    for name in sorted(found.ids.keys() - BODY_ONLY):
        lines.append(f'"path.{name}" = {{ dictionary = "{name}", probability = {REAL_ID_PROBABILITY} }}')
    for field, name in BODY_IDS.items():
        lines.append(f'"body.{field}" = {{ dictionary = "{name}", probability = {REAL_ID_PROBABILITY} }}')
    for name, values in found.ids.items():
        lines += ["", f"[dictionaries.{name}]", f"values = {json.dumps(values)}"]
    path = directory / "schemathesis.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _fuzz(api_url: str, config: Path, tally: Path, report: Path, authorization: str, *selection: str) -> None:
    command = [
        *(sys.executable, "-m", "schemathesis.cli"),
        *("--config-file", str(config), "run", f"{api_url}/openapi.json"),
        *("--header", f"Authorization: {authorization}"),
        *("--max-examples", str(MAX_EXAMPLES), "--workers", "1"),
        *(("--seed", SEED) if SEED else ("--generation-deterministic",)),
        *("--no-color", "--continue-on-failure"),
        *selection,
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": hooks.__name__, hooks.TALLY_ENV: str(tally)}
    done = subprocess.run(
        command, cwd=REPOSITORY, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS, check=False
    )
    report.write_text(done.stdout + done.stderr)
    assert done.returncode == 0, f"{report}:\n{done.stdout[-20_000:]}{done.stderr[-4_000:]}"


async def test_every_answer_is_documented(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    global_admin = {"Authorization": f"Bearer {await make_key(sessions, Scope.admin)}"}
    tally = tmp_path / "tally"
    with live_stack(database_url) as stack:
        stack.start_api(workers=1)
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=30, event_hooks=idempotency.HOOKS) as client:
            found = await world(client, global_admin, sessions)
            served = await client.get("/openapi.json")
            assert served.status_code == 200, served.text
            paths = served.json()["paths"]
        config = _config(found, tmp_path)
        # The party's own operations first: the admin's run may revoke its tokens or suspend it.
        party_only = ("--include-by", "/x-sika-party-token == true")
        _fuzz(stack.api_url, config, tally, tmp_path / "party.txt", found.party_token["Authorization"], *party_only)
        _fuzz(stack.api_url, config, tally, tmp_path / "admin.txt", found.admin["Authorization"])
    answers = {tuple(line.split("\t")) for line in tally.read_text().splitlines()}
    operations = {f"{method.upper()} {path}" for path, item in paths.items() for method in item}
    assert operations <= {operation for operation, _, _ in answers}, "every operation was called"
    succeeded = {
        operation for operation, method, status in answers if operation.startswith(f"{method} ") and status[0] == "2"
    }
    assert set(MONEY_OPERATIONS) <= succeeded, set(MONEY_OPERATIONS) - succeeded
