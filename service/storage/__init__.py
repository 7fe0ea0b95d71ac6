"""Where the service keeps readers' votes and (when enabled) the query log.

By default a SQLite file in the data folder (one process, nothing to install); with
``SOURCIER_DATABASE_URL=postgresql://…`` a PostgreSQL server that several replicas share. Both stores
take the same records, apply the same versioned schema at start (``migrations``) and raise
``StoreUnavailable`` when a write cannot be made now, which the web layer answers with a 503.
No IP address, cookie or user id is ever stored.
"""

from __future__ import annotations

from service.settings import Settings
from service.storage.records import Feedback, LoggedQuery, Store, StoreUnavailable

__all__ = ["Feedback", "LoggedQuery", "Store", "StoreUnavailable", "open_store", "store_exists"]

SQLITE_FILE = "sourcier.db"


def open_store(settings: Settings) -> Store:
    """The configured store, its schema brought up to date (safe when several replicas start at once)."""
    url = _database_url(settings)
    if url:
        from service.storage.postgres import PostgresStore

        return PostgresStore(url, pool_size=settings.database_pool, timeout=settings.database_timeout)
    from service.storage.sqlite import SQLiteStore

    return SQLiteStore(settings.data_dir / SQLITE_FILE)


def store_exists(settings: Settings) -> bool:
    """Whether there is anything to read: a configured server, or the SQLite file already written."""
    return bool(_database_url(settings)) or (settings.data_dir / SQLITE_FILE).is_file()


def _database_url(settings: Settings) -> str:
    """The PostgreSQL URL, or "" for the SQLite file (unset and empty mean the same)."""
    return settings.database_url.get_secret_value() if settings.database_url else ""
