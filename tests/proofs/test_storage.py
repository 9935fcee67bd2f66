"""The proof store keeps each file under its sha256 and never writes a name twice."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from sika.proofs.service.storage import FolderStore


async def test_a_file_is_kept_by_its_sha256_and_never_overwritten(tmp_path: Path) -> None:
    store = FolderStore(tmp_path)
    data = b"\xff\xd8 a photo"
    sha = hashlib.sha256(data).hexdigest()
    await store.put(sha, data)
    path = tmp_path / sha[:2] / sha
    assert await store.read(sha) == data
    # Whatever a second writer holds under the same name, the first file stays as it was.
    await store.put(sha, b"other bytes")
    await asyncio.gather(*(store.put(sha, data) for _ in range(8)))
    assert await asyncio.to_thread(path.read_bytes) == data
    leftovers = await asyncio.to_thread(lambda: sorted(p.name for p in path.parent.iterdir()))
    assert leftovers == [sha]


async def test_a_name_that_is_not_a_sha256_is_refused(tmp_path: Path) -> None:
    store = FolderStore(tmp_path)
    with pytest.raises(ValueError, match="sha256"):
        await store.put("../../etc/passwd", b"x")
    with pytest.raises(FileNotFoundError):
        await store.read("0" * 64)
