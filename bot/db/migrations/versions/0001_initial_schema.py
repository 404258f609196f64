"""Initial schema: every table of bot/db/schema.py as of the first release.

Revision ID: 0001
Revises:
Create Date: 2026-12-04 20:34:28.358872
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out rather than imported from bot.db.types: a migration must keep meaning what it meant.
JSON_DICT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# SQLite auto-increments only a column declared INTEGER PRIMARY KEY.
AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "guild_settings",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("feature", sa.String(length=32), nullable=False),
        sa.Column("settings", JSON_DICT, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "feature", name=op.f("pk_guild_settings")),
    )
    op.create_table(
        "level_rewards",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("role_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "level", "role_id", name=op.f("pk_level_rewards")),
    )
    op.create_table(
        "llm_usage",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("requests", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("tokens", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "user_id", "day", name=op.f("pk_llm_usage")),
    )
    op.create_index("ix_llm_usage_guild_day", "llm_usage", ["guild_id", "day"], unique=False)

    op.create_table(
        "member_xp",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("xp", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("level", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("message_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_xp_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("guild_id", "user_id", name=op.f("pk_member_xp")),
    )
    op.create_index("ix_member_xp_leaderboard", "member_xp", ["guild_id", sa.literal_column("xp DESC")], unique=False)

    op.create_table(
        "message_log",
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_message_log")),
    )
    op.create_index("ix_message_log_channel_time", "message_log", ["channel_id", "created_at"], unique=False)
    op.create_index("ix_message_log_created_at", "message_log", ["created_at"], unique=False)

    op.create_table(
        "mod_actions",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("moderator_id", sa.BigInteger(), nullable=True),
        sa.Column("rule", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mod_actions")),
    )
    op.create_index("ix_mod_actions_guild_time", "mod_actions", ["guild_id", "created_at"], unique=False)
    op.create_index("ix_mod_actions_member", "mod_actions", ["guild_id", "user_id", "created_at"], unique=False)

    op.create_table(
        "safety_flags",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("categories", JSON_DICT, nullable=False),
        sa.Column("scanner", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=True),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_flags")),
    )
    op.create_index("ix_safety_flags_guild_time", "safety_flags", ["guild_id", "created_at"], unique=False)

    op.create_table(
        "spam_strikes",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pardoned", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spam_strikes")),
    )
    op.create_index("ix_spam_strikes_member", "spam_strikes", ["guild_id", "user_id", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_spam_strikes_member", table_name="spam_strikes")

    op.drop_table("spam_strikes")
    op.drop_index("ix_safety_flags_guild_time", table_name="safety_flags")

    op.drop_table("safety_flags")
    op.drop_index("ix_mod_actions_member", table_name="mod_actions")
    op.drop_index("ix_mod_actions_guild_time", table_name="mod_actions")

    op.drop_table("mod_actions")
    op.drop_index("ix_message_log_created_at", table_name="message_log")
    op.drop_index("ix_message_log_channel_time", table_name="message_log")

    op.drop_table("message_log")
    op.drop_index("ix_member_xp_leaderboard", table_name="member_xp")

    op.drop_table("member_xp")
    op.drop_index("ix_llm_usage_guild_day", table_name="llm_usage")

    op.drop_table("llm_usage")
    op.drop_table("level_rewards")
    op.drop_table("guild_settings")
