"""Schema, created and evolved by sqlite-utils Migrations.

Layout (see README "The cache"). Days are UTC day numbers (days since 1970-01-01);
the focus_charges view shows them as ISO dates.
- charges: daily fact rows, narrow on purpose (bulk insert speed); dimensions live in
  charge_keys, leftover tags in tag_sets. Rows of one load are contiguous rowids, recorded
  in loads, so a source is replaced by rowid ranges without a fact-table index. Ids are
  given explicitly from a high-water mark, so a range is never reused.
- daily_keys: per load, day and dimension combination (charge_keys row), the three
  measures: what breakdowns of one subject by another dimension read.
- cube: per load, day, currency and charge category, the totals of each value of one
  dimension (project, team, owner, service, account, provider, region, pricing, category,
  or '*' for everything): what totals, rankings, series and comparisons read.
- load_partitions: which (cloud, billing account, billing period) each load holds, for
  replacing earlier deliveries of the same partition.
- names: the distinct keys of each dimension, for name matching.

Migrations are frozen: each one uses the column lists as they were when it was written.
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

from finops_bot.providers import cloud_of

# charge_keys as m001 created it (frozen: later migrations add to it)
_M001_KEY_COLUMNS = (
    "provider",
    "billing_account_id",
    "billing_account_name",
    "sub_account_id",
    "sub_account_name",
    "region",
    "service_name",
    "service_category",
    "charge_category",
    "pricing_category",
    "resource_type",
    "currency",
    "consumed_unit",
    "pricing_unit",
    "project",
    "team",
    "owner",
)
_M001_INDEXED = (
    "project",
    "team",
    "owner",
    "service_name",
    "sub_account_id",
    "provider",
    "region",
    "pricing_category",
)
# the dimension-combination columns today, in the order chunks carry them: the plain
# columns (from a field each, the GPU columns from the classification), the billing period,
# then the columns that come from tags (dims: the configured dimensions' values as JSON)
KEY_COLUMNS = (
    *_M001_KEY_COLUMNS[:-3],
    "instance_type",
    "gpu_model",
    "billing_period_start",
    "project",
    "team",
    "owner",
    "dims",
)
ALLOCATION_COLUMNS = ("project", "team", "owner")
TAG_COLUMNS = (*ALLOCATION_COLUMNS, "dims")
# question dimension → charge_keys column (each one is a cube dimension)
SUBJECT_COLUMNS = {
    "project": "project",
    "team": "team",
    "owner": "owner",
    "service": "service_name",
    "account": "sub_account_id",
    "provider": "provider",
    "region": "region",
    "pricing": "pricing_category",
    "category": "service_category",
}
# subject dimensions with many combinations, broken down by an infrastructure dimension:
# kept as pairs (cube_pairs), so "provider aws by region" reads a few index ranges
PAIR_SUBJECTS = ("provider", "category", "service", "region", "account", "pricing")
PAIR_BY = ("service", "provider", "region", "account", "pricing", "category")
# plus teams by service (what moved, in every cost answer): a team spans many projects,
# while a project's or an owner's few combinations are read from daily_keys as fast
PAIRS = (*((x, y) for x in PAIR_SUBJECTS for y in PAIR_BY if x != y), ("team", "service"))
# GPU rows' dimensions (a cube dimension each, written only for rows that have a value)
GPU_COLUMNS = {"gpu": "gpu_model", "instance": "instance_type"}
# every built-in dimension → its charge_keys column; any other name is a configured tag
# dimension ([allocation] dimensions), kept in charge_keys.dims and key_dims
DIM_COLUMNS = {**SUBJECT_COLUMNS, **GPU_COLUMNS}
MEASURE_COLUMNS = {
    "EffectiveCost": "effective_cost",
    "BilledCost": "billed_cost",
    "ListCost": "list_cost",
    "GPUHours": "gpu_hours",
}
# measures that are quantities, not money: summed over every currency (read as currency '')
QUANTITY_MEASURES = frozenset({"GPUHours"})

migrations = Migrations("finops_bot")


@migrations()
def m001_billing_cache(db: Database) -> None:
    key_cols = ",\n  ".join(f"{c} TEXT NOT NULL DEFAULT ''" for c in _M001_KEY_COLUMNS)
    index_sql = "\n".join(
        f"CREATE INDEX charge_keys_{c} ON charge_keys({c});" for c in _M001_INDEXED
    )
    db.executescript(
        f"""
CREATE TABLE sources (
  name TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  first_day TEXT,
  last_day TEXT,
  rows INTEGER NOT NULL DEFAULT 0,
  loaded_at TEXT,
  detail TEXT
);
CREATE TABLE loads (
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  path TEXT,
  fingerprint TEXT,
  first_rowid INTEGER,
  last_rowid INTEGER,
  rows INTEGER NOT NULL DEFAULT 0,
  first_day TEXT,
  last_day TEXT,
  loaded_at TEXT NOT NULL
);
CREATE INDEX loads_source ON loads(source);
CREATE INDEX loads_fingerprint ON loads(fingerprint);
CREATE TABLE charge_keys (
  id INTEGER PRIMARY KEY,
  {key_cols}
);
CREATE UNIQUE INDEX charge_keys_unique ON charge_keys({", ".join(_M001_KEY_COLUMNS)});
{index_sql}
CREATE TABLE tag_sets (
  id INTEGER PRIMARY KEY,
  tags TEXT NOT NULL UNIQUE
);
CREATE TABLE charges (
  id INTEGER PRIMARY KEY,
  day INTEGER NOT NULL,
  key_id INTEGER NOT NULL,
  resource_id TEXT,
  sku_id TEXT,
  billed_cost REAL NOT NULL,
  effective_cost REAL NOT NULL,
  list_cost REAL,
  consumed_quantity REAL,
  pricing_quantity REAL,
  tags_id INTEGER
);
CREATE TABLE daily_keys (
  key_id INTEGER NOT NULL,
  day INTEGER NOT NULL,
  load_id INTEGER NOT NULL,
  billed_cost REAL NOT NULL,
  effective_cost REAL NOT NULL,
  list_cost REAL NOT NULL,
  PRIMARY KEY (key_id, day, load_id)
) WITHOUT ROWID;
CREATE TABLE cube (
  dim TEXT NOT NULL,
  key TEXT NOT NULL,
  day INTEGER NOT NULL,
  currency TEXT NOT NULL,
  load_id INTEGER NOT NULL,
  billed_cost REAL NOT NULL,
  effective_cost REAL NOT NULL,
  list_cost REAL NOT NULL,
  PRIMARY KEY (dim, key, day, currency, load_id)
) WITHOUT ROWID;
CREATE TABLE names (
  dim TEXT NOT NULL,
  key TEXT NOT NULL,
  label TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (dim, key)
) WITHOUT ROWID;
CREATE VIEW focus_charges AS
SELECT
  l.source AS source,
  date(c.day * 86400, 'unixepoch') AS ChargeDay,
  k.provider AS ProviderName,
  k.billing_account_id AS BillingAccountId,
  k.billing_account_name AS BillingAccountName,
  k.sub_account_id AS SubAccountId,
  k.sub_account_name AS SubAccountName,
  k.region AS RegionId,
  k.service_name AS ServiceName,
  k.service_category AS ServiceCategory,
  k.charge_category AS ChargeCategory,
  k.pricing_category AS PricingCategory,
  c.resource_id AS ResourceId,
  k.resource_type AS ResourceType,
  c.sku_id AS SkuId,
  k.currency AS BillingCurrency,
  c.billed_cost AS BilledCost,
  c.effective_cost AS EffectiveCost,
  c.list_cost AS ListCost,
  c.consumed_quantity AS ConsumedQuantity,
  k.consumed_unit AS ConsumedUnit,
  c.pricing_quantity AS PricingQuantity,
  k.pricing_unit AS PricingUnit,
  k.project AS project,
  k.team AS team,
  k.owner AS owner,
  t.tags AS Tags
