"""Reference documents generated from the code must not drift from it."""

from __future__ import annotations

from pathlib import Path

from sika.core.config import reference_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_configuration_reference_is_current() -> None:
    """Regenerate with: .venv/bin/sika docs config > docs/configuration.md"""
    assert (DOCS / "configuration.md").read_text() == reference_markdown()


def test_every_setting_is_explained() -> None:
    rows = [line for line in reference_markdown().splitlines() if line.startswith("| `")]
    assert rows
    assert [row for row in rows if row.endswith("|  |")] == []
