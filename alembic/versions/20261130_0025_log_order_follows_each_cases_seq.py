"""The global log keeps every case's events in their seq order

``case_event.txid`` ordered the log: the writing transaction's id, taken when it first
writes. A transaction that took its id early (locking a disbursement, say) and then waited
for a case held by a younger one appended the case's next event with the smaller id, so the
log listed seq 20 before seq 19 and the offline verifier raised a tamper alarm on an untouched
database. Now an event's order key is the larger of its transaction's id and its
predecessor's key in the case: monotonic in seq within every case. The sequencer's rule is
unchanged (keys below the oldest running transaction, in key order), and stays safe: a key
never falls below the writing transaction's own id. PostgreSQL only; SQLite orders by id.

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-30 12:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0025'
down_revision: str | Sequence[str] | None = '0024'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_context().dialect.name != 'postgresql':
        return
    op.execute("""CREATE FUNCTION case_event_log_order() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.txid := GREATEST(
                (pg_current_xact_id()::text)::bigint,
                COALESCE((SELECT txid FROM case_event
                           WHERE case_id = NEW.case_id AND seq = NEW.seq - 1), 0));
            RETURN NEW;
        END $$""")
    op.execute("""CREATE TRIGGER case_event_log_order BEFORE INSERT ON case_event
                  FOR EACH ROW EXECUTE FUNCTION case_event_log_order()""")


def downgrade() -> None:
    if op.get_context().dialect.name != 'postgresql':
        return
    op.execute("DROP TRIGGER case_event_log_order ON case_event")
    op.execute("DROP FUNCTION case_event_log_order()")
