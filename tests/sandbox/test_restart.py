"""A sandbox started again over the same database keeps issuing new ids, as the
real providers do: ids that repeat would make Sika drop the new sandbox's
webhooks as duplicates of the old one's."""

from __future__ import annotations

from sika.core.config import Settings
from sika.sandbox.state import Sandbox, SandboxConfig


def _started(settings: Settings) -> Sandbox:
    return Sandbox(settings, SandboxConfig.from_settings(settings, webhook_target="http://127.0.0.1:9"))


def test_a_restarted_sandbox_issues_ids_above_the_previous_ones(settings: Settings) -> None:
    first = _started(settings)
    issued = [first.next_number() for _ in range(5)]
    again = _started(settings)
    assert again.next_number() > max(issued)
    assert len(set(issued)) == len(issued)
