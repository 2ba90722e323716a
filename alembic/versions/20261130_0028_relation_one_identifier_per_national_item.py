"""与户主关系: one identifier per national item, the combined ones split

`parent`, `parent_in_law` and `grandparent` each named two items of the national list (之父母
is 之父 and 之母). Stored members are split by their own sex, and an in-law keeps one
identifier for both of the head's sexes (the code list names it 之岳父 or 之公公 by the head's
sex). Frozen SQL; the downgrade merges them back. Every national document is marked stale,
so `fangfanpin migrate` rewrites it with the items.

Revision ID: 0028
Revises: 0027
Create Date: 2026-11-30 14:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0028'
down_revision: str | Sequence[str] | None = '0027'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SPLIT = {'parent': ('father', 'mother'), 'parent_in_law': ('father_in_law', 'mother_in_law'),
         'grandparent': ('grandfather', 'grandmother')}


def upgrade() -> None:
    for combined, (male, female) in SPLIT.items():
        op.execute(f"UPDATE member SET relation = CASE WHEN sex = 'male' THEN '{male}' "
                   f"ELSE '{female}' END WHERE relation = '{combined}'")
    # the national documents name relations: each is rewritten from its case
    op.execute("UPDATE national_document SET sheet_version = NULL")


def downgrade() -> None:
    for combined, (male, female) in SPLIT.items():
        op.execute(f"UPDATE member SET relation = '{combined}' "
                   f"WHERE relation IN ('{male}', '{female}')")
