"""SQLite cache: one connection per unit of work (a Database may not cross threads)."""

from finops_bot.store.db import connect

__all__ = ["connect"]