FROM charges c
JOIN charge_keys k ON k.id = c.key_id
JOIN loads l ON c.id BETWEEN l.first_rowid AND l.last_rowid
LEFT JOIN tag_sets t ON t.id = c.tags_id;
"""
    )


@migrations()
def m002_source_status(db: Database) -> None:
    db.executescript(
        """
CREATE TABLE source_status (
  name TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  last_attempt_at TEXT,
  last_success_at TEXT,
  last_error TEXT,
  last_error_at TEXT,
  window_start TEXT,
  window_end TEXT,
  rows_last INTEGER NOT NULL DEFAULT 0,
  api_calls_last INTEGER NOT NULL DEFAULT 0,
  api_calls_total INTEGER NOT NULL DEFAULT 0
);
"""
    )


@migrations()
def m003_export_files(db: Database) -> None:
    db.executescript(
        """
CREATE TABLE export_files (
  source TEXT NOT NULL,
  period TEXT NOT NULL,
  key TEXT NOT NULL,
  etag TEXT NOT NULL,
  loaded_at TEXT NOT NULL,
  PRIMARY KEY (source, period, key)
) WITHOUT ROWID;
"""
    )


@migrations()
def m004_prices_and_accounts(db: Database) -> None:
    db.executescript(
        """
CREATE TABLE gpu_prices (
  provider TEXT NOT NULL,
  sku_id TEXT NOT NULL,
  usage_type TEXT NOT NULL,
  description TEXT NOT NULL,
  regions TEXT NOT NULL,
  currency TEXT NOT NULL,
  unit TEXT NOT NULL,
  price REAL NOT NULL,
  effective_time TEXT,
  source TEXT NOT NULL,
  loaded_at TEXT NOT NULL,
  PRIMARY KEY (provider, sku_id, usage_type)
) WITHOUT ROWID;
CREATE TABLE cloud_accounts (
  provider TEXT NOT NULL,
  billing_account_id TEXT NOT NULL,
  billing_account_name TEXT NOT NULL DEFAULT '',
  sub_account_id TEXT NOT NULL,
  sub_account_name TEXT NOT NULL DEFAULT '',
  billing_enabled INTEGER,
  loaded_at TEXT NOT NULL,
  PRIMARY KEY (provider, billing_account_id, sub_account_id)
) WITHOUT ROWID;
"""
    )


@migrations()
def m005_gpu_fleet(db: Database) -> None:
    db.executescript(
        """
