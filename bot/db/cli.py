"""`bot db ...`: migrations and copying data between databases. Registered by the top-level cli.py."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

import anyio
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.copy import DEFAULT_BATCH_SIZE, CopyRefused, TableCount, copy_database
from bot.db.engine import DatabaseConfigError, check_connection, make_engine, scrub
from bot.db.migrate import current, downgrade, head_revision, upgrade

log = logging.getLogger(__name__)

DEFAULT_URL = "sqlite+aiosqlite:///data/steward.db"

db_app = typer.Typer(help="Database: migrations, and copying data between SQLite and PostgreSQL.", no_args_is_help=True)
err = Console(stderr=True)

Url = Annotated[
    str,
    typer.Option("--url", envvar="DATABASE_URL", help="Database URL (default: $DATABASE_URL or the SQLite file)."),
]


def _run[T](main: Callable[[], Awaitable[T]], *urls: str) -> T:
    """Run `main`; turn expected failures into one line on stderr (password masked) and an exit code."""
    try:
        return anyio.run(main)
    except DatabaseConfigError as exc:  # bad URL / unreachable server: a configuration problem
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except CopyRefused as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except SQLAlchemyError as exc:
        log.debug("database command failed", exc_info=True)
        message = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        line = f"{type(exc).__name__}: {message}"
        for url in urls:
            line = scrub(line, url)
        typer.echo(f"error: {line}", err=True)
        raise typer.Exit(1) from None


@contextlib.asynccontextmanager
async def _connected(url: str) -> AsyncIterator[AsyncEngine]:
    """A one-connection engine, checked (a clear error if unreachable), disposed on exit."""
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        await check_connection(engine)
        yield engine
    finally:
        await engine.dispose()


@db_app.command("upgrade")
def upgrade_cmd(url: Url = DEFAULT_URL, rev: Annotated[str, typer.Option("--rev")] = "head") -> None:
    """Apply pending migrations (safe to run from several processes at once)."""

    async def main() -> str | None:
        async with _connected(url) as engine:
            await upgrade(engine, rev)
            return await current(engine)

    typer.echo(f"database at revision {_run(main, url) or 'none'}")


@db_app.command("current")
def current_cmd(url: Url = DEFAULT_URL) -> None:
    """Print the database's migration revision ('none' if never migrated)."""

    async def main() -> str | None:
        async with _connected(url) as engine:
            return await current(engine)

    rev = _run(main, url)
    head = head_revision()
    typer.echo(f"{rev or 'none'}" + (" (head)" if rev == head else f" (head is {head})"))


@db_app.command("downgrade")
def downgrade_cmd(
    rev: Annotated[str, typer.Argument(help="Target revision, e.g. 'base' or '-1'.")], url: Url = DEFAULT_URL
) -> None:
    """Revert migrations down to REV ('base' drops every table)."""

    async def main() -> str | None:
        async with _connected(url) as engine:
            await downgrade(engine, rev)
            return await current(engine)

    typer.echo(f"database at revision {_run(main, url) or 'none'}")


class _RichProgress:
    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    def start_table(self, table: str, total: int) -> None:
        self._tasks[table] = self._progress.add_task(table, total=total)

    def advance(self, table: str, rows: int) -> None:
        self._progress.advance(self._tasks[table], rows)


@db_app.command("copy")
def copy_cmd(
    source: Annotated[str, typer.Option("--from", help="Source database URL.")],
    target: Annotated[str, typer.Option("--to", help="Target database URL (migrated to head first).")],
    force: Annotated[bool, typer.Option("--force", help="Copy into a non-empty target (existing keys kept).")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = DEFAULT_BATCH_SIZE,
) -> None:
    """Copy every table from --from to --to, batched; verifies row counts. Safe to re-run with --force."""
    progress = Progress(
        TextColumn("{task.description:<16}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err
    )

    async def main() -> list[TableCount]:
        with progress:
            return await copy_database(
                source, target, force=force, batch_size=batch_size, progress=_RichProgress(progress)
            )

    counts = _run(main, source, target)
    table = Table("table", "source rows", "target rows", "")
    for c in counts:
        table.add_row(c.table, str(c.source_rows), str(c.target_rows), "ok" if c.ok else "MISMATCH")
    Console().print(table)
    if not all(c.ok for c in counts):
        typer.echo(
            "error: row counts differ (the target had other rows, or the source changed during the copy)", err=True
        )
        raise typer.Exit(1)
