"""The session filter itself: a session bound to a platform sees that platform's rows
only, whatever other platforms' sessions ran before it in the same process (the
filter's options are made once per platform and reused), and writes none of another's."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import db, tenancy
from sika.parties.models import Party
from sika.platforms.models import Platform

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def two_platforms(sessions: Sessions) -> list[str]:
    async with db.transaction(sessions) as session:
        for name in ("a", "b"):
            session.add(Platform(id=f"plt_{name}", name=name.upper(), default_currency="XOF"))
            await session.flush()
            session.add(
                Party(id=f"pty_{name}", platform_id=f"plt_{name}", display_name=name, type="individual", country="SN")
            )
    return ["plt_a", "plt_b"]


async def test_each_bound_session_sees_its_own_platform_in_turn(sessions: Sessions, two_platforms: list[str]) -> None:
    for _ in range(3):
        for platform_id in (*two_platforms, None):
            async with db.transaction(sessions) as session:
                tenancy.bind(session, platform_id)
                parties = set(await session.scalars(sa.select(Party.id)))
                platforms = set(await session.scalars(sa.select(Platform.id)))
                counted = await session.scalar(sa.select(sa.func.count()).select_from(Party))
                fetched = await session.get(Party, "pty_b")
            if platform_id is None:
                assert parties == {"pty_a", "pty_b"}
                assert {"plt_a", "plt_b"} <= platforms
                assert counted == 2
            else:
                assert parties == {platform_id.replace("plt_", "pty_")}
                assert platforms == {platform_id}
                assert counted == 1
                assert (fetched is not None) == (platform_id == "plt_b")


async def test_one_statement_built_once_is_filtered_for_each_session_in_turn(
    sessions: Sessions, two_platforms: list[str]
) -> None:
    """The hot paths build their statements once; each platform's filtered copy is made once
    too, and a session never gets the copy of another platform."""
    parties = sa.select(Party.id).where(Party.id.in_(sa.bindparam("ids", expanding=True)))
    for _ in range(3):
        for platform_id in (*two_platforms, None):
            async with db.transaction(sessions) as session:
                tenancy.bind(session, platform_id)
                seen = set(await session.scalars(parties, {"ids": ["pty_a", "pty_b"]}))
            assert seen == ({"pty_a", "pty_b"} if platform_id is None else {platform_id.replace("plt_", "pty_")})
    assert tenancy._filtered(parties, "plt_a") is tenancy._filtered(parties, "plt_a")
    assert tenancy._filtered(parties, "plt_a") is not tenancy._filtered(parties, "plt_b")


async def test_an_update_reaches_only_the_bound_platforms_rows(sessions: Sessions, two_platforms: list[str]) -> None:
    async with db.transaction(sessions) as session:
        tenancy.bind(session, "plt_a")
        await session.execute(sa.update(Party).values(display_name="renamed"))
    async with db.transaction(sessions) as session:
        names = {row.id: row.display_name for row in await session.execute(sa.select(Party.id, Party.display_name))}
    assert names == {"pty_a": "renamed", "pty_b": "b"}


async def test_a_bound_session_refuses_to_write_another_platforms_row(
    sessions: Sessions, two_platforms: list[str]
) -> None:
    async with sessions() as session, session.begin():
        tenancy.bind(session, "plt_a")
        session.add(Party(id="pty_c", platform_id="plt_b", display_name="c", type="individual", country="SN"))
        with pytest.raises(tenancy.CrossPlatformWrite):
            await session.flush()
        await session.rollback()
    async with db.transaction(sessions) as session:
        assert await session.get(Party, "pty_c") is None
