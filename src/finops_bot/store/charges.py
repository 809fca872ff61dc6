"""Loading charges in one transaction: a sync source's day window replaces what that source
brought for those days; a file delivery replaces earlier file deliveries of the same
partitions (see deliveries.py).

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

from finops_bot.days import EPOCH, day_iso, day_number
from finops_bot.errors import ImportRefused
from finops_bot.store import deliveries, extras
from finops_bot.store.chunk import BadRows, Chunk, ChunkExtras, merge_nulled
from finops_bot.store.db import WriteWait, begin_write
from finops_bot.store.details import DetailTracker, MonthTracker, rebuild_months
from finops_bot.store.instance_hours import HourTracker
from finops_bot.store.resources import ResourceTracker
from finops_bot.store.rollups import (
    delete_load,
    describe,
    drop_orphans,
    refresh_names,
    refresh_source,
    write_cube,
    write_daily_keys,
)
from finops_bot.store.schema import KEY_COLUMNS
from finops_bot.store.tagsets import key_dims_rows

_INSERT_FACT = (
    "INSERT INTO charges (id, day, key_id, resource_id, sku_id, billed_cost, "
    "effective_cost, list_cost, consumed_quantity, pricing_quantity, tags_id) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?)"
)
_MEASURES = ["billed", "effective", "list", "gpu", "cq", "pq"]  # cq, pq: the quantities
_SUMMARY_COMPACT_ROWS = 200_000
SAMPLE_ALL, SAMPLE_EVERY = 65_536, 16
MAX_SAMPLES = 1_000_000
_COLUMN = {c: i for i, c in enumerate(KEY_COLUMNS)}


@dataclass
class LoadResult:
    source: str
    rows_read: int = 0
    rows_stored: int = 0
    rows_replaced: int = 0  # rows earlier loads or deliveries held that this one replaced
    bad: BadRows = field(default_factory=BadRows)  # rows refused
    nulled: dict[str, BadRows] = field(default_factory=dict)  # optional fields nulled
    unreadable_tags: int = 0
    outside_window: int = 0
    first_day: str | None = None
    last_day: str | None = None
    day_count: int = 0
    providers: list[str] = field(default_factory=list)
    totals: dict[str, dict[str, float]] = field(default_factory=dict)  # currency → measure → sum
    gpu_hours: float = 0.0  # GPU-hours of the rows stored
    replaced_sources: list[str] = field(default_factory=list)
    merged_with: list[str] = field(default_factory=list)  # Azure exports of the other cost type
    warnings: list[str] = field(default_factory=list)
    cost_type: str | None = None


@dataclass(frozen=True)
class Delivery:
    """How a file load meets earlier ones: its delivery id (the files of one command),
    the Azure cost type (None for FOCUS and CUR), and whether overlapping a sync source's
    data is allowed (``--append``)."""

    id: str
    cost_type: str | None = None
    append: bool = False
    # per file of the delivery: hashes of a content-chosen sample of its rows, to tell the
    # parts of a multi-part export (disjoint) from a copy or subset of another file
    samples: dict[str, tuple[str | None, np.ndarray]] = field(
        default_factory=dict, compare=False, hash=False
    )


class ChargeLoader:
    """Context manager: ``with ChargeLoader(db, "file:x", ...) as load: load.add(chunk)``.

    Sync sources pass ``window`` (first, last day, inclusive): only those days of the
    source are replaced, rows outside it are dropped and counted; without a window the whole
    source is replaced. File imports pass ``delivery`` instead; the same bytes imported
    before (by ``fingerprint``, under any path) are dropped first.
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
        delivery: Delivery | None = None,
        wait: WriteWait | None = None,
    ):
        self.db = db
        self.wait = wait
        self.conn = db.conn
        self.source = source
        self.kind = kind
        self.now = now
        self.path = path
        self.fingerprint = fingerprint
        self.window = window
        self.delivery = delivery
        self.result = LoadResult(source=source)
        self._summaries: list[pd.DataFrame] = []
        self._summary_rows = 0
        self._merged_rows = 0
        self._key_ids: dict[tuple[str, ...], int] = {}
        self._tag_ids: dict[str, int | None] = {"": None}
        self._resources = ResourceTracker()
        self._details = DetailTracker()
        self._months = MonthTracker()
        self._hours = HourTracker(
            (day_number(window[0]), day_number(window[1])) if window else None
        )
        self._samples: list[np.ndarray] = []
        self._sampled = 0
        self._blocks: list[tuple[int, int, int, int]] = []  # fact id range and day span
        self._carried: set[str] = set()  # the optional FOCUS columns the rows carried
        self.load_id = 0

    # -- transaction -------------------------------------------------------------------
    def __enter__(self) -> ChargeLoader:
        # everything that decides what this load replaces or collides with is read inside
        # this transaction: two imports at once are serialised here, never both stored
        begin_write(self.conn, self.wait)
        try:
            if self.delivery is None:
                self._replace_previous()
            elif self.fingerprint:
                self._drop_same_bytes()
            cur = self.conn.execute(
                "INSERT INTO loads (source, kind, path, fingerprint, loaded_at, delivery, "
                "append) VALUES (?,?,?,?,?,?,?)",
                (
                    self.source,
                    self.kind,
                    self.path,
                    self.fingerprint,
                    self.now.isoformat(timespec="seconds"),
                    self.delivery.id if self.delivery else None,
                    int(bool(self.delivery and self.delivery.append)),
                ),
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
            self._next_key_id = max(self._key_ids.values(), default=0) + 1
        except BaseException:
            self._rollback()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self._rollback()
            return
        try:
            self._finish()
            self.conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        # SQLite has rolled back itself after some errors (a full disk): keep that error
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def _drop_same_bytes(self) -> None:
        """A file imported before, byte for byte (any path): it is replaced whole."""
        for load_id, source in self.conn.execute(
            "SELECT id, source FROM loads WHERE fingerprint = ?", (self.fingerprint,)
        ).fetchall():
            self.result.rows_replaced += delete_load(self.conn, load_id)
            if source != self.source and source not in self.result.replaced_sources:
                self.result.replaced_sources.append(source)
        for source in self.result.replaced_sources:
            refresh_source(self.conn, source, "file", None)

    def _replace_previous(self) -> None:
        """This source's earlier rows: those of the window's days, or all of them."""
        if not self.window:
            for (load_id,) in self.conn.execute(
                "SELECT id FROM loads WHERE source = ?", (self.source,)
            ).fetchall():
                self.result.rows_replaced += delete_load(self.conn, load_id)
            return
        first, last = day_number(self.window[0]), day_number(self.window[1])
        loads = self.conn.execute(
            "SELECT id, first_rowid, last_rowid FROM loads WHERE source = ?", (self.source,)
        ).fetchall()
        for load_id, first_row, last_row in loads:
            if first_row is not None:
                deleted = self.conn.execute(
                    "DELETE FROM charges WHERE id BETWEEN ? AND ? AND day BETWEEN ? AND ?",
                    (first_row, last_row, first, last),
                ).rowcount
                self.result.rows_replaced += deleted
                self.conn.execute(
                    "UPDATE loads SET rows = rows - ? WHERE id = ?", (deleted, load_id)
                )
                drop_orphans(self.conn, first_row, last_row)
                rebuild_months(self.conn, load_id, first_row, last_row, days=(first, last))
            for table in ("cube", "cube_pairs", "daily_keys", "detail_days"):
                self.conn.execute(
                    f"DELETE FROM {table} WHERE load_id = ? AND day BETWEEN ? AND ?",
                    (load_id, first, last),
                )
            self.conn.execute(
                "DELETE FROM instance_hours WHERE load_id = ? AND hour BETWEEN ? AND ?",
                (load_id, first * 24, last * 24 + 23),
            )

    # -- rows --------------------------------------------------------------------------
    def _ids_for_keys(self, tuples: list[tuple[str, ...]]) -> np.ndarray:
        """Key ids for a chunk's combinations; new ones inserted in one executemany with ids
        given from the highest so far."""
        known = self._key_ids
        new = [key for key in dict.fromkeys(tuples) if key not in known]
        if new:
            first = self._next_key_id
            self.conn.executemany(
                f"INSERT INTO charge_keys (id, {', '.join(KEY_COLUMNS)}) "
                f"VALUES (?, {','.join('?' * len(KEY_COLUMNS))})",
                [(first + i, *key) for i, key in enumerate(new)],
            )
            for i, key in enumerate(new):
                known[key] = first + i
                self._resources.note_key(first + i, key)
            self.conn.executemany(
                "INSERT INTO key_dims (dim, value, key_id) VALUES (?,?,?)",
                key_dims_rows((first + i, key[_COLUMN["dims"]]) for i, key in enumerate(new)),
            )
            self._next_key_id += len(new)
        return np.fromiter((known[key] for key in tuples), np.int64, len(tuples))

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
        merge_nulled(r.nulled, chunk.nulled)
        r.unreadable_tags += chunk.unreadable_tags
        if chunk.rows == 0:
            return
        key_ids = self._ids_for_keys(chunk.key_tuples)[chunk.key_codes]
        self._hours.add(chunk, key_ids)  # hourly usage, before the rows roll up to days
        tag_ids = self._ids_for_tags(chunk.tag_texts)[chunk.tag_codes]
        if self.delivery is not None:
            self._sample(chunk, key_ids)
        frame, gpu = self._frame(chunk, key_ids, tag_ids)
        if not len(frame):
            return
        self._summarise(frame)
        self._details.add(frame, chunk.extras)
        self._months.add(frame)
        self._insert(frame, chunk, gpu)

    def _frame(
        self, chunk: Chunk, key_ids: np.ndarray, tag_ids: np.ndarray
    ) -> tuple[pd.DataFrame, bool]:
        """The chunk's rows at the cache's grain (inside the window; hourly or finer rows
        rolled up to UTC days), and whether any has GPU-hours."""
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
        gpu = chunk.gpu_hours is not None and not np.isnan(chunk.gpu_hours).all()
        if gpu:  # most charges have no GPU-hours: the column is carried only when some do
            frame["gpu"] = chunk.gpu_hours
        if chunk.extras is not None:  # likewise the optional FOCUS columns (store.extras)
            frame = frame.assign(**extras.frame_columns(chunk.extras))
        if self.window:
            first, last = day_number(self.window[0]), day_number(self.window[1])
            inside = (frame["day"] >= first) & (frame["day"] <= last)
            self.result.outside_window += int((~inside).sum())
            frame = frame[inside]
        if chunk.subdaily and len(frame):
            frame = _day_rows(frame, gpu, chunk.extras)
        return frame, gpu

    def _insert(self, frame: pd.DataFrame, chunk: Chunk, gpu: bool) -> None:
        """The facts, with their GPU-hours and extra columns beside them."""
        # after a group-by, missing ids are NaN, not None
        clean = _texts if chunk.subdaily else pd.Series.tolist
        resource_ids = clean(frame["resource_id"])
        self._resources.remember(frame["key_id"].to_numpy(), resource_ids, frame["day"])
        n = len(frame)
        rows = zip(
            range(self._next_id, self._next_id + n),
            frame["day"].tolist(),
            frame["key_id"].tolist(),
            resource_ids,
            clean(frame["sku_id"]),
            frame["billed"].tolist(),
            frame["effective"].tolist(),
            _nullable(frame["list"]),
            _nullable(frame["cq"]),
            _nullable(frame["pq"]),
            _ints(frame["tags_id"]) if chunk.subdaily else frame["tags_id"].tolist(),
            strict=True,
        )
        self.conn.executemany(_INSERT_FACT, rows)
        if gpu:  # GPU-hours beside the facts, for the rows that have some
            hours = frame["gpu"].to_numpy(dtype=np.float64, na_value=np.nan)
            at = np.flatnonzero(~np.isnan(hours))
            self.conn.executemany(
                "INSERT INTO charge_gpu (id, gpu_hours) VALUES (?,?)",
                zip((at + self._next_id).tolist(), hours[at].tolist(), strict=True),
            )
        if chunk.extras is not None:
            extras.write(self.conn, frame, self._next_id, chunk.extras)
            self._carried |= chunk.extras.carried
        days = frame["day"].to_numpy()
        last = self._next_id + n - 1
        self._blocks.append((self._next_id, last, int(days.min()), int(days.max())))
        self._next_id += n
        self.result.rows_stored += n

    def _sample(self, chunk: Chunk, key_ids: np.ndarray) -> None:
        """Hash every row of the first SAMPLE_ALL, then about one row in 16, chosen by the
        row's own content, so the same row is chosen in any file that holds it."""
        cents = np.nan_to_num(np.round(chunk.billed * 100)).astype(np.int64)
        pick = ((chunk.starts // 60) * 31 + key_ids * 7 + cents) % SAMPLE_EVERY == 0
        if self._sampled < SAMPLE_ALL:
            pick[: SAMPLE_ALL - self._sampled] = True
        self._sampled += len(pick)
        if not pick.any():
            return
        frame = pd.DataFrame(
            {
                "start": chunk.starts[pick],
                "key": key_ids[pick],
                "resource": chunk.resource_id[pick],
                "sku": chunk.sku_id[pick],
                "billed": chunk.billed[pick],
                "effective": chunk.effective[pick],
            }
        )
        self._samples.append(pd.util.hash_pandas_object(frame, index=False).to_numpy())

    def _summarise(self, frame: pd.DataFrame) -> None:
        measures = [m for m in _MEASURES if m in frame]
        filled = {m: frame[m].fillna(0.0) for m in ("list", "gpu", "cq", "pq") if m in frame}
        part = (
            frame.assign(**filled)
            .groupby(["day", "key_id"], sort=False, as_index=False)[measures]
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
            return pd.DataFrame({"day": [], "key_id": [], **{m: [] for m in _MEASURES}})
        merged = pd.concat(self._summaries, ignore_index=True)  # gpu: NaN where a part had none
        measures = [m for m in _MEASURES if m in merged]
        return merged.groupby(["day", "key_id"], sort=False, as_index=False)[measures].sum()

    # -- finish ------------------------------------------------------------------------
    def _finish(self) -> None:
        r = self.result
        summary = self._merged_summary()
        first_rowid = last_rowid = None
        if r.rows_stored:
            first_rowid, last_rowid = self._first_id, self._next_id - 1
        write_daily_keys(self.conn, summary, self.load_id)
        self._details.write(self.conn, self.load_id)
        self._months.write(self.conn, self.load_id)
        self._hours.write(self.conn, self.load_id)
        write_cube(self.conn, self.load_id, summary)
        self.conn.executemany(
            "INSERT INTO charge_blocks (load_id, first_id, last_id, first_day, last_day) "
            "VALUES (?,?,?,?,?)",
            [(self.load_id, *block) for block in self._blocks],
        )
        r.gpu_hours = float(summary["gpu"].sum()) if "gpu" in summary else 0.0
        self.conn.execute(
            "UPDATE loads SET rows = ?, first_rowid = ?, last_rowid = ? WHERE id = ?",
            (r.rows_stored, first_rowid, last_rowid, self.load_id),
        )
        if self.delivery is not None and r.rows_stored:
            self._meet_earlier(summary, first_rowid, last_rowid)
        elif self.window and self.kind != "demo" and r.rows_stored:
            self._no_file_overlap(summary)
        self._describe(summary)
        self.conn.execute(
            "UPDATE loads SET first_day = ?, last_day = ?, cost_type = ? WHERE id = ?",
            (r.first_day, r.last_day, r.cost_type, self.load_id),
        )
        extras.record(self.conn, self.load_id, self._carried)
        for table, column in (("load_columns", "load_id"), ("loads", "id")):
            self.conn.execute(
                f"DELETE FROM {table} WHERE {column} IN (SELECT id FROM loads "
                "WHERE source = ? AND rows = 0 AND id != ?)",
                (self.source, self.load_id),
            )
        stamp = self.now.isoformat(timespec="seconds")
        refresh_source(self.conn, self.source, self.kind, stamp)
        for other in r.replaced_sources:
            refresh_source(self.conn, other, "file", None)
        refresh_names(self.conn)
        self._resources.write(self.conn)

    def _meet_earlier(self, summary: pd.DataFrame, first_row: int, last_row: int) -> None:
        """A file delivery against earlier ones: refuse a collision, replace, merge."""
        r, delivery = self.result, self.delivery
        r.cost_type = delivery.cost_type
        by_id = {i: key for key, i in self._key_ids.items()}
        keys = [by_id[int(k)] for k in summary["key_id"].unique()]
        scoped = delivery.cost_type is not None
        partitions = {
            deliveries.partition_of(
                k[_COLUMN["provider"]],
                k[_COLUMN["billing_account_id"]],
                k[_COLUMN["billing_period_start"]],
                k[_COLUMN["sub_account_id"]],
                scoped=scoped,
                path=self.path or self.source,
            )
            for k in keys
        }
        days = summary["day"]
        if not delivery.append:
            sources = deliveries.sync_overlap(
                self.conn, partitions, int(days.min()), int(days.max())
            )
            if sources:
                raise ImportRefused(
                    f"{self.path}: not imported, it overlaps what the sync source "
                    f"{', '.join(sources)} brought (same provider and days); importing it too "
                    "would count those charges twice. Use --append to add it anyway. "
                    "The cache is unchanged."
                )
        if any(p.cloud or p.account for p in partitions):  # files naming no bill stand alone
            self._no_overlap(delivery)
        deliveries.record(self.conn, self.load_id, partitions)
        subs = {k[_COLUMN["sub_account_id"]] for k in keys}
        replaced = deliveries.replace_earlier(
            self.conn, self.load_id, delivery.id, partitions, delivery.cost_type, subs
        )
        r.rows_replaced += replaced.rows
        r.replaced_sources.extend(s for s in replaced.sources if s not in r.replaced_sources)
        r.warnings.extend(replaced.warnings)
        if delivery.cost_type:
            r.merged_with = deliveries.merge_azure(
                self.conn, self.load_id, first_row, last_row, partitions, delivery.cost_type
            )

    def _no_file_overlap(self, summary: pd.DataFrame) -> None:
        """A sync window that meets a file imported earlier (same provider, billing account
        and days; not --append) is refused, as such an import after a sync is."""
        first, last = int(summary["day"].min()), int(summary["day"].max())
        files = deliveries.file_overlap(self.conn, self.load_id, first, last)
        if files:
            raise ImportRefused(
                f"{self.source}: {day_iso(first)} … {day_iso(last)} not stored: the imported "
                f"file {', '.join(files)} holds the same provider's charges for those days, "
                "and storing both would count them twice. Import that file again with "
                "--append if it holds other charges. The cache is unchanged for these days."
            )

    def _no_overlap(self, delivery: Delivery) -> None:
        """Refuse a file whose rows are partly in another file of the same delivery (a
        subset or a stale copy): the parts of a multi-part export share next to none (a
        tenth of the smaller file's sample is the line)."""
        mine = np.unique(np.concatenate(self._samples)) if self._samples else np.array([])
        for other, (cost_type, theirs) in delivery.samples.items():
            if cost_type != delivery.cost_type:  # an Azure actual vs amortised pair: merged
                continue
            shared = np.intersect1d(mine, theirs, assume_unique=True).size
            if shared and shared >= 0.1 * min(len(mine), len(theirs)):
                share = shared / max(len(mine), 1) * 100
                raise ImportRefused(
                    f"{self.path}: not imported, about {share:.0f}% of its charges are also in "
                    f"{other} (imported just before in this command): one is a copy or a subset "
                    "of the other. Import only one of them. The cache is unchanged."
                )
        delivery.samples[self.path or self.source] = (delivery.cost_type, mine[:MAX_SAMPLES])

    def _describe(self, summary: pd.DataFrame) -> None:
        r = self.result
        if not len(summary):
            return
        days = sorted(int(d) for d in summary["day"].unique())
        r.first_day, r.last_day, r.day_count = day_iso(days[0]), day_iso(days[-1]), len(days)
        r.providers, r.totals = describe(self.conn, summary)


def _day_rows(frame: pd.DataFrame, gpu: bool, more: ChunkExtras | None) -> pd.DataFrame:
    """Hourly (or finer) rows → one row per UTC day and resource line; the extra columns'
    text code is part of the line, so Used and Unused of one commitment stay apart."""
    keys = ["day", "key_id", "resource_id", "sku_id", "tags_id", *(["x"] if more else [])]
    frame = extras.with_products(frame, more) if more is not None else frame
    groups = frame.groupby(keys, sort=False, dropna=False)
    return pd.concat(
        [
            groups[["billed", "effective"]].sum(),
            groups[["list", "cq", "pq", *(["gpu"] if gpu else [])]].sum(min_count=1),
            *(extras.roll_up(groups, more) if more is not None else []),
        ],
        axis=1,
    ).reset_index()


def _texts(series: pd.Series) -> list:
    """Text values for SQLite; anything else (None, NaN from a group-by) is NULL."""
    return [v if isinstance(v, str) else None for v in series.tolist()]


def _ints(series: pd.Series) -> list:
    return [None if v is None or v != v else int(v) for v in series.tolist()]


def _nullable(series: pd.Series) -> list:
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(values)
    if missing.all():
        return [None] * len(values)
    out = values.tolist()
    if missing.any():
        return [None if v != v else v for v in out]
    return out


__all__ = ["EPOCH", "ChargeLoader", "Delivery", "LoadResult"]
