"""The one schema for every feature, as SQLAlchemy Core tables (migrations: bot/db/migrations/versions)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
    text,
)

from bot.db.types import AutoId, JSONDict, Snowflake, UTCDateTime

# Named constraints make future migrations (and SQLite batch mode) deterministic.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

FEATURES = ("antispam", "leveling", "llm", "safety", "events")

guild_settings = Table(
    "guild_settings",
    metadata,
    Column("guild_id", Snowflake, primary_key=True, autoincrement=False),
    Column("feature", String(32), primary_key=True),
    Column("settings", JSONDict, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

member_xp = Table(
    "member_xp",
    metadata,
    Column("guild_id", Snowflake, primary_key=True, autoincrement=False),
    Column("user_id", Snowflake, primary_key=True, autoincrement=False),
    Column("xp", Snowflake, nullable=False, server_default=text("0")),
    Column("level", Integer, nullable=False, server_default=text("0")),
    Column("message_count", Snowflake, nullable=False, server_default=text("0")),
    Column("last_xp_at", UTCDateTime, nullable=True),
)
# Leaderboard pages and rank queries: WHERE guild_id = ? ORDER BY xp DESC.
Index("ix_member_xp_leaderboard", member_xp.c.guild_id, member_xp.c.xp.desc())

level_rewards = Table(
    "level_rewards",
    metadata,
    Column("guild_id", Snowflake, primary_key=True, autoincrement=False),
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("role_id", Snowflake, primary_key=True, autoincrement=False),
)

spam_strikes = Table(
    "spam_strikes",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("guild_id", Snowflake, nullable=False),
    Column("user_id", Snowflake, nullable=False),
    Column("rule", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),  # NULL = never expires
    Column("pardoned", Boolean, nullable=False, server_default=false()),
)
Index("ix_spam_strikes_member", spam_strikes.c.guild_id, spam_strikes.c.user_id, spam_strikes.c.created_at)

mod_actions = Table(
    "mod_actions",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("guild_id", Snowflake, nullable=False),
    Column("user_id", Snowflake, nullable=False),
    Column("moderator_id", Snowflake, nullable=True),  # NULL = the bot acted on its own
    Column("rule", String(64), nullable=True),
    Column("action", String(32), nullable=False),
    Column("reason", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_mod_actions_member", mod_actions.c.guild_id, mod_actions.c.user_id, mod_actions.c.created_at)
Index("ix_mod_actions_guild_time", mod_actions.c.guild_id, mod_actions.c.created_at)

llm_usage = Table(
    "llm_usage",
    metadata,
    Column("guild_id", Snowflake, primary_key=True, autoincrement=False),
    Column("user_id", Snowflake, primary_key=True, autoincrement=False),
    Column("day", Date, primary_key=True),
    Column("requests", Integer, nullable=False, server_default=text("0")),
    Column("tokens", Snowflake, nullable=False, server_default=text("0")),
)
# Guild-wide daily quota: SUM(...) WHERE guild_id = ? AND day = ?
Index("ix_llm_usage_guild_day", llm_usage.c.guild_id, llm_usage.c.day)

safety_flags = Table(
    "safety_flags",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("guild_id", Snowflake, nullable=False),
    Column("channel_id", Snowflake, nullable=False),
    Column("message_id", Snowflake, nullable=False),
    Column("user_id", Snowflake, nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("categories", JSONDict, nullable=False),
    Column("scanner", String(32), nullable=False),
    Column("action", String(32), nullable=True),
    Column("content", Text, nullable=True),  # kept only when the guild opted in; purged with message_log
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_safety_flags_guild_time", safety_flags.c.guild_id, safety_flags.c.created_at)

message_log = Table(
    "message_log",
    metadata,
    Column("message_id", Snowflake, primary_key=True, autoincrement=False),  # snowflakes are globally unique
    Column("guild_id", Snowflake, nullable=True),  # NULL for DMs
    Column("channel_id", Snowflake, nullable=False),
    Column("author_id", Snowflake, nullable=False),
    Column("content", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_message_log_channel_time", message_log.c.channel_id, message_log.c.created_at)
Index("ix_message_log_created_at", message_log.c.created_at)  # retention purge
