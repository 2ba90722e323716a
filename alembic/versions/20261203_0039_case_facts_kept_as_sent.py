"""A case's facts kept as sent: json text, compressed with lz4, in the case's row

Every step reads the case and rewrites its row, and with it its facts: the fold of its
events, 3-5 KB of JSON once the identification's procedures are recorded, which the service
only ever writes and reads whole (no statement looks into them). On PostgreSQL, per write:

- ``jsonb`` parsed every document sent into its tree and rendered it back to text for every
  read: 31 us and 18 us for 3.4 KB of facts on a host of this project's benchmarks, where
  ``json`` checks the text (9 us) and sends it back as it is. The column is now ``json``.
- Past about 2 KB a row, PostgreSQL compresses its large values, by default with its own
  pglz: 8% of PostgreSQL's CPU for a write at 8 clients (``perf`` during
  ``bench.transitions``, 2026-12-03), about 50 us, where pgbench's ceiling, whose facts are
  under 2 KB, spent none. The column is compressed with lz4, which does the same at a
  fraction of that cost, a little less tightly (3.4 KB: 2.0 KB where pglz gave 1.8). That
  alone left the row just over 2 KB, so PostgreSQL sent the value out to the TOAST relation:
  a second insert and delete a write, a second read a read. The facts' storage is therefore
  ``main`` (compressed, kept in the row unless it cannot fit in a page at all) and the row's
  small strings' ``plain``: with ``main`` alone PostgreSQL sent those out first, the id among
  them. Storing the facts uncompressed in rows of up to half a page (``toast_tuple_target``
  4080) was tried too: 5% fewer writes a second than this in pgbench with the service's
  statements and a case's facts, and a table four times the size after 150,000 writes.
The type change rewrites the table once (its rows keep their documents, written back as
jsonb renders them). Rows are compressed with lz4 as they are next written. A column added
to the table later should be given ``plain`` storage too (a test checks that a step sends
nothing to the TOAST relation).

PostgreSQL built without lz4 (``--with-lz4``; Debian's and the official images have it) keeps
pglz: the migration asks the server which methods it knows. SQLite stores the text as it is.

Release 0.3.0 runs against it: it writes its facts as jsonb, which PostgreSQL casts to json
on assignment, and reads json as it reads jsonb.

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-03 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0039'
down_revision: str | Sequence[str] | None = '0038'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SMALL = ('id', 'household_id', 'area_code', 'channel', 'state', 'workflow_version',
         'policy_version', 'monitoring_type', 'last_hash', 'risk_types', 'due_kind')
"""The case's strings, each at most 200 characters."""


def _stored(columns: Sequence[str], storage: str) -> str:
    return ', '.join(f'ALTER COLUMN {column} SET STORAGE {storage}' for column in columns)


def _knows_lz4() -> bool:
    return bool(op.get_bind().execute(sa.text(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
    )).scalar())


def upgrade() -> None:
    if op.get_context().dialect.name == 'postgresql':
        op.execute("ALTER TABLE monitoring_case ALTER COLUMN facts TYPE json USING facts::json")
        if _knows_lz4():
            op.execute("ALTER TABLE monitoring_case ALTER COLUMN facts SET COMPRESSION lz4")
        op.execute("ALTER TABLE monitoring_case ALTER COLUMN facts SET STORAGE MAIN, "
                   + _stored(SMALL, 'PLAIN'))
    release = sa.table('schema_release', sa.column('revision', sa.String),
                       sa.column('oldest_release', sa.String))
    op.bulk_insert(release, [{'revision': '0039', 'oldest_release': '0.3.0'}])


def downgrade() -> None:
    op.execute("DELETE FROM schema_release WHERE revision = '0039'")
    if op.get_context().dialect.name == 'postgresql':
        op.execute("ALTER TABLE monitoring_case ALTER COLUMN facts SET STORAGE EXTENDED, "
                   + _stored(SMALL, 'EXTENDED'))
        op.execute("ALTER TABLE monitoring_case ALTER COLUMN facts SET COMPRESSION default")
        op.execute("ALTER TABLE monitoring_case ALTER COLUMN facts TYPE jsonb USING facts::jsonb")