CREATE TABLE agent_tokens (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  token_hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  revoked_at TEXT
);
CREATE TABLE heartbeat_batches (
  batch_id TEXT PRIMARY KEY,
  token_id INTEGER NOT NULL,
  node TEXT NOT NULL,
  received_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX heartbeat_batches_received ON heartbeat_batches(received_at);
CREATE TABLE gpu_latest (
  node TEXT NOT NULL,
  gpu TEXT NOT NULL,
  hostname TEXT NOT NULL,
  provider TEXT, instance_id TEXT, instance_type TEXT, region TEXT, zone TEXT, spot INTEGER,
  project TEXT, owner TEXT, job TEXT, progress INTEGER,
  gpu_index INTEGER NOT NULL, name TEXT, state TEXT NOT NULL, error TEXT,
  util_min REAL, util_mean REAL, util_max REAL, mem_used_mb REAL, mem_total_mb REAL,
  power_w REAL, temp_c REAL, processes INTEGER, process_mem_mb REAL,
  window_end TEXT NOT NULL,
  received_at TEXT NOT NULL,
  PRIMARY KEY (node, gpu)
) WITHOUT ROWID;
CREATE TABLE gpu_minutes (
  node TEXT NOT NULL,
  gpu TEXT NOT NULL,
  minute TEXT NOT NULL,
  util_min REAL, util_mean REAL, util_max REAL, mem_used_mb REAL, power_w REAL,
  processes INTEGER, process_mem_mb REAL, progress INTEGER, project TEXT, owner TEXT,
  PRIMARY KEY (node, gpu, minute)
) WITHOUT ROWID;
CREATE INDEX gpu_minutes_minute ON gpu_minutes(minute);
"""
    )


@migrations()
def m006_resource_allocation(db: Database) -> None:
    db.executescript(
        """
CREATE TABLE resource_allocation (
  resource_key TEXT PRIMARY KEY,
  resource_id TEXT NOT NULL,
  project TEXT NOT NULL DEFAULT '',
  team TEXT NOT NULL DEFAULT '',
  owner TEXT NOT NULL DEFAULT '',
  day INTEGER NOT NULL
) WITHOUT ROWID;
"""
    )


@migrations()
def m007_gpu_timers(db: Database) -> None:
    """Per-GPU timers kept as batches arrive, so the fleet view reads one row per GPU
    instead of scanning its minutes: the last busy minute (at the default 5% threshold
    for existing rows), the first minute seen, and the minute the progress counter took
    its current value."""
    db.executescript(
        """
ALTER TABLE gpu_latest ADD COLUMN busy_minute TEXT;
ALTER TABLE gpu_latest ADD COLUMN first_minute TEXT;
ALTER TABLE gpu_latest ADD COLUMN progress_minute TEXT;
UPDATE gpu_latest SET
  busy_minute = (SELECT MAX(minute) FROM gpu_minutes m
                 WHERE m.node = gpu_latest.node AND m.gpu = gpu_latest.gpu AND m.util_max >= 5),
  first_minute = COALESCE((SELECT MIN(minute) FROM gpu_minutes m
                 WHERE m.node = gpu_latest.node AND m.gpu = gpu_latest.gpu),
                 substr(window_end, 1, 16)),
  progress_minute = COALESCE((SELECT MIN(minute) FROM gpu_minutes m
                 WHERE m.node = gpu_latest.node AND m.gpu = gpu_latest.gpu
                 AND m.minute > COALESCE((SELECT MAX(minute) FROM gpu_minutes p
                     WHERE p.node = gpu_latest.node AND p.gpu = gpu_latest.gpu
                     AND p.progress IS NOT gpu_latest.progress), '')),
                 substr(window_end, 1, 16));
"""
    )


@migrations()
def m008_idle_cost_index(db: Database) -> None:
    """Idle dollars over a period read only this index (minute range, the idle filter, the
    grouping columns): about 6x faster than looking up each minute's row, for the same one
    index to keep up on writes."""
    db.executescript(
        """
DROP INDEX gpu_minutes_minute;
CREATE INDEX gpu_minutes_minute ON gpu_minutes(minute, util_max, project, owner);
"""
    )


def cube_fill_sql(dimensions: dict[str, str | None]) -> str:
    """INSERT … SELECT that writes one load's cube rows from its daily_keys (parameters:
    the load id), one UNION branch per dimension; ``dimensions`` maps a cube dimension to
    its charge_keys column (None for '*', everything)."""
    branches = []
    for dim, column in dimensions.items():
        key = f"k.{column}" if column else "'*'"
        branches.append(
            f"SELECT '{dim}', {key}, d.day, k.currency, k.charge_category, d.load_id, "
            "SUM(d.billed_cost), SUM(d.effective_cost), SUM(d.list_cost) "
            "FROM daily_keys d JOIN charge_keys k ON k.id = d.key_id WHERE d.load_id = :load "
            f"GROUP BY {key}, d.day, k.currency, k.charge_category"
        )
    return (
        "INSERT INTO cube (dim, key, day, currency, charge_category, load_id, billed_cost, "
        "effective_cost, list_cost) " + " UNION ALL ".join(branches)
    )


def pairs_fill_sql(dimensions: dict[str, str], pairs: tuple[tuple[str, str], ...]) -> str:
    """INSERT … SELECT of one load's cube_pairs rows from its daily_keys (parameter: the
    load id)."""
    branches = [
        f"SELECT '{x}', k.{dimensions[x]}, '{y}', k.{dimensions[y]}, d.day, k.currency, "
        "k.charge_category, d.load_id, SUM(d.billed_cost), SUM(d.effective_cost), "
        "SUM(d.list_cost) FROM daily_keys d JOIN charge_keys k ON k.id = d.key_id "
        f"WHERE d.load_id = :load GROUP BY k.{dimensions[x]}, k.{dimensions[y]}, d.day, "
        "k.currency, k.charge_category"
        for x, y in pairs
    ]
    return (
        "INSERT INTO cube_pairs (dim, key, by_dim, by_key, day, currency, charge_category, "
        "load_id, billed_cost, effective_cost, list_cost) " + " UNION ALL ".join(branches)
    )


_M009_KEY_COLUMNS = (*_M001_KEY_COLUMNS[:-3], "billing_period_start", "project", "team", "owner")
_M009_PAIR_SUBJECTS = ("provider", "category", "service", "region", "account", "pricing")
_M009_PAIR_BY = ("service", "provider", "region", "account", "pricing", "category")
_M009_DIMENSIONS = {
    "*": None,
    "project": "project",
    "team": "team",
    "owner": "owner",
    "service": "service_name",
    "account": "sub_account_id",
    "provider": "provider",
    "region": "region",
    "pricing": "pricing_category",
    "category": "service_category",
}


@migrations()
def m009_billing_periods_and_deliveries(db: Database) -> None:
    """BillingPeriodStart joins the dimension combinations (existing rows take the UTC month
    of their day), the cube splits by ChargeCategory and gains the service-category
    dimension, and loads remember their delivery, Azure cost type and partitions."""
    old = ", ".join(_M001_KEY_COLUMNS)
    same = " AND ".join(f"n.{c} = o.{c}" for c in _M001_KEY_COLUMNS)
    month = "date({t}.day * 86400, 'unixepoch', 'start of month')"
    db.executescript(
        f"""
ALTER TABLE charge_keys ADD COLUMN billing_period_start TEXT NOT NULL DEFAULT '';
DROP INDEX charge_keys_unique;
CREATE UNIQUE INDEX charge_keys_unique ON charge_keys({", ".join(_M009_KEY_COLUMNS)});
CREATE INDEX charge_keys_service_category ON charge_keys(service_category);
ALTER TABLE loads ADD COLUMN kind TEXT;
ALTER TABLE loads ADD COLUMN delivery TEXT;
ALTER TABLE loads ADD COLUMN cost_type TEXT;
UPDATE loads SET kind = COALESCE((SELECT kind FROM sources WHERE name = loads.source), 'file');
UPDATE loads SET delivery = 'load-' || id WHERE kind = 'file';
CREATE TABLE load_partitions (
  load_id INTEGER NOT NULL,
  cloud TEXT NOT NULL,
  billing_account_id TEXT NOT NULL,
  billing_period_start TEXT NOT NULL,
  scope TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (load_id, cloud, billing_account_id, billing_period_start, scope)
) WITHOUT ROWID;
CREATE INDEX load_partitions_key ON load_partitions(cloud, billing_account_id,
  billing_period_start);
CREATE TEMP TABLE key_months AS
  SELECT DISTINCT key_id, {month.format(t="daily_keys")} AS period FROM daily_keys;
INSERT OR IGNORE INTO charge_keys ({old}, billing_period_start)
  SELECT {", ".join("k." + c for c in _M001_KEY_COLUMNS)}, m.period
  FROM key_months m JOIN charge_keys k ON k.id = m.key_id;
CREATE TEMP TABLE key_map AS
  SELECT m.key_id AS old_id, m.period AS period, n.id AS new_id
  FROM key_months m JOIN charge_keys o ON o.id = m.key_id
  JOIN charge_keys n ON {same} AND n.billing_period_start = m.period;
CREATE UNIQUE INDEX temp.key_map_old ON key_map(old_id, period);
UPDATE charges SET key_id = (SELECT new_id FROM key_map
  WHERE old_id = charges.key_id AND period = {month.format(t="charges")})
  WHERE key_id IN (SELECT old_id FROM key_map);
UPDATE daily_keys SET key_id = (SELECT new_id FROM key_map
  WHERE old_id = daily_keys.key_id AND period = {month.format(t="daily_keys")})
  WHERE key_id IN (SELECT old_id FROM key_map);
