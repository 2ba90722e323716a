"""Blind indexes: keyed digests of ID numbers, for exact look-up without storing the number.

A digest names the key that made it. The first key (``BLIND_INDEX_KEY``, from before keys had
ids) writes bare hex, as every digest stored before rotation existed; a listed key
(``BLIND_INDEX_KEYS``, ``kid:secret`` comma-separated) writes ``kid:`` and the HMAC's hex cut
to the 64 characters the columns have always held (at least 220 bits). The last listed key
writes; every key still listed finds, so a rotation needs no downtime:

1. list a new key last and roll out: new rows are digested with it, and every look-up from a
   number tries each key;
2. run ``fangfanpin rekey-blind-index``: rows that hold the sealed number are re-digested, and
   each old digest is kept as an alias of the new one (:class:`BlindIndexAlias`);
3. once it reports nothing left under the old key, the old key may be dropped.

Digests inside chained events, and in the append-only department warnings, can never be
re-derived: they keep their key id, and stored digests are compared through the aliases
(:func:`equivalents`), which outlive the key that made them. While more than one key is
listed, every digest written from a number also records the number's other digests as aliases
(:func:`remember`), so rows written under different keys meet before the re-key has run.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, String, exists, select, union, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, aliased, mapped_column

from app.core.config import Settings
from app.core.db import Base
from app.core.direct import DirectRow

LEGACY = ""
"""The id of ``BLIND_INDEX_KEY``: its digests carry no prefix."""
KEY_ID = re.compile(r"[a-z0-9]{1,8}")
WIDTH = 64


class BlindIndex:
    """The listed keys; the last one writes."""

    def __init__(self, keys: dict[str, bytes], current: str) -> None:
        if current not in keys:
            raise ValueError(f"the current key {current!r} is not among the keys")
        self.keys, self.current = keys, current

    @property
    def rotating(self) -> bool:
        return len(self.keys) > 1

    def digest_with(self, kid: str, value: str) -> str:
        mac = hmac.new(self.keys[kid], value.encode(), hashlib.sha256).hexdigest()
        return mac if kid == LEGACY else f"{kid}:{mac[: WIDTH - len(kid) - 1]}"

    def digest(self, value: str) -> str:
        """The digest a row written now stores."""
        return self.digest_with(self.current, value)

    def candidates(self, value: str) -> list[str]:
        """Every digest a stored row of this value may hold, the current one first."""
        return [self.digest(value), *self.older(value)]

    def older(self, value: str) -> list[str]:
        return [self.digest_with(kid, value) for kid in self.keys if kid != self.current]

    def is_current(self, digest: str) -> bool:
        return key_of(digest) == self.current


def key_of(digest: str) -> str:
    kid, colon, _ = digest.partition(":")
    return kid if colon else LEGACY


def stale(index: BlindIndex, column: Any) -> Any:
    """A SQL condition: the digest in ``column`` was not made with the current key."""
    if index.current == LEGACY:
        return column.contains(":")
    return ~column.startswith(f"{index.current}:")


def parse(legacy: str, listed: str) -> BlindIndex:
    """``BLIND_INDEX_KEY`` (may be empty once retired) and ``BLIND_INDEX_KEYS``."""
    keys: dict[str, bytes] = {LEGACY: legacy.encode()} if legacy else {}
    for item in filter(None, (part.strip() for part in listed.split(","))):
        kid, colon, secret = item.partition(":")
        if not colon or not KEY_ID.fullmatch(kid):
            raise ValueError(
                f"BLIND_INDEX_KEYS entry {kid!r} is not kid:secret "
                "(a kid of 1-8 lowercase letters or digits)"
            )
        if kid in keys or not secret:
            raise ValueError(f"BLIND_INDEX_KEYS key {kid!r} is repeated or empty")
        keys[kid] = secret.encode()
    if not keys:
        raise ValueError("no blind-index key: set BLIND_INDEX_KEY or BLIND_INDEX_KEYS")
    return BlindIndex(keys, list(keys)[-1])


@lru_cache(maxsize=8)
def blind_for(legacy: str, listed: str) -> BlindIndex:
    return parse(legacy, listed)


def blind_of(settings: Settings) -> BlindIndex:
    return blind_for(settings.blind_index_key, settings.blind_index_keys)


class BlindIndexAlias(Base):
    """An older digest of a person and the digest that stands for them now."""

    __tablename__ = "blind_index_alias"

    digest: Mapped[str] = mapped_column(String(WIDTH), primary_key=True)
    current: Mapped[str] = mapped_column(String(WIDTH), index=True)


async def remember(session: AsyncSession, index: BlindIndex, values: Iterable[str]) -> None:
    """While keys rotate: each value's digests under the older keys name its current one."""
    if not index.rotating:
        return
    rows = {old: index.digest(value) for value in values for old in index.older(value)}
    if rows:
        await alias(session, rows)


