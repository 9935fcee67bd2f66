"""Secrets generated for development and tests, kept in the data folder.

Outside production, a secret the operator did not set is generated once, on
first need, and written to ``<data folder>/secrets/<name>`` (mode 0600). Every
process of one checkout (API workers, job worker, sandbox) reads the same
value and a restart keeps it, so sessions and tokens survive; no two checkouts
share one, and none is written in the code, where anyone could read it.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

SECRETS_FOLDER = "secrets"
SECRET_BYTES = 32


def load_or_create(data_dir: Path, name: str, *, prefix: str = "") -> str:
    """The secret ``name`` kept under ``data_dir``, generated (``prefix`` + 256
    random bits) if this is its first use."""
    path = data_dir / SECRETS_FOLDER / name
    if path.exists():
        return _read(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    value = prefix + secrets.token_urlsafe(SECRET_BYTES)
    # Written aside (mkstemp makes it 0600), then linked into place: the link fails if another
    # process got there first, whose value then wins, and nobody ever reads a half-written file.
    handle, aside = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(value + "\n")
        try:
            os.link(aside, path)
        except FileExistsError:
            return _read(path)
    finally:
        os.unlink(aside)
    return value


def _read(path: Path) -> str:
    value = path.read_text().strip()
    if not value:
        raise RuntimeError(f"{path} is empty: delete it and a new secret is generated")
    return value
