"""``sika demo`` against ``sika run``, as the README's quick tour runs it: from
another process, with nothing but the admin key ``sika run`` saved. The worker
inside ``sika run`` releases the second milestone on its minute job; the demo
ends with the talent paid out, and the API agrees with what it printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.e2e.test_sika_run import _kill_postgres_in, sika_run, work_dir

__all__ = ["work_dir"]

DEMO_TIMEOUT_SECONDS = 300
"""The release waits for the worker's minute job: a run takes one to two minutes."""


def test_sika_demo_releases_the_escrow_and_pays_the_talent_out(work_dir: Path) -> None:
    data_dir = work_dir / "pgdata"
    try:
        with sika_run(work_dir, data_dir) as run:
            run.wait_ready()
            env = {
                **{k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("SIKA_")},
                "SIKA_PORT": str(run.port),
                "SIKA_SANDBOX_PORT": str(run.sandbox_port),
                "SIKA_PGDATA_DIR": str(data_dir),
                "COLUMNS": "120",
            }
            demo = subprocess.run(
                [sys.executable, "-m", "sika", "demo"],
                cwd=work_dir,
                env=env,
                capture_output=True,
                text=True,
                timeout=DEMO_TIMEOUT_SECONDS,
                check=False,
            )
            assert demo.returncode == 0, demo.stdout + demo.stderr
            out = demo.stdout
            for said in ("enters the code from her phone: 123456", "collection succeeded", "escrow released"):
                assert said in out, out
            escrow_id = re.search(r"Done: escrow (esc_\w+) completed", out)
            assert escrow_id is not None, out

            admin = {"Authorization": f"Bearer {(work_dir / 'admin-key').read_text().strip()}"}
            with httpx.Client(base_url=run.url, headers=admin, timeout=30) as api:
                escrow = api.get(f"/v1/escrows/{escrow_id.group(1)}").json()
                assert (escrow["status"], escrow["released_minor"], escrow["held_minor"]) == ("completed", 150_000, 0)
                assert [(m["status"], m["fee_paid_minor"]) for m in escrow["milestones"]] == [
                    ("released", 2_000),
                    ("released", 1_000),
                ]
                for party_id in (escrow["client_party_id"], escrow["beneficiary_party_id"]):
                    (wallet,) = api.get(f"/v1/parties/{party_id}/wallets").json()["data"]
                    assert (wallet["balance_minor"], wallet["held_minor"]) == (0, 0)
                (payout,) = api.get("/v1/payouts", params={"party_id": escrow["beneficiary_party_id"]}).json()["data"]
                assert (payout["status"], payout["amount_minor"]) == ("succeeded", 147_000)
                platform_id = api.get(f"/v1/parties/{escrow['client_party_id']}").json()["platform_id"]
                fees = api.get(f"/v1/platforms/{platform_id}/fees").json()["data"]
                assert [(fee["currency"], fee["earned_minor"]) for fee in fees] == [("XOF", 3_000)]
                summary = api.get(f"/v1/parties/{escrow['beneficiary_party_id']}/summary").json()
                (xof,) = summary["currencies"]
                assert (
                    xof["released_this_month_minor"],
                    xof["paid_out_this_month_minor"],
                    xof["fees_paid_this_month_minor"],
                ) == (147_000, 147_000, 3_000)
                check = api.get("/ready").json()
                assert check["status"] == "ready"
            run.stop()
            assert "Traceback" not in run.output()
    finally:
        _kill_postgres_in(data_dir)