async def alias(session: AsyncSession, rows: dict[str, str]) -> None:
    """Record ``old → current`` pairs."""
    dialect = (await session.connection()).dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(BlindIndexAlias)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["digest"], set_={"current": statement.excluded.current}
        ),
        [{"digest": old, "current": new} for old, new in rows.items()],
    )
    # an alias whose digest was just re-keyed points on to the new one (chains stay one deep)
    target = aliased(BlindIndexAlias)
    await session.execute(
        update(BlindIndexAlias)
        .where(BlindIndexAlias.current.in_(select(target.digest)))
        .values(
            current=select(target.current)
            .where(target.digest == BlindIndexAlias.current)
            .scalar_subquery()
        )
    )


ROTATED = exists(select(BlindIndexAlias.digest))
"""Whether a key was ever rotated."""
_ROTATED_ALONE = DirectRow(select(ROTATED))
"""The same asked by itself, compiled once."""


def others_of(asked: Callable[[Any], ColumnElement[bool]]) -> Select[tuple[str]]:
    """The digests that stand for the same people as the asked ones but are not among them:
    what :func:`equivalents` adds to them, as a subquery of one column, for a statement that
    reads by digest in the same round trip. ``asked(column)``: whether a column holds one of
    the asked digests (``= ANY`` of an array parameter, or an ``IN`` list), whose parameter
    the statement carries. The set is :func:`equivalents`'s: the asked digests' current ones
    (an asked digest with no alias is current itself), and every older digest aliased to one
    of those; the caller leaves out the asked ones themselves. With no alias (no key ever
    rotated) it is empty."""
    older, newer, aliased_to_asked, any_alias = (aliased(BlindIndexAlias) for _ in range(4))
    currents = select(older.current).where(asked(older.digest))
    # (three selects, each found by an index, where one with an OR would scan every alias)
    of_currents = select(newer.digest).where(newer.current.in_(currents))
    of_asked = select(aliased_to_asked.digest).where(
        asked(aliased_to_asked.current),
        ~exists().where(any_alias.digest == aliased_to_asked.current),
    )
    return union(currents, of_currents, of_asked)  # type: ignore[return-value]


async def equivalents(session: AsyncSession, digests: Iterable[str]) -> list[str]:
    """Every digest that stands for the same person as one of these (themselves included);
    :func:`others_of` is the same set for a statement of its own."""
    asked = set(digests)
    rotated = False
    if asked:
        [(rotated,)] = await _ROTATED_ALONE.all(session, {})  # (one row: EXISTS answers)
    if not rotated:
        return sorted(asked)  # no key was ever rotated: every digest is its own
    pairs = select(BlindIndexAlias.digest, BlindIndexAlias.current).where(
        BlindIndexAlias.digest.in_(asked)
    )
    known = dict((await session.execute(pairs)).all())
    currents = {known.get(d, d) for d in asked}
    same = select(BlindIndexAlias.digest).where(BlindIndexAlias.current.in_(currents))
    siblings = (await session.execute(same)).scalars()
    return sorted(asked | currents | set(siblings))
