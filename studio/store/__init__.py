"""The store: sessions and steps in SQL (SQLAlchemy 2), images as content-addressed PNG files.

`Store` is the one face the rest of the studio uses. Inside: `tables` (the schema), `steps` (one
session's tree), `queries` (sessions as a whole, people, batches), `opening` (deciding whether a
database may be opened) and `migrations/` (Alembic).
"""

from .store import DATA_ENV, DB_ENV, DEFAULT_DATA_DIR, Store

__all__ = ["DATA_ENV", "DB_ENV", "DEFAULT_DATA_DIR", "Store"]
