"""AWS billing exports in S3: CUR 2.0 / FOCUS 1.0 Data Exports, or the legacy CUR.

Each billing month's files come from the export's manifest ("dataFiles" for Data Exports,
"reportKeys" for the legacy CUR); without one, from the data files under the month's
prefix. Files stream through the same importer as `python -m bot import` (Parquet, CSV,
CSV.gz; FOCUS or CUR columns). A month whose files' ETags have not changed since the last
sync is skipped. Needs s3:ListBucket on the bucket and s3:GetObject on the prefix.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from finops_bot import adaptors
from finops_bot.ingest.files import open_billing_file
from finops_bot.ingest.importer import file_columns
from finops_bot.sources.base import SourceConfig, SourceError, SyncWindow

log = logging.getLogger("finops_bot.sources.s3")
DATA_SUFFIXES = (".parquet", ".csv.gz", ".csv", ".gz")


def month_markers(month: date) -> tuple[str, ...]:
    """How exports name a billing month in their keys."""
    nxt = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (f"BILLING_PERIOD={month:%Y-%m}", f"{month:%Y%m%d}-{nxt:%Y%m%d}")


class AwsS3Export:
    kind = "aws_s3_export"
    # AWS IAM actions: ListObjectsV2 (s3:ListBucket); GetObject and download_fileobj's
    # HeadObject (s3:GetObject)
    permissions: tuple[str, ...] = ("s3:ListBucket", "s3:GetObject")
    window_granularity = "month"  # sync hands whole billing months

    def __init__(
        self,
        name: str,
        session_factory: Callable[[], Any],
        bucket: str,
        prefix: str = "",
        currency: str | None = None,
    ):
        self.name = name
        self.session_factory = session_factory
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.currency = currency
        self.api_calls = 0
        self._listing: list[dict] | None = None

    @classmethod
    def from_config(cls, config: SourceConfig, factories: Mapping[str, Callable[..., Any]]):
        options = dict(config.options)
        if not options.get("bucket"):
            from finops_bot.errors import ConfigError

            raise ConfigError(
                f"[[sources]] {config.name}: give the export's bucket, "
                'e.g. bucket = "acme-billing-exports"'
            )
        make_session = factories["aws_session"]
        return cls(
            config.name,
            lambda: make_session(profile=options.get("profile")),
            str(options["bucket"]),
            str(options.get("prefix", "")),
            options.get("currency"),
        )

    def _s3(self):
        config = adaptors.botocore_config.Config(retries={"mode": "standard", "max_attempts": 6})
        return self.session_factory().client("s3", config=config)

    def _errors(self, exc: Exception) -> SourceError:
        errors = adaptors.botocore_exceptions
        if isinstance(exc, errors.NoCredentialsError):
            return SourceError(
                f"{self.name}: no AWS credentials found; set AWS_PROFILE or "
                "`profile`, or run with a role that can read the export"
            )
        if isinstance(exc, errors.ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("AccessDenied", "403"):
                return SourceError(
                    f"{self.name}: access denied on s3://{self.bucket}/"
                    f"{self.prefix}; needs s3:ListBucket and s3:GetObject"
                )
            if code == "NoSuchBucket":
                return SourceError(f"{self.name}: bucket {self.bucket} does not exist")
            return SourceError(f"{self.name}: S3 said {code}")
        return SourceError(f"{self.name}: could not read the export ({exc})")

    def _list(self, s3) -> list[dict]:
        if self._listing is None:
            objects = []
            for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            ):
                self.api_calls += 1
                objects.extend(page.get("Contents", []))
            self._listing = objects
        return self._listing

    @adaptors.needs(adaptors.boto3)
    def manifest(self, window: SyncWindow) -> list[tuple[str, str]]:
        """The (key, ETag) of every file of the months in ``window``; [] if none yet."""
        errors = adaptors.botocore_exceptions
        self._listing = None
        self.api_calls = 0
        try:
            s3 = self._s3()
            objects = self._list(s3)
            etags = {o["Key"]: o.get("ETag", "").strip('"') for o in objects}
            files: list[tuple[str, str]] = []
            month = window.start.replace(day=1)
            while month <= window.end:
                markers = month_markers(month)
                in_month = [o for o in objects if any(m in o["Key"] for m in markers)]
                manifests = sorted(
                    (o for o in in_month if o["Key"].endswith("Manifest.json")),
                    key=lambda o: o.get("LastModified") or 0,
                )
                if manifests:
                    keys = self._manifest_keys(s3, manifests[-1]["Key"])
                else:
                    keys = [o["Key"] for o in in_month if o["Key"].lower().endswith(DATA_SUFFIXES)]
                files.extend((k, etags.get(k, "")) for k in sorted(keys))
                month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
            return files
        except (errors.ClientError, errors.BotoCoreError) as exc:
            raise self._errors(exc) from None

    def _manifest_keys(self, s3, key: str) -> list[str]:
        body = s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        self.api_calls += 1
        try:
            data = json.loads(body)
        except ValueError:
            raise SourceError(
                f"{self.name}: manifest s3://{self.bucket}/{key} is not JSON"
            ) from None
        out = []
        for entry in data.get("dataFiles") or data.get("reportKeys") or []:
            entry = re.sub(r"^s3://[^/]+/", "", entry)
            out.append(entry)
        return out

    @adaptors.needs(adaptors.boto3)
    def fetch(
        self, window: SyncWindow, files: list[tuple[str, str]] | None = None
    ) -> Iterator[tuple[dict, int]]:
        """FOCUS-field column batches of every file in the window's months."""
        errors = adaptors.botocore_exceptions
        files = self.manifest(window) if files is None else files
        s3 = self._s3()
        for key, _etag in files:
            suffix = "".join(Path(key).suffixes[-2:]) or ".csv"
            with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
                try:
                    s3.download_fileobj(self.bucket, key, tmp)
                    self.api_calls += 1
                except (errors.ClientError, errors.BotoCoreError) as exc:
                    raise self._errors(exc) from None
                tmp.flush()
                bf = open_billing_file(tmp.name)
                reader = file_columns(bf, currency=self.currency)
                log.info("%s: s3://%s/%s (%s)", self.name, self.bucket, key, reader.what)
                yield from reader.batches
