"""The SQL engine of the record store and the dedup ledger: PostgreSQL as SQLAlchemy makes it, SQLite
with the settings an embedded store written by a worker and read by the API at the same time needs.

SQLite's default rollback journal makes a reader block the writer and the writer every reader. Here:

- ``journal_mode=WAL``: readers (the API, ``supplynet records``) and the one writer (a worker's batch)
  no longer wait for each other.
- ``synchronous=FULL`` is kept (WAL's usual ``NORMAL`` may lose the last commits on a power cut): a
  batch's offsets are committed in Neo4j after its records, so a record the store acknowledged must
  survive, or the replay that would restore it never comes.
- ``busy_timeout`` 30 s: a writer waits out another's transaction (two workers on one file, a retention
  run) instead of failing with "database is locked".

The page cache stays SQLite's 2 MiB: each of a worker's pooled connections holds its own (a long run
with 64 MiB had its worker 40-140 MiB above the run before, whose mix differed a little), and
``bench.records`` wrote no faster with 16 or 64 MiB than with 2 beyond the machine's noise (0.96-1.24x
over four runs of 300,000 events).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=30000",
)


def sql_engine(url: str, *, tuned: bool = True, **kwargs: Any) -> Engine:
    """An engine on ``url``; a SQLite one runs ``SQLITE_PRAGMAS`` on every new connection unless
    ``tuned`` is False (SQLite's own defaults: what the record store benchmark compares against)."""
    engine = create_engine(url, **kwargs)
    if tuned and engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _pragmas)
    return engine


def _pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()
