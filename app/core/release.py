"""The release this code is, and the schema revisions it runs against (expand/contract).

A release runs against its own head revision and against newer ones that declare it
compatible: each revision from 0032 on records, in ``schema_release``, the oldest release
that still runs against the schema it leaves. An additive revision names the release before
it, so the pods of that release stay ready while the migration Job runs and the new ones roll
out; a revision that removes what an older release uses names its own release, and the older
pods leave service (``/ready`` answers 503) as soon as it is applied.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base

try:
    RELEASE = version("fangfanpin")
except PackageNotFoundError:  # run from a source tree that was never installed
    RELEASE = "0.0.0"


class SchemaRelease(Base):
    """For a revision: the oldest release that runs against the schema it leaves (written by
    the revision itself)."""

    __tablename__ = "schema_release"

    revision: Mapped[str] = mapped_column(String(32), primary_key=True)
    oldest_release: Mapped[str] = mapped_column(String(32))


def release_key(release: str) -> tuple[int, ...]:
    """``0.2.0`` as ``(0, 2, 0)``: releases compare number by number."""
    return tuple(int(part) for part in release.split(".") if part.isdigit())


def runs_on(oldest_release: str, release: str = RELEASE) -> bool:
    """Whether ``release`` is one a revision declaring ``oldest_release`` still runs with."""
    return release_key(release) >= release_key(oldest_release)
