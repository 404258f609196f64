"""Copy every table from one database to another (e.g. a user's SQLite file into a fresh PostgreSQL).

Batched, resumable (rows whose primary key already exists in the target are skipped, each batch commits on its own),
verified by row counts at the end. The target is migrated to head first; the source must already be at head so
that both sides have the same columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.engine import DatabaseConfigError, check_connection, make_engine, mask_url, parse_url, sqlite_path
from bot.db.migrate import current, head_revision, upgrade
from bot.db.schema import metadata
from bot.db.upsert import insert_for

DEFAULT_BATCH_SIZE = 5000


class CopyRefused(Exception):
    """The copy would be unsafe (non-empty target without --force, source not migrated, same database)."""


class ProgressSink(Protocol):
    def start_table(self, table: str, total: int) -> None: ...
    def advance(self, table: str, rows: int) -> None: ...


@dataclass(frozen=True, slots=True)
class TableCount:
    table: str
    source_rows: int
    target_rows: int

    @property
    def ok(self) -> bool:
        return self.source_rows == self.target_rows


async def count_rows(engine: AsyncEngine, table: Table) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def is_empty(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if (await conn.execute(select(text("1")).select_from(table).limit(1))).first() is not None:
                return False
    return True


def open_source(url: str) -> AsyncEngine:
    """The source must exist: never create an empty SQLite file where the user's data was expected."""
    path = sqlite_path(parse_url(url))
    if path is not None and not path.is_file():
        raise DatabaseConfigError(f"source database file not found: {path}")
    return make_engine(url, create_dirs=False)


async def copy_database(
    source_url: str,
    target_url: str,
    *,
    force: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressSink | None = None,
) -> list[TableCount]:
    """Copy everything; returns per-table row counts after the copy (check `.ok`)."""
    if parse_url(source_url) == parse_url(target_url):
        raise CopyRefused("source and target are the same database")
    source = open_source(source_url)
    target = make_engine(target_url)
    try:
        await check_connection(source)
        await check_connection(target)
        head = head_revision()
        source_rev = await current(source)
        if source_rev != head:
            raise CopyRefused(
                f"source {mask_url(source.url)} is at revision {source_rev or 'none'}, not {head}; "
                "run `bot db upgrade --url SOURCE` first"
            )
        await upgrade(target)
        if not force and not await is_empty(target):
            raise CopyRefused(
                f"target {mask_url(target.url)} already has data; pass --force to copy into it anyway "
                "(rows whose key already exists are kept as they are, so re-running an interrupted copy is safe)"
            )
        for table in metadata.sorted_tables:  # parents before children, should foreign keys ever appear
            await copy_table(source, target, table, batch_size=batch_size, progress=progress)
        if target.dialect.name == "postgresql":
            await _reset_sequences(target)
        return [
            TableCount(t.name, await count_rows(source, t), await count_rows(target, t)) for t in metadata.sorted_tables
        ]
    finally:
        await source.dispose()
        await target.dispose()


async def copy_table(
    source: AsyncEngine, target: AsyncEngine, table: Table, *, batch_size: int, progress: ProgressSink | None
) -> None:
    pk = list(table.primary_key.columns)
    insert = insert_for(target.dialect, table).on_conflict_do_nothing(index_elements=pk)
    if progress is not None:
        progress.start_table(table.name, await count_rows(source, table))
    async with source.connect() as src:
        result = await src.stream(select(table).order_by(*pk).execution_options(yield_per=batch_size))
        async for batch in result.mappings().partitions(batch_size):
            async with target.begin() as dst:  # one commit per batch: an interruption keeps finished batches
                await dst.execute(insert, [dict(row) for row in batch])
            if progress is not None:
                progress.advance(table.name, len(batch))


async def _reset_sequences(engine: AsyncEngine) -> None:
    """Copied rows carry their ids; move each id sequence past them so new rows don't collide."""
    async with engine.begin() as conn:
        for table in metadata.sorted_tables:
            auto = table.autoincrement_column
            if auto is None:
                continue
            await conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{auto.name}'), "
                    f"COALESCE((SELECT MAX({auto.name}) FROM {table.name}), 0) + 1, false)"
                )
            )
