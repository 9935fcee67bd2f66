"""``sika demo``: an escrow from start to finish against a running Sika, over its
public API only, as a platform's backend would drive it.

A client (Awa) pays 150,000 F into her wallet with Orange Money through the
PSP sandbox, entering the code her phone would give her; she opens a
two-milestone escrow for a talent (Kofi) and funds it; Kofi delivers the
first milestone and Awa approves it; Kofi delivers the second and nobody acts,
so the worker's minute job releases it after the (short) demo delay; then
Kofi's wallet is paid out to his mobile money. Each step prints the balances.

It needs an admin key (the one ``sika run`` saved, by default): it makes a
platform of its own, with a 2 % fee, and a platform key for it, so it leaves
every other platform as it was. Nothing here reads the database: what it
shows is what the API answers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from sika.core import clock

CURRENCY = "XOF"
COLLECTED_MINOR = 150_000
MILESTONES = (("Design", 100_000), ("Build", 50_000))
FEE_BPS = 200
"""The demo platform's fee: 2 % of each escrow, taken as each milestone is released."""
RELEASE_DELAY_SECONDS = 5
"""How long after delivery the second milestone is released when the client says nothing."""
JOB_PERIOD_SECONDS = 60
"""The release job (``escrow.settle_due``) runs once a minute in the worker."""
RELEASE_GRACE_SECONDS = 30
"""Beyond the release time and one job period, the wait gives up."""
PAYOUT_WAIT_SECONDS = 90
"""The sandbox approves a payout after ``SANDBOX_APPROVAL_DELAY_SECONDS``, then its webhook reaches the worker."""
REQUEST_TIMEOUT_SECONDS = 60.0
POLL_SECONDS = 0.5
CLIENT = {"display_name": "Awa Koné", "phone": "+2250700000101", "email": "awa@example.ci"}
TALENT = {"display_name": "Kofi Mensah", "phone": "+2250500000202", "email": "kofi@example.ci"}


class DemoFailed(Exception):
    """A step did not go as it should: the message says which and why."""


@dataclass
class Api:
    """Sika's API with one key; every POST carries an Idempotency-Key of this run."""

    http: httpx.Client
    key: str
    run: str

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def post(self, path: str, body: dict[str, Any], *, step: str) -> dict[str, Any]:
        headers = {**self._headers(), "Idempotency-Key": f"sika-demo-{self.run}-{step}"}
        return _answer(self.http.post(path, json=body, headers=headers), expected=(200, 201))

    def get(self, path: str) -> dict[str, Any]:
        return _answer(self.http.get(path, headers=self._headers()), expected=(200,))


def _answer(response: httpx.Response, *, expected: tuple[int, ...]) -> dict[str, Any]:
    if response.status_code not in expected:
        try:
            problem = response.json()
            said = f"{problem.get('code')}: {problem.get('detail')}"
        except ValueError:
            said = response.text[:300]
        raise DemoFailed(
            f"{response.request.method} {response.request.url.path} answered {response.status_code} ({said})"
        )
    found: dict[str, Any] = response.json()
    return found


@dataclass(frozen=True)
class Party:
    name: str
    party_id: str
    wallet_id: str


@dataclass(frozen=True)
class Outcome:
    """What the demo made and where the money ended."""

    platform_id: str
    client: Party
    talent: Party
    escrow_id: str
    payout_id: str
    balances: dict[str, int]
    """Available money at the end: each wallet, the escrow, the platform's fees."""


def money(amount_minor: int) -> str:
    return f"{amount_minor:,} F".replace(",", "\u202f")