DELETE FROM charge_keys WHERE billing_period_start = '';
DROP TABLE key_map;
DROP TABLE key_months;
DROP TABLE cube;
CREATE TABLE cube (
  dim TEXT NOT NULL,
  key TEXT NOT NULL,
  day INTEGER NOT NULL,
  currency TEXT NOT NULL,
  charge_category TEXT NOT NULL,
  load_id INTEGER NOT NULL,
  billed_cost REAL NOT NULL,
  effective_cost REAL NOT NULL,
  list_cost REAL NOT NULL,
  PRIMARY KEY (dim, key, day, currency, charge_category, load_id)
) WITHOUT ROWID;
CREATE TABLE cube_pairs (
  dim TEXT NOT NULL,
  key TEXT NOT NULL,
  by_dim TEXT NOT NULL,
  by_key TEXT NOT NULL,
  day INTEGER NOT NULL,
  currency TEXT NOT NULL,
  charge_category TEXT NOT NULL,
  load_id INTEGER NOT NULL,
  billed_cost REAL NOT NULL,
  effective_cost REAL NOT NULL,
  list_cost REAL NOT NULL,
  PRIMARY KEY (dim, key, by_dim, day, by_key, currency, charge_category, load_id)
) WITHOUT ROWID;
DROP VIEW focus_charges;
CREATE VIEW focus_charges AS
SELECT
  l.source AS source,
  date(c.day * 86400, 'unixepoch') AS ChargeDay,
  k.billing_period_start AS BillingPeriodStart,
  k.provider AS ProviderName,
  k.billing_account_id AS BillingAccountId,
  k.billing_account_name AS BillingAccountName,
  k.sub_account_id AS SubAccountId,
  k.sub_account_name AS SubAccountName,
  k.region AS RegionId,
  k.service_name AS ServiceName,
  k.service_category AS ServiceCategory,
  k.charge_category AS ChargeCategory,
  k.pricing_category AS PricingCategory,
  c.resource_id AS ResourceId,
  k.resource_type AS ResourceType,
  c.sku_id AS SkuId,
  k.currency AS BillingCurrency,
  c.billed_cost AS BilledCost,
  c.effective_cost AS EffectiveCost,
  c.list_cost AS ListCost,
  c.consumed_quantity AS ConsumedQuantity,
  k.consumed_unit AS ConsumedUnit,
  c.pricing_quantity AS PricingQuantity,
  k.pricing_unit AS PricingUnit,
  k.project AS project,
  k.team AS team,
  k.owner AS owner,
  t.tags AS Tags
