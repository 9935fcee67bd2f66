"""Where proof files live: content-addressed by their sha256, written before the
proof's row commits and never overwritten.

``ProofStore`` is the whole interface the domain uses (``put`` and ``read``), small
enough that an object store (S3 and the like, keyed by the same sha256) could stand
in for the folder; only ``FolderStore`` exists today. A file whose row never
committed (the request failed after writing it) stays behind, harmless: the next
proof with the same bytes finds it there, identical by construction."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
from pathlib import Path
from typing import Protocol

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ProofStore(Protocol):
    async def put(self, sha256: str, data: bytes) -> None:
        """Keep ``data`` under ``sha256`` (its digest), unless it is already kept."""

    async def read(self, sha256: str) -> bytes:
        """The bytes kept under ``sha256``; FileNotFoundError if none are."""


class FolderStore:
    """Files in a folder, one per sha256, under ``<ab>/<sha256>`` (the first two hex
    digits spread them over 256 sub-folders)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise ValueError("not a sha256 in hex")
        return self.root / sha256[:2] / sha256

    async def put(self, sha256: str, data: bytes) -> None:
        await asyncio.to_thread(self._put, self.path(sha256), data)

    async def read(self, sha256: str) -> bytes:
        return await asyncio.to_thread(self.path(sha256).read_bytes)

    @staticmethod
    def _put(final: Path, data: bytes) -> None:
        if final.exists():
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        partial = final.with_name(f".{final.name}.{secrets.token_hex(8)}")
        try:
            with partial.open("xb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            # A hard link never replaces an existing name: of two writers of the same
            # bytes, the second finds the first's file and keeps it.
            with contextlib.suppress(FileExistsError):
                os.link(partial, final)
        finally:
            partial.unlink(missing_ok=True)