class Demo:
    def __init__(self, *, admin: Api, sandbox: httpx.Client, console: Console) -> None:
        self.admin = admin
        self.sandbox = sandbox
        self.console = console
        self.step = 0
        self.api = admin
        self.escrow_id: str | None = None

    def say(self, title: str) -> None:
        self.step += 1
        self.console.rule(f"[bold]{self.step}. {title}", align="left")

    def show_balances(self, client: Party, talent: Party) -> dict[str, int]:
        table = Table(show_edge=False, pad_edge=False)
        for column in ("", "available", "held"):
            table.add_column(column, justify="left" if not column else "right")
        shown: dict[str, int] = {}
        for who in (client, talent):
            wallet = self.api.get(f"/v1/wallets/{who.wallet_id}")
            shown[who.name] = wallet["available_minor"]
            table.add_row(f"{who.name}'s wallet", money(wallet["available_minor"]), money(wallet["held_minor"]))
        if self.escrow_id is not None:
            escrow = self.api.get(f"/v1/escrows/{self.escrow_id}")
            shown["escrow"] = escrow["held_minor"]
            table.add_row(f"escrow ({escrow['status']})", "", money(escrow["held_minor"]))
        self.console.print(table)
        return shown

    def platform(self) -> str:
        self.say("A platform of its own, with a 2 % fee, and its key")
        body = {"name": f"Sika demo {self.admin.run}", "default_currency": CURRENCY}
        platform = self.admin.post(
            "/v1/platforms", {**body, "fee_policy": {CURRENCY: {"percent_bps": FEE_BPS}}}, step="platform"
        )
        key = self.admin.post(
            "/v1/api-keys",
            {"name": f"sika demo {self.admin.run}", "scopes": ["platform"], "platform_id": platform["id"]},
            step="platform-key",
        )
        self.api = Api(http=self.admin.http, key=key["secret"], run=self.admin.run)
        self.console.print(f"platform [cyan]{platform['id']}[/], key [cyan]{key['id']}[/]")
        return str(platform["id"])

    def party(self, who: dict[str, str], role: str) -> Party:
        body = {**who, "type": "individual", "country": "CI"}
        party = self.api.post("/v1/parties", body, step=f"party-{role}")
        wallet = self.api.post(f"/v1/parties/{party['id']}/wallets", {"currency": CURRENCY}, step=f"wallet-{role}")
        self.console.print(
            f"{role} {who['display_name']}: party [cyan]{party['id']}[/], wallet [cyan]{wallet['id']}[/]"
        )
        return Party(name=who["display_name"], party_id=party["id"], wallet_id=wallet["id"])

    def collect(self, client: Party) -> None:
        self.say(f"{client.name} pays {money(COLLECTED_MINOR)} in with Orange Money")
        body = {
            "party_id": client.party_id,
            "wallet_id": client.wallet_id,
            "amount_minor": COLLECTED_MINOR,
            "currency": CURRENCY,
            "method": {"type": "mobile_money", "operator": "orange", "phone": CLIENT["phone"]},
        }
        collection = self.api.post("/v1/collections", body, step="collection")
        action = collection.get("next_action") or {}
        if collection["status"] != "action_required" or action.get("type") != "submit_otp":
            raise DemoFailed(f"Collection {collection['id']} is {collection['status']}, not waiting for an OTP.")
        self.console.print(
            f"collection [cyan]{collection['id']}[/] via {collection['provider']}: {action['display_text']}"
        )
        # Her phone would give Awa the code; the sandbox publishes the one it accepts.
        otp = str(_answer(self.sandbox.get("/_sandbox"), expected=(200,))["valid_otp"])
        self.console.print(f"{client.name} enters the code from her phone: [bold]{otp}[/]")
        done = self.api.post(f"/v1/collections/{collection['id']}/otp", {"otp": otp}, step="otp")
        if done["status"] != "succeeded":
            raise DemoFailed(f"Collection {done['id']} is {done['status']} after the OTP: {done.get('failure')}")
        self.console.print(f"collection [green]succeeded[/]: credit [cyan]{done['credit_transfer_id']}[/]")

    def open_escrow(self, client: Party, talent: Party) -> dict[str, Any]:
        self.say("She opens a two-milestone escrow for Kofi and funds it from her wallet")
        body = {
            "client_party_id": client.party_id,
            "beneficiary_party_id": talent.party_id,
            "currency": CURRENCY,
            "amount_minor": sum(amount for _, amount in MILESTONES),
            "milestones": [{"title": title, "amount_minor": amount} for title, amount in MILESTONES],
            "release_after_delivery_seconds": RELEASE_DELAY_SECONDS,
            "metadata": {"demo": self.admin.run},
        }
        escrow = self.api.post("/v1/escrows", body, step="escrow")
        self.escrow_id = escrow["id"]
        funded = self.api.post(f"/v1/escrows/{escrow['id']}/fund", {}, step="fund")
        parts = ", ".join(
            f"{m['title']} {money(m['amount_minor'])} (fee {money(m['fee_minor'])})" for m in funded["milestones"]
        )
        self.console.print(f"escrow [cyan]{funded['id']}[/] [green]{funded['status']}[/]: {parts}")
        return funded

    def milestone(self, number: int, action: str) -> dict[str, Any]:
        escrow = self.api.post(
            f"/v1/escrows/{self.escrow_id}/milestones/{number}/{action}", {}, step=f"m{number}-{action}"
        )
        shown = escrow["milestones"][number - 1]
        self.console.print(f"milestone {number} ({shown['title']}): [green]{shown['status']}[/]")
        return escrow

    def wait_for_release(self, number: int, release_at: datetime) -> dict[str, Any]:
        """Until the worker's job has released milestone ``number``: at most one job period
        (and a margin) after its release time, with the wait shown as it goes."""
        deadline = release_at + timedelta(seconds=JOB_PERIOD_SECONDS + RELEASE_GRACE_SECONDS)
        start = clock.now()
        columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
        with Progress(*columns, console=self.console, transient=False) as progress:
            task = progress.add_task("", total=(deadline - start).total_seconds())
            while True:
                escrow = self.api.get(f"/v1/escrows/{self.escrow_id}")
                now = clock.now()
                progress.update(task, completed=(now - start).total_seconds(), description=_waiting(release_at, now))
                if escrow["milestones"][number - 1]["status"] == "released":
                    progress.update(task, completed=progress.tasks[0].total, description="released by the worker's job")
                    return escrow
                if now >= deadline:
                    raise DemoFailed(
                        f"Milestone {number} was due at {release_at:%H:%M:%S} UTC and is still not released at "
                        f"{now:%H:%M:%S}: is the worker running (sika run starts one; sika worker otherwise)?"
                    )
                time.sleep(POLL_SECONDS)

    def pay_out(self, talent: Party) -> str:
        available = int(self.api.get(f"/v1/wallets/{talent.wallet_id}")["available_minor"])
        self.say(f"Kofi takes his {money(available)} out to his MTN MoMo")
        body = {
            "party_id": talent.party_id,
            "wallet_id": talent.wallet_id,
            "amount_minor": available,
            "currency": CURRENCY,
            "destination": {"operator": "mtn", "phone": TALENT["phone"]},
            "recipient_name": talent.name,
            "reason": "escrow earnings",
        }
        payout = self.api.post("/v1/payouts", body, step="payout")
        self.console.print(f"payout [cyan]{payout['id']}[/] via {payout['provider']}: {payout['status']}")
        done = self._until(
            lambda: self.api.get(f"/v1/payouts/{payout['id']}"),
            lambda p: p["status"] in ("succeeded", "failed", "reversed"),
            waiting="the provider pays and its webhook reaches the worker (else reconciliation asks it, later)",
            seconds=PAYOUT_WAIT_SECONDS,
        )
        if done["status"] != "succeeded":
            raise DemoFailed(f"Payout {done['id']} {done['status']}: {done.get('failure')}")
        self.console.print(f"payout [green]succeeded[/] to {TALENT['phone']}")
        return str(payout["id"])

    def month_of(self, talent: Party) -> None:
        """The talent's dashboard numbers, from ``GET /v1/parties/{id}/summary``."""
        summary = self.api.get(f"/v1/parties/{talent.party_id}/summary")
        (figures,) = [c for c in summary["currencies"] if c["currency"] == CURRENCY]
        self.console.print(
            f"{talent.name}'s {summary['month']}: released to him {money(figures['released_this_month_minor'])}, "
            f"paid out {money(figures['paid_out_this_month_minor'])}, "
            f"fees {money(figures['fees_paid_this_month_minor'])}, "
            f"pending in escrow {money(figures['escrow_pending_minor'])}"
        )

    def _until(
        self,
        read: Callable[[], dict[str, Any]],
        done: Callable[[dict[str, Any]], bool],
        *,
        waiting: str,
        seconds: float,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        with self.console.status(f"waiting: {waiting} (at most {seconds:.0f} s)"):
            while True:
                found = read()
                if done(found):
                    return found
                if time.monotonic() >= deadline:
                    raise DemoFailed(f"Still waiting after {seconds:.0f} s: {waiting}.")
                time.sleep(POLL_SECONDS)


def _waiting(release_at: datetime, now: datetime) -> str:
    if now < release_at:
        return f"released at {release_at:%H:%M:%S} UTC unless Awa acts: {(release_at - now).total_seconds():.0f} s"
    return "due: waiting for the worker's minute job (escrow.settle_due)"


def run(*, url: str, admin_key: str, sandbox_url: str, console: Console) -> Outcome:
    """The whole demo against the Sika at ``url``; raises ``DemoFailed`` at the first step that goes wrong."""
    with (
        httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_SECONDS) as http,
        httpx.Client(base_url=sandbox_url, timeout=REQUEST_TIMEOUT_SECONDS) as sandbox,
    ):
        demo = Demo(admin=Api(http=http, key=admin_key, run=uuid.uuid4().hex[:8]), sandbox=sandbox, console=console)
        try:
            return _walk(demo)
        except httpx.TransportError as exc:
            raise DemoFailed(f"Cannot reach {exc.request.url}: {exc}. Is `sika run` serving there?") from exc


