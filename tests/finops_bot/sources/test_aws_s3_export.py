"""AWS exports in S3 (moto buckets holding the real FOCUS and CUR fixture files): manifest
discovery for Data Exports and the legacy CUR, ETag skip, restated files replaced."""

from __future__ import annotations

import gzip
import json
from datetime import date

import boto3
import pyarrow.parquet as pq
import pytest

from finops_bot.sources.aws_s3_export import AwsS3Export
from finops_bot.sources.sync import sync_source
from tests.conftest import NOW
from tests.finops_bot.sources.test_aws_ce import aws  # noqa: F401

BUCKET = "acme-billing-exports"


def s3():
    return boto3.client("s3", region_name="us-east-1")


def source(prefix: str) -> AwsS3Export:
    return AwsS3Export("aws-export", lambda: boto3.Session(region_name="us-east-1"), BUCKET, prefix)


@pytest.fixture
def focus_export(aws, shared_fixtures):  # noqa: F811
    client = s3()
    client.create_bucket(Bucket=BUCKET)
    sample = (shared_fixtures / "focus/focus_1.0_sample_1000.csv").read_bytes()
    data_key = "exports/focus-export/data/BILLING_PERIOD=2024-09/focus-export-00001.csv.gz"
    client.put_object(Bucket=BUCKET, Key=data_key, Body=gzip.compress(sample))
    client.put_object(
        Bucket=BUCKET,
        Key="exports/focus-export/metadata/BILLING_PERIOD=2024-09/focus-export-Manifest.json",
        Body=json.dumps({"dataFiles": [f"s3://{BUCKET}/{data_key}"]}).encode(),
    )
    return data_key, sample


def test_focus_data_export_syncs_skips_unchanged_and_replaces_restated(db, rules, focus_export):
    data_key, sample = focus_export
    today = date(2024, 10, 3)  # September has just closed
    result = sync_source(db, source("exports"), today=today, now=NOW, rules=rules)
    assert result.ok, result.error
    assert [str(w.start) for w in result.windows] == ["2024-09-01"]
    assert result.notes == ["2024-10: no export files yet"]
    total = db.execute("SELECT SUM(billed_cost) FROM charges").fetchone()[0]
    assert total == pytest.approx(20.520226729, abs=1e-6)
    assert result.api_calls >= 3  # list, manifest, download

    again = sync_source(db, source("exports"), today=today, now=NOW, rules=rules)
    assert [str(w.start) for w in again.unchanged] == ["2024-09-01"] and again.rows == 0
    assert db.execute("SELECT SUM(billed_cost) FROM charges").fetchone()[0] == pytest.approx(total)

    # the provider rewrote September with fewer rows: a new ETag, the month is replaced
    lines = sample.decode().splitlines()
    s3().put_object(
        Bucket=BUCKET, Key=data_key, Body=gzip.compress(("\n".join(lines[:101]) + "\n").encode())
    )
    third = sync_source(db, source("exports"), today=today, now=NOW, rules=rules)
    assert third.rows == 100 and not third.unchanged
    assert db.execute("SELECT COUNT(*) FROM charges").fetchone()[0] == 100


def test_legacy_cur_manifest_with_report_keys(aws, db, rules, shared_fixtures):  # noqa: F811
    client = s3()
    client.create_bucket(Bucket=BUCKET)
    parquet = shared_fixtures / "aws/cur/wa_labs_WorkshopCUR_2018-10.snappy.parquet"
    key = "cur/workshop/20181001-20181101/8f2c/workshop-00001.snappy.parquet"
    client.put_object(Bucket=BUCKET, Key=key, Body=parquet.read_bytes())
    client.put_object(
        Bucket=BUCKET,
        Key="cur/workshop/20181001-20181101/workshop-Manifest.json",
        Body=json.dumps({"reportKeys": [key]}).encode(),
    )
    result = sync_source(db, source("cur"), today=date(2018, 11, 2), now=NOW, rules=rules)
    assert result.ok, result.error
    expected = sum(
        v
        for v in pq.read_table(parquet, columns=["line_item_unblended_cost"]).column(0).to_pylist()
        if v is not None
    )
    assert db.execute("SELECT SUM(billed_cost) FROM charges").fetchone()[0] == pytest.approx(
        expected, rel=1e-9
    )


def test_missing_bucket_is_a_sentence(aws, db, rules):  # noqa: F811
    result = sync_source(db, source("x"), today=date(2024, 10, 3), now=NOW, rules=rules)
    assert not result.ok and "bucket acme-billing-exports does not exist" in result.error
