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
  fraction of that cost, and the table's ``toast_tuple_target`` is half a page (4080 bytes;
  PostgreSQL's own is 2032): a row under it is stored as it is, a larger one has its facts
  compressed and kept in the row. lz4 alone packs a little less tightly (3.4 KB: 2.0 KB where
  pglz gave 1.8), which left the row just over 2 KB and sent the value out to the TOAST
  relation: a second insert and delete a write, a second read a read. (A column storage of
  ``main`` instead would have kept the facts in but sent the row's small strings out, its id
  among them.)

The type change rewrites the table once (its rows keep their documents, written back as
jsonb renders them). Rows are compressed with lz4 as they are next written.

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


def _knows_lz4() -> bool:
    return bool(op.get_bind().execute(sa.text(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
    )).scalar())


def upgrade() -> None:
    if op.get_context().dialect.name == 'postgresql':
        op.execute("ALTER TABLE monitoring_case ALTER COLUMN facts TYPE json USING facts::json")
        if _knows_lz4():
            op.execute("ALTER TABLE monitoring_case ALTER COLUMN facts SET COMPRESSION lz4")
        op.execute("ALTER TABLE monitoring_case SET (toast_tuple_target = 4080)")
    release = sa.table('schema_release', sa.column('revision', sa.String),
                       sa.column('oldest_release', sa.String))
    op.bulk_insert(release, [{'revision': '0039', 'oldest_release': '0.3.0'}])


def downgrade() -> None:
    op.execute("DELETE FROM schema_release WHERE revision = '0039'")
    if op.get_context().dialect.name == 'postgresql':
        op.execute("ALTER TABLE monitoring_case RESET (toast_tuple_target)")
        op.execute("ALTER TABLE monitoring_case ALTER COLUMN facts SET COMPRESSION default")
        op.execute("ALTER TABLE monitoring_case ALTER COLUMN facts TYPE jsonb USING facts::jsonb")
