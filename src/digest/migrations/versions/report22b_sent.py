"""the report's sent figure kept in edition_counters, filled from the ledger once

Revision ID: report22b_sent
Revises: signup20_forgotten
Create Date: 2026-12-06 06:00:00

No table changes. From now on each settled batch adds its sent readers to the edition's
``sent`` counter; this copies the readers already sent (one row per edition, on the
edition's date) so reports of earlier editions keep their figure. Downgrade removes
those counters: the figure was then counted from the deliveries again.
"""

from alembic import op

revision = 'report22b_sent'
down_revision = 'signup20_forgotten'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "INSERT INTO edition_counters (edition_id, day, figure, item, url, count) "
        "SELECT d.edition_id, e.date, 'sent', '', NULL, count(*) FROM deliveries d "
        "JOIN editions e ON e.id = d.edition_id WHERE d.status = 'sent' GROUP BY d.edition_id, e.date"
    )


def downgrade() -> None:
    op.execute("DELETE FROM edition_counters WHERE figure = 'sent' AND item = ''")