FROM charges c
JOIN charge_keys k ON k.id = c.key_id
JOIN loads l ON c.id BETWEEN l.first_rowid AND l.last_rowid
LEFT JOIN tag_sets t ON t.id = c.tags_id;
"""
    )
    fill = cube_fill_sql(_M009_DIMENSIONS)
    pairs = tuple((x, y) for x in _M009_PAIR_SUBJECTS for y in _M009_PAIR_BY if x != y)
    pairs += (("team", "service"),)
    fill_pairs = pairs_fill_sql(_M009_DIMENSIONS, pairs)
    loads = [row[0] for row in db.execute("SELECT id FROM loads ORDER BY id").fetchall()]
    for load_id in loads:
        db.execute(fill, {"load": load_id})
        db.execute(fill_pairs, {"load": load_id})
    partitions = db.execute(
        "SELECT DISTINCT d.load_id, k.provider, k.billing_account_id, k.billing_period_start "
        "FROM daily_keys d JOIN charge_keys k ON k.id = d.key_id "
        "WHERE d.load_id IN (SELECT id FROM loads WHERE kind = 'file')"
    ).fetchall()
    db.conn.executemany(
        "INSERT OR IGNORE INTO load_partitions VALUES (?, ?, ?, ?, '')",
        [(load, cloud_of(p), account, period) for load, p, account, period in partitions],
    )
    db.execute("DELETE FROM names")
    db.execute("INSERT INTO names (dim, key) SELECT DISTINCT dim, key FROM cube WHERE dim != '*'")
    db.execute(
        "UPDATE names SET label = COALESCE((SELECT sub_account_name FROM charge_keys "
        "WHERE sub_account_id = names.key AND sub_account_name != '' LIMIT 1), '') "
        "WHERE dim = 'account'"
    )


# heartbeat times outside these bounds are not readings (year 1 or 9999, a garbled clock)
PLAUSIBLE_FROM, PLAUSIBLE_TO = "2000-01-01", "2100-01-01"


@migrations()
def m010_heartbeat_quarantine_and_node_binding(db: Database) -> None:
    """Heartbeat rows stored out of any plausible time range (before the server checked the
    node's clock) move to heartbeat_quarantine; nodes are bound to the agent token that first
    reported them, and a token may be allowed to claim nodes of others."""
    bad = f"NOT ({{c}} >= '{PLAUSIBLE_FROM}' AND {{c}} < '{PLAUSIBLE_TO}')"
    minutes, latest = bad.format(c="minute"), bad.format(c="window_end")
    db.executescript(
        f"""
CREATE TABLE heartbeat_quarantine (
  source TEXT NOT NULL,
  node TEXT NOT NULL,
  gpu TEXT NOT NULL,
  at TEXT,
  row TEXT NOT NULL
);
INSERT INTO heartbeat_quarantine
  SELECT 'gpu_minutes', node, gpu, minute, json_object('util_max', util_max, 'progress',
    progress, 'project', project, 'owner', owner) FROM gpu_minutes WHERE {minutes};
DELETE FROM gpu_minutes WHERE {minutes};
INSERT INTO heartbeat_quarantine
  SELECT 'gpu_latest', node, gpu, window_end, json_object('hostname', hostname,
    'instance_id', instance_id, 'received_at', received_at) FROM gpu_latest WHERE {latest};
DELETE FROM gpu_latest WHERE {latest};
ALTER TABLE agent_tokens ADD COLUMN can_claim INTEGER NOT NULL DEFAULT 0;
CREATE TABLE node_tokens (
  node TEXT PRIMARY KEY,
  token_id INTEGER NOT NULL,
  bound_at TEXT NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO node_tokens
  SELECT node, MIN(token_id), MIN(received_at) FROM heartbeat_batches GROUP BY node;
"""
    )


@migrations()
def m011_appended_deliveries(db: Database) -> None:
    """Loads remember a file imported with --append (adding to what a sync source brought):
    a later sync of the same provider's days does not count it as a double."""
    db.execute("ALTER TABLE loads ADD COLUMN append INTEGER NOT NULL DEFAULT 0")


_M012_KEY_COLUMNS = (
    *_M009_KEY_COLUMNS[:-3],
    "instance_type",
    "gpu_model",
    "billing_period_start",
    "project",
    "team",
    "owner",
    "dims",
)


@migrations()
def m012_gpu_charges_and_tag_dimensions(db: Database) -> None:
    """GPU charges and configured tag dimensions. Dimension combinations gain the instance
    type, the GPU model and the configured dimensions' values (canonical JSON, looked up
    through key_dims); the rollups gain GPU-hours, and the facts that have some keep them
    in charge_gpu, by fact id (a column of the fact table would slow every insert, GPU rows
    or not, by a tenth). charge_blocks keeps each load's fact id ranges with their day span
    (zone maps), so reads over the facts (tags nobody configured) skip the blocks outside a
    period. Existing charges keep '' and no GPU-hours until their files are imported again;
    their loads get one block each."""
    db.executescript(
        f"""
ALTER TABLE charge_keys ADD COLUMN instance_type TEXT NOT NULL DEFAULT '';
ALTER TABLE charge_keys ADD COLUMN gpu_model TEXT NOT NULL DEFAULT '';
ALTER TABLE charge_keys ADD COLUMN dims TEXT NOT NULL DEFAULT '';
DROP INDEX charge_keys_unique;
CREATE UNIQUE INDEX charge_keys_unique ON charge_keys({", ".join(_M012_KEY_COLUMNS)});
CREATE INDEX charge_keys_gpu_model ON charge_keys(gpu_model);
CREATE INDEX charge_keys_instance_type ON charge_keys(instance_type);
CREATE TABLE key_dims (
  dim TEXT NOT NULL,
  value TEXT NOT NULL,
  key_id INTEGER NOT NULL,
  PRIMARY KEY (dim, value, key_id)
) WITHOUT ROWID;
CREATE TABLE charge_gpu (
  id INTEGER PRIMARY KEY,
  gpu_hours REAL NOT NULL
);
ALTER TABLE daily_keys ADD COLUMN gpu_hours REAL NOT NULL DEFAULT 0;
ALTER TABLE cube ADD COLUMN gpu_hours REAL NOT NULL DEFAULT 0;
ALTER TABLE cube_pairs ADD COLUMN gpu_hours REAL NOT NULL DEFAULT 0;
CREATE TABLE charge_blocks (
  load_id INTEGER NOT NULL,
  first_id INTEGER NOT NULL,
  last_id INTEGER NOT NULL,
  first_day INTEGER NOT NULL,
  last_day INTEGER NOT NULL,
  PRIMARY KEY (load_id, first_id)
) WITHOUT ROWID;
INSERT INTO charge_blocks
  SELECT id, first_rowid, last_rowid,
    CAST(julianday(first_day) - 2440587.5 AS INTEGER),
    CAST(julianday(last_day) - 2440587.5 AS INTEGER)
  FROM loads WHERE first_rowid IS NOT NULL AND first_day IS NOT NULL;
DROP VIEW focus_charges;
CREATE VIEW focus_charges AS
SELECT
  l.source AS source,
  date(c.day * 86400, 'unixepoch') AS ChargeDay,
  k.billing_period_start AS BillingPeriodStart,
  k.provider AS ProviderName,
  k.billing_account_id AS BillingAccountId,
  k.billing_account_name AS BillingAccountName,
  k.sub_account_id AS SubAccountId,
  k.sub_account_name AS SubAccountName,
  k.region AS RegionId,
  k.service_name AS ServiceName,
  k.service_category AS ServiceCategory,
  k.charge_category AS ChargeCategory,
  k.pricing_category AS PricingCategory,
  c.resource_id AS ResourceId,
  k.resource_type AS ResourceType,
  c.sku_id AS SkuId,
  k.currency AS BillingCurrency,
  c.billed_cost AS BilledCost,
  c.effective_cost AS EffectiveCost,
  c.list_cost AS ListCost,
  c.consumed_quantity AS ConsumedQuantity,
  k.consumed_unit AS ConsumedUnit,
  c.pricing_quantity AS PricingQuantity,
  k.pricing_unit AS PricingUnit,
  k.project AS project,
  k.team AS team,
  k.owner AS owner,
  t.tags AS Tags,
  k.instance_type AS x_InstanceType,
  k.gpu_model AS x_GpuModel,
  g.gpu_hours AS x_GpuHours,
  k.dims AS x_Dimensions
FROM charges c
JOIN charge_keys k ON k.id = c.key_id
JOIN loads l ON c.id BETWEEN l.first_rowid AND l.last_rowid
LEFT JOIN tag_sets t ON t.id = c.tags_id
LEFT JOIN charge_gpu g ON g.id = c.id;
"""
    )


@migrations()
def m013_anomalies(db: Database) -> None:
    """Cost anomalies: one row per episode (id: measure, subject, currency and start, so a
    re-evaluation updates it, never duplicates it): expected, actual and impact through the
    day it was detected, the same to date (through last_day), its ranked root causes, and
    the append-only history of its statuses: who changed it and when."""
    db.executescript(
        """
CREATE TABLE anomalies (
  id TEXT PRIMARY KEY,
  measure TEXT NOT NULL,
  dim TEXT NOT NULL,
  key TEXT NOT NULL,
  currency TEXT NOT NULL,
  kind TEXT NOT NULL,
  start TEXT NOT NULL,
  detected_on TEXT NOT NULL,
  last_day TEXT NOT NULL,
  expected REAL NOT NULL,
  actual REAL NOT NULL,
  impact REAL NOT NULL,
  expected_to_date REAL NOT NULL,
  actual_to_date REAL NOT NULL,
  status TEXT NOT NULL,
  part_of TEXT,
  root_cause TEXT NOT NULL DEFAULT '[]',
  gpu_activity TEXT,
  updated_at TEXT NOT NULL
);
CREATE INDEX anomalies_subject ON anomalies(dim, key, start);
CREATE INDEX anomalies_status ON anomalies(status, detected_on);
CREATE TABLE anomaly_status (
  anomaly_id TEXT NOT NULL,
  at TEXT NOT NULL,
  status TEXT NOT NULL,
  by TEXT NOT NULL,
  note TEXT
);
CREATE INDEX anomaly_status_id ON anomaly_status(anomaly_id);
CREATE TRIGGER anomaly_status_append_only BEFORE UPDATE ON anomaly_status
BEGIN SELECT RAISE(ABORT, 'anomaly_status is append-only'); END;
CREATE TRIGGER anomaly_status_no_delete BEFORE DELETE ON anomaly_status
BEGIN SELECT RAISE(ABORT, 'anomaly_status is append-only'); END;
"""
    )


@migrations()
def m014_digest_ledger(db: Database) -> None:
    """The digest ledger: one row per (digest, target, local date) claimed in a transaction
    before the post, so two processes never both post it; the message ts once posted; a
    forced repost is a row of its own (attempt > 1)."""
    db.executescript(
        """
CREATE TABLE digest_posts (
  digest TEXT NOT NULL,
  target TEXT NOT NULL,
  local_date TEXT NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 1,
  claimed_at TEXT NOT NULL,
  posted_at TEXT,
  ts TEXT,
  error TEXT,
  forced INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (digest, target, local_date, attempt)
);
"""
    )


@migrations()
def m015_digest_mutes(db: Database) -> None:
    """Owners who muted their digest DMs (`/finops mute digests 7d`), until when."""
    db.executescript(
        """
CREATE TABLE digest_mutes (
  user_id TEXT PRIMARY KEY,
  until TEXT NOT NULL,
  set_at TEXT NOT NULL
) WITHOUT ROWID;
"""
    )


@migrations()
def m016_remediation(db: Database) -> None:
    """Remediation: proposals (one open per resource and action: a partial unique index, so
    two sweeps in two processes propose once; states move only by conditional updates),
    the append-only audit of every transition and click, and the cloud account a node
    reports (the heartbeat's node.account: AWS account, GCP project, Azure subscription)."""
    db.executescript(
        """
ALTER TABLE gpu_latest ADD COLUMN account TEXT;
CREATE TABLE proposals (
  id TEXT PRIMARY KEY,
  cloud TEXT NOT NULL,
  account TEXT NOT NULL,
  region TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  instance_type TEXT,
  spot INTEGER,
  node TEXT NOT NULL,
  action TEXT NOT NULL,
  state TEXT NOT NULL,
  owner TEXT,
  project TEXT,
  evidence TEXT NOT NULL DEFAULT '{}',
  saving_per_hour REAL,
  keeps_billing_per_hour REAL,
  currency TEXT NOT NULL DEFAULT 'USD',
  fingerprint TEXT,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  nonce TEXT NOT NULL,
  decided_by TEXT,
  decided_at TEXT,
  snoozed_until TEXT,
  result TEXT NOT NULL DEFAULT '{}',
  card_channel TEXT,
  card_ts TEXT
);
CREATE UNIQUE INDEX proposals_open ON proposals(cloud, account, resource_id, action)
  WHERE state IN ('proposed', 'approved', 'executing', 'planned');
CREATE INDEX proposals_state ON proposals(state, expires_at);
CREATE INDEX proposals_resource ON proposals(resource_id);
CREATE TABLE remediation_audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  proposal_id TEXT,
  resource TEXT,
  actor_user_id TEXT,
  actor_email TEXT,
  event TEXT NOT NULL,
  action TEXT,
  mode TEXT,
  before TEXT,
  after TEXT,
  cloud_request_id TEXT,
  error TEXT
);
CREATE INDEX remediation_audit_proposal ON remediation_audit(proposal_id);
CREATE INDEX remediation_audit_at ON remediation_audit(at);
CREATE TRIGGER remediation_audit_append_only BEFORE UPDATE ON remediation_audit
BEGIN SELECT RAISE(ABORT, 'remediation_audit is append-only'); END;
CREATE TRIGGER remediation_audit_no_delete BEFORE DELETE ON remediation_audit
BEGIN SELECT RAISE(ABORT, 'remediation_audit is append-only'); END;
"""
    )


@migrations()
def m017_checkpoints(db: Database) -> None:
    """Whether a node's job says it writes checkpoints (the heartbeat's labels.checkpoints):
    evidence that its work survives a Spot interruption."""
    db.executescript("ALTER TABLE gpu_latest ADD COLUMN checkpoints INTEGER;")


@migrations()
def m018_budget_crossings(db: Database) -> None:
    """The budget ladder: one row per (budget, period, threshold) the spend (or the
    forecast: threshold "forecast") crossed, inserted once (so a restart or a second
    process never records it again); a restatement that un-crosses it is kept on the row
    for the next daily digest to note, and a later re-crossing does not post again."""
    db.executescript(
        """
CREATE TABLE budget_crossings (
  budget TEXT NOT NULL,
  period_start TEXT NOT NULL,
  threshold TEXT NOT NULL,
  crossed_at TEXT NOT NULL,
  data_through TEXT,
  spent REAL,
  amount REAL NOT NULL,
  currency TEXT NOT NULL,
  uncrossed_at TEXT,
  uncrossed_spent REAL,
  noted_at TEXT,
  PRIMARY KEY (budget, period_start, threshold)
) WITHOUT ROWID;
"""
    )


@migrations()
def m019_gpu_node_days(db: Database) -> None:
    """What the live GPU estimate reads: per node, UTC day and the minutes' project and
    owner ('' when unlabelled), the minutes its counting GPU reported (the node's GPU seen
    last, lowest index) and the node's GPUs (its gpu_latest rows): GPU-minutes = minutes ×
    gpus. store_batches recomputes a node-day's rows from gpu_minutes at each write, prune
    drops the days that lose their minutes; filled here from the minutes already held."""
    db.executescript(
        f"""
CREATE TABLE gpu_node_days (
  node TEXT NOT NULL,
  day TEXT NOT NULL,
  project TEXT NOT NULL DEFAULT '',
  owner TEXT NOT NULL DEFAULT '',
  gpus INTEGER,
  minutes INTEGER NOT NULL,
  PRIMARY KEY (node, day, project, owner)
) WITHOUT ROWID;
INSERT INTO gpu_node_days (node, day, project, owner, gpus, minutes)
SELECT m.node, substr(m.minute, 1, 10), COALESCE(m.project, ''), COALESCE(m.owner, ''),
  c.gpus, COUNT(*)
FROM (
  SELECT n.node,
    (SELECT x.gpu FROM gpu_latest x WHERE x.node = n.node
     ORDER BY x.window_end DESC, x.gpu_index, x.gpu LIMIT 1) AS gpu,
    (SELECT COUNT(*) FROM gpu_latest x WHERE x.node = n.node) AS gpus
  FROM (SELECT DISTINCT node FROM gpu_latest) n
) c
JOIN gpu_minutes m ON m.node = c.node AND m.gpu = c.gpu
WHERE m.minute >= '{PLAUSIBLE_FROM}' AND m.minute < '{PLAUSIBLE_TO}'
GROUP BY m.node, 2, 3, 4;
"""
    )


@migrations()
def m020_charge_extras(db: Database) -> None:
    """The optional FOCUS columns beside the facts (commitments, invoices, unit prices…), in
    a side table by fact id: a file without them writes nothing here and pays nothing. A row
    exists only for a charge with at least one of them; it goes with its charge. At the
    cache's daily grain the text columns are part of the roll-up key (Used and Unused of one
    commitment stay apart), quantities and costs are summed, unit prices kept where equal.
    charge_period_end is stored only where the charge ends elsewhere than at the end of its
    UTC day (a monthly fee, a commitment's term, a partial day); the view shows the day's end
    otherwise. The commitment index leaves out the charges without one (most). load_columns:
    which of these columns each load's file carried (a value on at least one stored charge;
    ChargePeriodEnd: one not at its day's end). Charges imported before have none until
    their files are imported again."""
    db.executescript(
        """
CREATE TABLE charge_extras (
  charge_id INTEGER PRIMARY KEY, /* = charges.id */
  commitment_discount_id TEXT,
  commitment_discount_name TEXT,
  commitment_discount_category TEXT, /* Spend | Usage */
  commitment_discount_type TEXT,
  commitment_discount_status TEXT, /* Used | Unused */
  commitment_discount_quantity REAL,
  commitment_discount_unit TEXT,
  charge_class TEXT, /* Correction */
  charge_period_end TEXT, /* ISO datetime UTC, e.g. 2026-11-02T00:00:00Z */
  invoice_id TEXT,
  invoice_issuer_name TEXT,
  publisher_name TEXT,
  service_subcategory TEXT,
  availability_zone TEXT,
  contracted_cost REAL,
  contracted_unit_price REAL,
  list_unit_price REAL,
  pricing_currency TEXT,
  pricing_currency_effective_cost REAL,
  pricing_currency_list_unit_price REAL,
  pricing_currency_contracted_unit_price REAL,
  capacity_reservation_id TEXT,
  capacity_reservation_status TEXT /* Used | Unused */
);
CREATE INDEX charge_extras_commitment ON charge_extras(commitment_discount_id)
  WHERE commitment_discount_id IS NOT NULL;
CREATE TABLE load_columns (
  load_id INTEGER NOT NULL,
  column TEXT NOT NULL, /* FOCUS column name */
  PRIMARY KEY (load_id, column)
) WITHOUT ROWID;
DROP VIEW focus_charges;
CREATE VIEW focus_charges AS
SELECT
  l.source AS source,
  date(c.day * 86400, 'unixepoch') AS ChargeDay,
  k.billing_period_start AS BillingPeriodStart,
  k.provider AS ProviderName,
  k.billing_account_id AS BillingAccountId,
  k.billing_account_name AS BillingAccountName,
  k.sub_account_id AS SubAccountId,
  k.sub_account_name AS SubAccountName,
  k.region AS RegionId,
  k.service_name AS ServiceName,
  k.service_category AS ServiceCategory,
  k.charge_category AS ChargeCategory,
  k.pricing_category AS PricingCategory,
  c.resource_id AS ResourceId,
  k.resource_type AS ResourceType,
  c.sku_id AS SkuId,
  k.currency AS BillingCurrency,
  c.billed_cost AS BilledCost,
  c.effective_cost AS EffectiveCost,
  c.list_cost AS ListCost,
  c.consumed_quantity AS ConsumedQuantity,
  k.consumed_unit AS ConsumedUnit,
  c.pricing_quantity AS PricingQuantity,
  k.pricing_unit AS PricingUnit,
  k.project AS project,
  k.team AS team,
  k.owner AS owner,
  t.tags AS Tags,
  k.instance_type AS x_InstanceType,
  k.gpu_model AS x_GpuModel,
  g.gpu_hours AS x_GpuHours,
  k.dims AS x_Dimensions,
  COALESCE(x.charge_period_end,
    strftime('%Y-%m-%dT%H:%M:%SZ', (c.day + 1) * 86400, 'unixepoch')) AS ChargePeriodEnd,
  x.commitment_discount_id AS CommitmentDiscountId,
  x.commitment_discount_name AS CommitmentDiscountName,
  x.commitment_discount_category AS CommitmentDiscountCategory,
  x.commitment_discount_type AS CommitmentDiscountType,
  x.commitment_discount_status AS CommitmentDiscountStatus,
  x.commitment_discount_quantity AS CommitmentDiscountQuantity,
  x.commitment_discount_unit AS CommitmentDiscountUnit,
  x.charge_class AS ChargeClass,
  x.invoice_id AS InvoiceId,
  x.invoice_issuer_name AS InvoiceIssuerName,
  x.publisher_name AS PublisherName,
  x.service_subcategory AS ServiceSubcategory,
  x.availability_zone AS AvailabilityZone,
  x.contracted_cost AS ContractedCost,
  x.contracted_unit_price AS ContractedUnitPrice,
  x.list_unit_price AS ListUnitPrice,
  x.pricing_currency AS PricingCurrency,
  x.pricing_currency_effective_cost AS PricingCurrencyEffectiveCost,
  x.pricing_currency_list_unit_price AS PricingCurrencyListUnitPrice,
  x.pricing_currency_contracted_unit_price AS PricingCurrencyContractedUnitPrice,
  x.capacity_reservation_id AS CapacityReservationId,
  x.capacity_reservation_status AS CapacityReservationStatus
FROM charges c
JOIN charge_keys k ON k.id = c.key_id
JOIN loads l ON c.id BETWEEN l.first_rowid AND l.last_rowid
LEFT JOIN tag_sets t ON t.id = c.tags_id
LEFT JOIN charge_gpu g ON g.id = c.id
LEFT JOIN charge_extras x ON x.charge_id = c.id;
"""
    )


@migrations()
def m021_commitments(db: Database) -> None:
    """FOCUS 1.3 Contract Commitment rows, per source (an import replaces its source's
    rows as a whole): periods as ISO dates, the end exclusive as in the spec."""
    db.executescript(
        """
CREATE TABLE commitments (
  id TEXT NOT NULL, /* ContractCommitmentId */
  source TEXT NOT NULL,
  contract_id TEXT,
  type TEXT,
  category TEXT, /* Spend | Usage */
  description TEXT,
  period_start TEXT NOT NULL, /* ISO date, inclusive */
  period_end TEXT NOT NULL, /* ISO date, exclusive */
  cost REAL,
  currency TEXT,
  quantity REAL,
  unit TEXT,
  contract_period_start TEXT,
  contract_period_end TEXT,
  loaded_at TEXT NOT NULL,
  PRIMARY KEY (source, id, period_start)
) WITHOUT ROWID;
CREATE INDEX commitments_period_end ON commitments(period_end);
"""
    )


@migrations()
def m022_detail_days(db: Database) -> None:
    """What the FOCUS use-case library reads (store.detail_reads). daily_keys gains the
    quantities (ConsumedQuantity, PricingQuantity). detail_days holds, per day, load and
    dimension combination, the charges that carry a reporting column of charge_extras
    (ChargeClass, invoice, issuer, publisher, subcategory, zone, pricing currency, capacity
    reservation, commitment category and status; '' where none) or a pricing-currency or
    contracted cost: their measures, quantities and those costs. A file without the
    columns writes none (the reads take everything else from daily_keys). Written by the
    loader from its batches, rebuilt with daily_keys; filled here from the facts held."""
    texts = ", ".join(f"x.{c}" for c in _M022_TEXTS)
    db.executescript(
        f"""
ALTER TABLE daily_keys ADD COLUMN consumed_quantity REAL NOT NULL DEFAULT 0;
ALTER TABLE daily_keys ADD COLUMN pricing_quantity REAL NOT NULL DEFAULT 0;
CREATE TEMP TABLE m022_quantities AS
SELECT l.id AS load_id, c.key_id, c.day, COALESCE(SUM(c.consumed_quantity), 0) AS cq,
  COALESCE(SUM(c.pricing_quantity), 0) AS pq
FROM loads l JOIN charges c ON c.id BETWEEN l.first_rowid AND l.last_rowid
GROUP BY 1, 2, 3;
UPDATE daily_keys SET consumed_quantity = q.cq, pricing_quantity = q.pq
FROM m022_quantities q
WHERE q.load_id = daily_keys.load_id AND q.key_id = daily_keys.key_id AND q.day = daily_keys.day;
DROP TABLE m022_quantities;
CREATE TABLE detail_days (
  day INTEGER NOT NULL,
  load_id INTEGER NOT NULL,
  key_id INTEGER NOT NULL,
  {", ".join(f"{c} TEXT NOT NULL DEFAULT ''" for c in _M022_TEXTS)},
  billed_cost REAL NOT NULL,
  effective_cost REAL NOT NULL,
  list_cost REAL,
  contracted_cost REAL,
  consumed_quantity REAL,
  pricing_quantity REAL,
  pc_effective_cost REAL,
  pc_list_cost REAL,
  pc_contracted_cost REAL
);
CREATE INDEX detail_days_day ON detail_days(day);
CREATE INDEX detail_days_load ON detail_days(load_id, key_id);
INSERT INTO detail_days
SELECT c.day, l.id, c.key_id, {", ".join(f"COALESCE(x.{c}, '')" for c in _M022_TEXTS)},
  SUM(c.billed_cost), SUM(c.effective_cost), SUM(c.list_cost), SUM(x.contracted_cost),
  SUM(c.consumed_quantity), SUM(c.pricing_quantity), SUM(x.pricing_currency_effective_cost),
  SUM(x.pricing_currency_list_unit_price * c.pricing_quantity),
  SUM(x.pricing_currency_contracted_unit_price * c.pricing_quantity)
FROM loads l
JOIN charges c ON c.id BETWEEN l.first_rowid AND l.last_rowid
JOIN charge_extras x ON x.charge_id = c.id
WHERE COALESCE({texts}) IS NOT NULL OR COALESCE(x.contracted_cost,
  x.pricing_currency_effective_cost, x.pricing_currency_list_unit_price,
  x.pricing_currency_contracted_unit_price) IS NOT NULL
GROUP BY 1, 2, 3, {", ".join(str(i + 4) for i in range(len(_M022_TEXTS)))};
"""
    )


# the charge_extras text columns detail_days groups by, as m022 wrote them (frozen)
_M022_TEXTS = (
    "charge_class",
    "invoice_id",
    "invoice_issuer_name",
    "publisher_name",
    "service_subcategory",
    "availability_zone",
    "pricing_currency",
    "capacity_reservation_id",
    "capacity_reservation_status",
    "commitment_discount_category",
    "commitment_discount_status",
)


@migrations()
def m023_instance_hours(db: Database) -> None:
    """Hourly instance usage, what portfolio advice reads (P10 of hourly-equivalent
    instance counts): per UTC hour (hours since the epoch), load and dimension combination
    with an instance type, the usage hours of charges an hour long or shorter. Written by
    the loader from the rows before they are rolled up to days; daily files write none."""
    db.executescript(
        """
CREATE TABLE instance_hours (
  hour INTEGER NOT NULL,
  load_id INTEGER NOT NULL,
  key_id INTEGER NOT NULL,
  usage_hours REAL NOT NULL,
  cost REAL NOT NULL,
  PRIMARY KEY (hour, load_id, key_id)
) WITHOUT ROWID;
CREATE INDEX instance_hours_load ON instance_hours(load_id, key_id);
"""
    )


@migrations()
def m024_minute_jobs(db: Database) -> None:
    """The job label (labels.job) on each heartbeat minute, so a job's steps and
    GPU-minutes can be read for any past day the minutes are kept (not only its latest)."""
    db.executescript("ALTER TABLE gpu_minutes ADD COLUMN job TEXT;")


@migrations()
def m025_resource_months(db: Database) -> None:
    """Per calendar month (the day number of its first day), load, dimension combination,
    resource and SKU: the measures, the quantities and the month's latest charge day, so
    the library's resource and SKU answers for whole months read a few hundred thousand
    rows, not the facts. Written by the loader, rebuilt with daily_keys; filled here."""
    db.executescript(
        f"""
CREATE TABLE resource_months (
  month INTEGER NOT NULL,
  load_id INTEGER NOT NULL,
  key_id INTEGER NOT NULL,
  resource_id TEXT NOT NULL DEFAULT '',
  sku_id TEXT NOT NULL DEFAULT '',
  last_day INTEGER NOT NULL,
  billed_cost REAL NOT NULL,
  effective_cost REAL NOT NULL,
  list_cost REAL,
  consumed_quantity REAL,
  pricing_quantity REAL,
  PRIMARY KEY (month, load_id, key_id, resource_id, sku_id)
) WITHOUT ROWID;
CREATE INDEX resource_months_load ON resource_months(load_id, key_id);
INSERT INTO resource_months
SELECT {_M025_MONTH}, l.id, c.key_id, COALESCE(c.resource_id, ''), COALESCE(c.sku_id, ''),
  MAX(c.day), SUM(c.billed_cost), SUM(c.effective_cost), SUM(c.list_cost),
  SUM(c.consumed_quantity), SUM(c.pricing_quantity)
FROM loads l JOIN charges c ON c.id BETWEEN l.first_rowid AND l.last_rowid
GROUP BY 1, 2, 3, 4, 5;
"""
    )


# a charge day number → the day number of its month's first day (frozen, as m025 wrote it)
_M025_MONTH = (
    "CAST(julianday(date(c.day * 86400, 'unixepoch', 'start of month')) - 2440587.5 AS INTEGER)"
)


@migrations()
def m026_detail_months(db: Database) -> None:
    """Per calendar month (its first day's number), load, dimension combination and the
    reporting columns of charge_extras ('' where none): the measures of every charge, with
    or without those columns, so the library's questions of whole months (last month, a
    year, billing periods) read one small table instead of detail_days and daily_keys.
    Written by the loader, rebuilt with detail_days; filled here."""
    texts = ", ".join(f"{c} TEXT NOT NULL DEFAULT ''" for c in _M022_TEXTS)
    picked = ", ".join(f"COALESCE(x.{c}, '')" for c in _M022_TEXTS)
    groups = ", ".join(str(i + 4) for i in range(len(_M022_TEXTS)))
    db.executescript(
        f"""
CREATE TABLE detail_months (
  month INTEGER NOT NULL,
  load_id INTEGER NOT NULL,
  key_id INTEGER NOT NULL,
  {texts},
  billed_cost REAL NOT NULL,
  effective_cost REAL NOT NULL,
  list_cost REAL,
  contracted_cost REAL,
  consumed_quantity REAL,
  pricing_quantity REAL,
  pc_effective_cost REAL,
  pc_list_cost REAL,
  pc_contracted_cost REAL
);
CREATE INDEX detail_months_month ON detail_months(month);
CREATE INDEX detail_months_load ON detail_months(load_id, key_id);
INSERT INTO detail_months
SELECT {_M025_MONTH}, l.id, c.key_id, {picked}, SUM(c.billed_cost), SUM(c.effective_cost),
  SUM(c.list_cost), SUM(x.contracted_cost), SUM(c.consumed_quantity), SUM(c.pricing_quantity),
  SUM(x.pricing_currency_effective_cost),
  SUM(x.pricing_currency_list_unit_price * c.pricing_quantity),
  SUM(x.pricing_currency_contracted_unit_price * c.pricing_quantity)
FROM loads l JOIN charges c ON c.id BETWEEN l.first_rowid AND l.last_rowid
LEFT JOIN charge_extras x ON x.charge_id = c.id
GROUP BY 1, 2, 3, {groups};
"""
    )
