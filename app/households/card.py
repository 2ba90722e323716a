"""A household as a case's steps and answers read it: the protocol an ORM ``Household``
satisfies, and the card the write path reads in the same row as the case (or the registry
writes), with no ORM object behind it."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Protocol

__all__ = ["CARD_FIELDS", "HouseholdCard", "HouseholdFacts"]


class HouseholdFacts(Protocol):
    """What a case's steps and answers read of its household: an ORM ``Household`` is one,
    and so is the :class:`HouseholdCard` the write path's lock reads and an opening registers."""

    @property
    def id(self) -> str: ...
    @property
    def village_code(self) -> str: ...
    @property
    def head_name(self) -> str: ...
    @property
    def head_id_number_masked(self) -> str: ...
    @property
    def head_id_digest(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def village_group(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class HouseholdCard:
    """The household as a write reads it with its case, in the same row: only what the
    steps and the answer use (:class:`HouseholdFacts`), no ORM object."""

    id: str
    village_code: str
    head_name: str
    head_id_number_masked: str
    head_id_digest: str
    size: int
    village_group: str | None


CARD_FIELDS = tuple(f.name for f in fields(HouseholdCard))
