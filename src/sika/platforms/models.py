"""Platforms: the tenants of a Sika installation (a marketplace, a remittance
app), each owning its parties and everything under them (``sika.core.tenancy``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sika.core import tenancy
from sika.core.db import Base


class Platform(Base):
    __tablename__ = "platforms"
    __table_args__ = (
        sa.CheckConstraint("char_length(name) BETWEEN 1 AND 200", name="name_length"),
        sa.CheckConstraint("default_currency ~ '^[A-Z]{3}$'", name="default_currency_format"),
        sa.CheckConstraint("jsonb_typeof(fee_policy) = 'object'", name="fee_policy_object"),
        sa.CheckConstraint("jsonb_typeof(settings) = 'object'", name="settings_object"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    """Creation order; the cursor for pagination."""
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """``plt_…``; ``plt_default`` for the platform an upgraded installation's rows were put under."""
    name: Mapped[str] = mapped_column(sa.Text)
    default_currency: Mapped[str] = mapped_column(sa.String(3))
    """ISO 4217: the currency a party of the platform is assumed to use."""
    fee_policy: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sa.text("'{}'::jsonb"))
    """Per currency, ``{"percent_bps": …, "fixed_minor": …}``: the fee taken wherever a domain
    takes a platform fee and the caller did not set one (``sika.platforms.service.fee_for``)."""
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sa.text("'{}'::jsonb"))
    """What later domains read (``schemas.PlatformSettings``), stored as given; defaults fill the rest."""
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())


def _platform_itself(platform_id: str) -> Callable[[type[Platform]], sa.ColumnElement[bool]]:
    return lambda cls: cls.id == platform_id


tenancy.visible_when(Platform, _platform_itself)