def _walk(demo: Demo) -> Outcome:
    platform_id = demo.platform()
    demo.say("Two parties, each with a wallet")
    client, talent = demo.party(CLIENT, "client"), demo.party(TALENT, "talent")
    demo.collect(client)
    demo.show_balances(client, talent)
    demo.open_escrow(client, talent)
    demo.show_balances(client, talent)
    demo.say("Kofi delivers the first milestone; Awa approves it")
    demo.milestone(1, "deliver")
    demo.milestone(1, "approve")
    demo.show_balances(client, talent)
    demo.say(f"Kofi delivers the second; Awa says nothing for {RELEASE_DELAY_SECONDS} s")
    delivered = demo.milestone(2, "deliver")
    release_at = datetime.fromisoformat(delivered["milestones"][1]["release_at"])
    released = demo.wait_for_release(2, release_at)
    demo.console.print(f"[bold green]escrow released[/]: {released['status']}, {money(released['released_minor'])}")
    demo.show_balances(client, talent)
    payout_id = demo.pay_out(talent)
    balances = demo.show_balances(client, talent)
    fees = demo.api.get(f"/v1/platforms/{platform_id}/fees")["data"]
    balances["fees"] = sum(int(fee["earned_minor"]) for fee in fees)
    demo.console.print(f"platform fees earned: {money(balances['fees'])}")
    demo.month_of(talent)
    return Outcome(
        platform_id=platform_id,
        client=client,
        talent=talent,
        escrow_id=str(released["id"]),
        payout_id=payout_id,
        balances=balances,
    )
