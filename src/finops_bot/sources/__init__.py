"""Billing sources: one module per cloud API behind one small interface, and a registry.

A source turns a day window into Arrow batches with FOCUS column names; sync.py loads each
window atomically, replacing what that source brought for those days.
"""

from finops_bot.sources.base import BillingSource, SourceConfig, SourceError, SyncWindow
from finops_bot.sources.registry import SOURCE_TYPES, build_source

__all__ = [
    "SOURCE_TYPES",
    "BillingSource",
    "SourceConfig",
    "SourceError",
    "SyncWindow",
    "build_source",
]
