"""create referrals and access_log tables

Referrals are the warm handoffs of docs/design.md "Referral" (lists as JSON,
datetimes timezone-aware UTC, unique reference "WW-XXXXXX"). access_log records
every access to referral data (BRIEF 8); its referral_id is deliberately not a
foreign key so the audit trail survives deletion of the referral.

Revision ID: 1a45e4f586c4
Revises:
Create Date: 2026-11-29 09:20:19.251842+00:00
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "1a45e4f586c4"
down_revision: Union[str, None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "referrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("municipality", sa.String(length=100), nullable=True),
        sa.Column("person_type", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("language_names_nl", sa.JSON(), nullable=False),
        sa.Column("interpreter_needed", sa.Boolean(), nullable=True),
        sa.Column("children_count", sa.Integer(), nullable=True),
        sa.Column("children_ages", sa.JSON(), nullable=False),
        sa.Column("pregnant", sa.Boolean(), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("topics_nl", sa.JSON(), nullable=False),
        sa.Column("concern_text", sa.JSON(), nullable=False),
        sa.Column("urgency", sa.String(length=10), nullable=False),
        sa.Column("urgency_reason", sa.Text(), nullable=True),
        sa.Column("contact_channel", sa.String(length=20), nullable=True),
        sa.Column("contact_times", sa.Text(), nullable=True),
        sa.Column("contact_gender", sa.String(length=10), nullable=True),
        sa.Column("contact_setting", sa.String(length=20), nullable=True),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
        sa.UniqueConstraint("reference", name=op.f("uq_referrals_reference")),
    )
    op.create_index(op.f("ix_referrals_conversation_id"), "referrals", ["conversation_id"])
    op.create_index(op.f("ix_referrals_created_at"), "referrals", ["created_at"])
    op.create_index(op.f("ix_referrals_municipality"), "referrals", ["municipality"])

    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log")),
    )
    op.create_index(op.f("ix_access_log_at"), "access_log", ["at"])
    op.create_index(op.f("ix_access_log_referral_id"), "access_log", ["referral_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_access_log_referral_id"), table_name="access_log")
    op.drop_index(op.f("ix_access_log_at"), table_name="access_log")
    op.drop_table("access_log")
    op.drop_index(op.f("ix_referrals_municipality"), table_name="referrals")
    op.drop_index(op.f("ix_referrals_created_at"), table_name="referrals")
    op.drop_index(op.f("ix_referrals_conversation_id"), table_name="referrals")
    op.drop_table("referrals")
