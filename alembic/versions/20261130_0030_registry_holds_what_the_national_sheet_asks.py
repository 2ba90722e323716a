"""The registry holds what the national sheet asks of a household and its members

Living conditions (house area, power, road, toilet, distance to the main road, land areas) on
the household; insurance and pension participation, medical assistance, work place and
channel, public welfare post and months, and the reason a child is out of compulsory school on
each member. Additive: nullable columns, none known yet.

Revision ID: 0030
Revises: 0029
Create Date: 2026-11-30 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0030'
down_revision: str | Sequence[str] | None = '0029'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HOUSEHOLD = [('house_area', sa.Numeric(10, 2)), ('has_power', sa.Boolean()),
             ('road_hardened', sa.Boolean()), ('main_road_distance', sa.Numeric(8, 2)),
             ('sanitary_toilet', sa.Boolean()), ('farmland_area', sa.Numeric(10, 2)),
             ('forest_area', sa.Numeric(10, 2)), ('returned_forest_area', sa.Numeric(10, 2)),
             ('orchard_area', sa.Numeric(10, 2)), ('pasture_area', sa.Numeric(10, 2)),
             ('water_area', sa.Numeric(10, 2))]
MEMBER = [('employee_medical_insurance', sa.Boolean()), ('critical_illness_insurance', sa.Boolean()),
          ('resident_pension', sa.Boolean()), ('employee_pension', sa.Boolean()),
          ('medical_assistance', sa.Boolean()), ('work_place', sa.String(length=100)),
          ('employment_channel', sa.String(length=50)), ('public_welfare_post', sa.String(length=100)),
          ('public_welfare_months', sa.Integer()), ('out_of_school_reason', sa.String(length=100))]


def upgrade() -> None:
    for name, kind in HOUSEHOLD:
        op.add_column('household', sa.Column(name, kind, nullable=True))
    for name, kind in MEMBER:
        op.add_column('member', sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    for name, _ in reversed(MEMBER):
        op.execute(f'ALTER TABLE member DROP COLUMN {name}')
    for name, _ in reversed(HOUSEHOLD):
        op.execute(f'ALTER TABLE household DROP COLUMN {name}')
