"""Administrative areas (行政区划) by the statistics bureau's 12-digit codes."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class Area(Base):
    """A province, city, county, township or village; ``code`` is the code prefix it covers."""

    __tablename__ = "area"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    """Significant digits only: 220281 (county), 220281102 (township), 220281102200 (village)."""
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(String(12), index=True)
    illustrative: Mapped[bool] = mapped_column(default=False)
    """True for demo codes that could not be verified against the statistics bureau's list."""
