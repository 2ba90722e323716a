"""A case's facts compressed with lz4 and kept in the case's row

Every step rewrites the case's row, and with it its facts: the fold of its events, 2-5 KB of
JSON once the identification's procedures are recorded. Past about 2 KB PostgreSQL compresses
a row's large values before it stores them, by default with its own pglz: on a rule-checked
write at 8 clients, pglz was 8% of PostgreSQL's CPU for the write (``perf`` on the server
during ``bench.transitions``, 2026-12-03), about 50 us a write, and reading the case back
decompressed it. lz4 does the same at a fraction of that cost, a little less tightly (3.4 KB
of facts: 2.0 KB, where pglz gave 1.8), which alone leaves the row just over the size past
which PostgreSQL moves the value out into the table's TOAST relation: a second insert and
delete a write, a second read a read (seen: toast_save_datum, heap_fetch_toast_slice). The
table's ``toast_tuple_target`` is therefore 4080 bytes, half a page, where PostgreSQL's own is
2032: a row under it is stored as it is, a larger one has its facts compressed and kept in the
row; only a row still over half a page after that sends its largest value out. (A column
storage of ``main`` instead would have kept the facts in but sent the row's small strings
out, its id among them.) Rows already stored keep their pglz and their place until their row
is next written; all are read alike.

PostgreSQL built without lz4 (``--with-lz4``; Debian's and the official images have it) keeps
pglz: the migration asks the server which methods it knows. SQLite stores the text as it is.

Release 0.3.0 runs against it: how a value is compressed changes nothing it reads or writes.

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
