"""Loading charges: one source (or one source's day window) replaced in one transaction.

Done twice, a load gives the same cache as once; interrupted or failed, the transaction rolls
back and the cache is exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType

import numpy as np
import pandas as pd
from sqlite_utils import Database

from finops_bot.ingest.normalize import EPOCH, BadRows, Chunk
from finops_bot.store.cube import cube_rows, daily_key_rows, refresh_names
from finops_bot.store.schema import KEY_COLUMNS

_INSERT_FACT = (
    "INSERT INTO charges (id, day, key_id, resource_id, sku_id, billed_cost, "
    "effective_cost, list_cost, consumed_quantity, pricing_quantity, tags_id) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?)"
)
_SUMMARY_COMPACT_ROWS = 200_000


@dataclass
class LoadResult:
    source: str
    rows_read: int = 0
    rows_stored: int = 0
    rows_replaced: int = 0
    bad: BadRows = field(default_factory=BadRows)
    unreadable_tags: int = 0
    outside_window: int = 0
    first_day: str | None = None
    last_day: str | None = None
    day_count: int = 0
    providers: list[str] = field(default_factory=list)
    totals: dict[str, dict[str, float]] = field(default_factory=dict)  # currency → measure → sum
    replaced_sources: list[str] = field(default_factory=list)


def _day(d: date | str) -> int:
    """ISO date → UTC day number (days since 1970-01-01), as stored."""
    return int((np.datetime64(str(d), "D") - EPOCH).astype(np.int64))


class ChargeLoader:
    """Context manager: ``with ChargeLoader(db, "file:x") as load: load.add(chunk)``.

    ``window`` (first, last day, inclusive) replaces only those days of the source; rows
    outside it are dropped and counted. Without it the whole source is replaced.
    ``also_replace`` names other sources to drop in the same transaction (the same file
    imported before under another path).
    """

    def __init__(
        self,
        db: Database,
        source: str,
        *,
        kind: str,
        now: datetime,
        path: str | None = None,
        fingerprint: str | None = None,
        window: tuple[date, date] | None = None,
        also_replace: list[str] | None = None,
    ):
        self.db = db
        self.conn = db.conn
        self.source = source
        self.kind = kind
        self.now = now
        self.path = path
        self.fingerprint = fingerprint
        self.window = window
        self.also_replace = [s for s in (also_replace or []) if s != source]
        self.result = LoadResult(source=source)
        self._summaries: list[pd.DataFrame] = []
        self._summary_rows = 0
        self._resources: dict[str, tuple[int, int]] = {}
        self._compute_keys: set[int] = set()
        self._merged_rows = 0
        self._key_ids: dict[tuple[str, ...], int] = {}
        self._tag_ids: dict[str, int | None] = {"": None}
        self.load_id = 0

    # -- transaction -------------------------------------------------------------------
    def __enter__(self) -> ChargeLoader:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self._replace_previous()
            cur = self.conn.execute(
                "INSERT INTO loads (source, path, fingerprint, loaded_at) VALUES (?,?,?,?)",
                (self.source, self.path, self.fingerprint, self.now.isoformat(timespec="seconds")),
            )
            self.load_id = cur.lastrowid
            # ids continue from the highest ever recorded, so no load's range is reused
            (self._next_id,) = self.conn.execute(
                "SELECT MAX(COALESCE((SELECT MAX(id) FROM charges), 0), "
                "COALESCE((SELECT MAX(last_rowid) FROM loads), 0)) + 1"
            ).fetchone()
            self._first_id = self._next_id
            cols = ", ".join(KEY_COLUMNS)
            for row in self.conn.execute(f"SELECT id, {cols} FROM charge_keys"):
                self._key_ids[tuple(row[1:])] = row[0]
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.conn.execute("ROLLBACK")
            return
        try:
            self._finish()
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def _replace_previous(self) -> None:
        deleted = 0
        for source in [self.source, *self.also_replace]:
            window = self.window if source == self.source else None
            loads = self.conn.execute(
                "SELECT id, first_rowid, last_rowid FROM loads WHERE source = ?", (source,)
            ).fetchall()
            for _load_id, first, last in loads:
                if first is None:
                    continue
                if window:
                    cur = self.conn.execute(
                        "DELETE FROM charges WHERE id BETWEEN ? AND ? AND day BETWEEN ? AND ?",
                        (first, last, _day(window[0]), _day(window[1])),
                    )
                else:
                    cur = self.conn.execute(
                        "DELETE FROM charges WHERE id BETWEEN ? AND ?", (first, last)
                    )
                deleted += cur.rowcount
            load_ids = [row[0] for row in loads]
            marks = ",".join("?" * len(load_ids))
            for table in ("cube", "daily_keys") if load_ids else ():
                if window:
                    self.conn.execute(
                        f"DELETE FROM {table} WHERE load_id IN ({marks}) AND day BETWEEN ? AND ?",
                        (*load_ids, _day(window[0]), _day(window[1])),
                    )
                else:
                    self.conn.execute(f"DELETE FROM {table} WHERE load_id IN ({marks})", load_ids)
            if not window:
                self.conn.execute("DELETE FROM loads WHERE source = ?", (source,))
                if source != self.source:
                    self.conn.execute("DELETE FROM sources WHERE name = ?", (source,))
                    self.result.replaced_sources.append(source)
        self.result.rows_replaced = deleted

    # -- rows --------------------------------------------------------------------------
    def _ids_for_keys(self, tuples: list[tuple[str, ...]]) -> np.ndarray:
        ids = np.empty(len(tuples), dtype=np.int64)
        placeholders = ",".join("?" * len(KEY_COLUMNS))
        for i, key in enumerate(tuples):
            found = self._key_ids.get(key)
            if found is None:
                cur = self.conn.execute(
                    f"INSERT INTO charge_keys ({', '.join(KEY_COLUMNS)}) VALUES ({placeholders})",
                    key,
                )
                found = self._key_ids[key] = cur.lastrowid
            ids[i] = found
            if _is_compute(key):
                self._compute_keys.add(found)
        return ids

    def _ids_for_tags(self, texts: list[str]) -> np.ndarray:
        ids = np.empty(len(texts), dtype=object)
        for i, text in enumerate(texts):
            if text not in self._tag_ids:
                row = self.conn.execute(
                    "SELECT id FROM tag_sets WHERE tags = ?", (text,)
                ).fetchone()
                if row is None:
                    row = (
                        self.conn.execute(
                            "INSERT INTO tag_sets (tags) VALUES (?)", (text,)
                        ).lastrowid,
                    )
                self._tag_ids[text] = row[0]
            ids[i] = self._tag_ids[text]
        return ids

    def add(self, chunk: Chunk) -> None:
        r = self.result
        r.rows_read += chunk.rows_in
        r.bad.merge(chunk.bad)
        r.unreadable_tags += chunk.unreadable_tags
        if chunk.rows == 0:
            return
        key_ids = self._ids_for_keys(chunk.key_tuples)[chunk.key_codes]
        tag_ids = self._ids_for_tags(chunk.tag_texts)[chunk.tag_codes]
        frame = pd.DataFrame(
            {
                "day": chunk.days,
                "key_id": key_ids,
                "resource_id": chunk.resource_id,
                "sku_id": chunk.sku_id,
                "tags_id": tag_ids,
                "billed": chunk.billed,
                "effective": chunk.effective,
                "list": chunk.list_cost,
                "cq": chunk.consumed_quantity,
                "pq": chunk.pricing_quantity,
            },
            copy=False,
        )
        if self.window:
            inside = (frame["day"] >= _day(self.window[0])) & (frame["day"] <= _day(self.window[1]))
            r.outside_window += int((~inside).sum())
            frame = frame[inside]
        if chunk.subdaily and len(frame):
            # hourly (or finer) rows → one row per UTC day and resource line
            frame = frame.groupby(
                ["day", "key_id", "resource_id", "sku_id", "tags_id"],
                sort=False,
                dropna=False,
                as_index=False,
            ).agg(
                billed=("billed", "sum"),
                effective=("effective", "sum"),
                list=("list", lambda s: s.sum(min_count=1)),
                cq=("cq", lambda s: s.sum(min_count=1)),
                pq=("pq", lambda s: s.sum(min_count=1)),
            )
        if not len(frame):
            return
        self._summarise(frame)
        self._remember_resources(frame)
        n = len(frame)
        rows = zip(
            range(self._next_id, self._next_id + n),
            frame["day"].tolist(),
            frame["key_id"].tolist(),
            frame["resource_id"].tolist(),
            frame["sku_id"].tolist(),
            frame["billed"].tolist(),
            frame["effective"].tolist(),
            _nullable(frame["list"]),
            _nullable(frame["cq"]),
            _nullable(frame["pq"]),
            frame["tags_id"].tolist(),
            strict=True,
        )
        self.conn.executemany(_INSERT_FACT, rows)
        self._next_id += n
        r.rows_stored += n

    def _remember_resources(self, frame: pd.DataFrame) -> None:
        """The allocation key of each compute resource, as first seen in the load, for tying
        GPU nodes without labels to their tags. Only instances matter, and a resource recurs
        every day, so the per-chunk work is a hash of the chunk's ids and nothing after."""
        if not self._compute_keys:
            return
        keep = np.isin(frame["key_id"].to_numpy(), np.fromiter(self._compute_keys, np.int64))
        if not keep.any():
            return
        ids = frame["resource_id"].to_numpy()[keep]
        new = [r for r in pd.unique(ids) if r is not None and r not in self._resources]
        if not new:
            return
        subset = frame.loc[keep, ["resource_id", "key_id", "day"]]
        first = subset[subset["resource_id"].isin(new)].drop_duplicates("resource_id")
        self._resources.update(
            zip(
                first["resource_id"].tolist(),
                zip(first["key_id"].tolist(), first["day"].tolist(), strict=True),
                strict=True,
            )
        )

    def _summarise(self, frame: pd.DataFrame) -> None:
        part = (
            frame.assign(list=frame["list"].fillna(0.0))
            .groupby(["day", "key_id"], sort=False, as_index=False)[["billed", "effective", "list"]]
            .sum()
        )
        self._summaries.append(part)
        self._summary_rows += len(part)
        # compact before the pending parts outgrow the merged summary: memory stays near
        # the summary's own size (days x dimension combinations), not the file's
        if self._summary_rows > max(_SUMMARY_COMPACT_ROWS, 2 * self._merged_rows):
            merged = self._merged_summary()
            self._summaries = [merged]
            self._summary_rows = self._merged_rows = len(merged)

    def _merged_summary(self) -> pd.DataFrame:
        if not self._summaries:
            return pd.DataFrame(
                {"day": [], "key_id": [], "billed": [], "effective": [], "list": []}
            )
        return (
            pd.concat(self._summaries, ignore_index=True)
            .groupby(["day", "key_id"], sort=False, as_index=False)[["billed", "effective", "list"]]
            .sum()
        )

    def _write_resource_allocation(self) -> None:
        if not self._resources:
            return
        keys = dict(
            self.conn.execute(
                "SELECT id, project || char(31) || team || char(31) || owner FROM charge_keys"
            ).fetchall()
        )
        rows = []
        for rid, (key_id, day) in self._resources.items():
            project, team, owner = keys.get(key_id, "\x1f\x1f").split("\x1f")
            if project or owner:
                rows.append((resource_key(rid), rid, project, team, owner, day))
        self.conn.executemany(
            "INSERT INTO resource_allocation VALUES (?,?,?,?,?,?) ON CONFLICT(resource_key) "
            "DO UPDATE SET resource_id = excluded.resource_id, project = excluded.project, "
            "team = excluded.team, owner = excluded.owner, day = excluded.day "
            "WHERE excluded.day >= resource_allocation.day",
            rows,
        )

    # -- finish ------------------------------------------------------------------------
    def _finish(self) -> None:
        r = self.result
        summary = self._merged_summary()
        first_rowid = last_rowid = None
        if r.rows_stored:
            first_rowid, last_rowid = self._first_id, self._next_id - 1
        keys = pd.DataFrame(
            self.conn.execute(
                "SELECT id AS key_id, currency, provider, project, team, owner, service_name, "
                "sub_account_id, region, pricing_category FROM charge_keys"
            ).fetchall(),
            columns=[
                "key_id",
                "currency",
                "provider",
                "project",
                "team",
                "owner",
                "service_name",
                "sub_account_id",
                "region",
                "pricing_category",
            ],
        )
        facts = summary.merge(keys, on="key_id", how="left")
        self.conn.executemany(
            "INSERT INTO cube (dim, key, day, currency, load_id, billed_cost, effective_cost, "
            "list_cost) VALUES (?,?,?,?,?,?,?,?)",
            cube_rows(facts, self.load_id),
        )
        self.conn.executemany(
            "INSERT INTO daily_keys (key_id, day, load_id, billed_cost, effective_cost, "
            "list_cost) VALUES (?,?,?,?,?,?)",
            daily_key_rows(summary, self.load_id),
        )
        refresh_names(self.conn)
        self._write_resource_allocation()
        if len(facts):
            days = sorted({int(d) for d in facts["day"].unique()})
            r.first_day = str(EPOCH + days[0])
            r.last_day = str(EPOCH + days[-1])
            r.day_count = len(days)
            r.providers = sorted(p for p in facts["provider"].unique() if p)
            for currency, part in facts.groupby("currency"):
                r.totals[str(currency)] = {
                    "BilledCost": float(part["billed"].sum()),
                    "EffectiveCost": float(part["effective"].sum()),
                    "ListCost": float(part["list"].sum()),
                }
        self.conn.execute(
            "UPDATE loads SET rows = ?, first_rowid = ?, last_rowid = ?, first_day = ?, "
            "last_day = ? WHERE id = ?",
            (r.rows_stored, first_rowid, last_rowid, r.first_day, r.last_day, self.load_id),
        )
        self.conn.execute(
            "DELETE FROM loads WHERE source = ? AND rows = 0 AND id != ?",
            (self.source, self.load_id),
        )
        first_day, last_day = (
            None if d is None else str(EPOCH + d)
            for d in self.conn.execute(
                "SELECT MIN(day), MAX(day) FROM cube WHERE dim = '*' AND key = '*' AND load_id IN "
                "(SELECT id FROM loads WHERE source = ?)",
                (self.source,),
            ).fetchone()
        )
        (stored,) = self.conn.execute(
            "SELECT COALESCE(SUM(rows), 0) FROM loads WHERE source = ?", (self.source,)
        ).fetchone()
        previous = self.conn.execute(
            "SELECT rows FROM sources WHERE name = ?", (self.source,)
        ).fetchone()
        if self.window and previous:
            stored = previous[0] - r.rows_replaced + r.rows_stored
        self.conn.execute(
            "INSERT INTO sources (name, kind, first_day, last_day, rows, loaded_at) "
            "VALUES (?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET kind = excluded.kind, "
            "first_day = excluded.first_day, last_day = excluded.last_day, rows = excluded.rows, "
            "loaded_at = excluded.loaded_at",
            (
                self.source,
                self.kind,
                first_day,
                last_day,
                stored,
                self.now.isoformat(timespec="seconds"),
            ),
        )


_SERVICE_CATEGORY = KEY_COLUMNS.index("service_category")
_RESOURCE_TYPE = KEY_COLUMNS.index("resource_type")
_COMPUTE_CATEGORIES = {"compute", "ai and machine learning"}


def _is_compute(key: tuple[str, ...]) -> bool:
    kind = key[_RESOURCE_TYPE].lower()
    return (
        key[_SERVICE_CATEGORY].lower() in _COMPUTE_CATEGORIES
        or "instance" in kind
        or "virtual machine" in kind
    )


def resource_key(resource_id: str) -> str:
    """The part of a resource id a node knows itself by: the last path segment
    (arn:...:instance/i-0abc → i-0abc; .../virtualMachines/asr-0 → asr-0), lower-cased."""
    return resource_id.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].lower()


def _nullable(series: pd.Series) -> list:
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    out = values.tolist()
    if np.isnan(values).any():
        return [None if v != v else v for v in out]
    return out
