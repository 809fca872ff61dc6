"""Source types by name; each is built from its config and injected factories (seams)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from finops_bot.errors import ConfigError
from finops_bot.sources.aws_ce import AwsCostExplorer
from finops_bot.sources.aws_s3_export import AwsS3Export
from finops_bot.sources.azure_cost import AzureCostManagement
from finops_bot.sources.base import BillingSource, SourceConfig
from finops_bot.sources.gcp_bigquery import GcpBigQueryExport
from finops_bot.sources.gcp_billing import GcpCloudBilling

# type name → (class, the factory it needs from the composition root)
SOURCE_TYPES: dict[str, type] = {
    "aws_cost_explorer": AwsCostExplorer,
    "aws_s3_export": AwsS3Export,
    "azure_cost_management": AzureCostManagement,
    "gcp_bigquery_export": GcpBigQueryExport,
    "gcp_cloud_billing": GcpCloudBilling,
}


def build_source(
    config: SourceConfig, factories: Mapping[str, Callable[..., Any]]
) -> BillingSource:
    cls = SOURCE_TYPES.get(config.type)
    if cls is None:
        raise ConfigError(
            f"[[sources]] {config.name}: unknown type {config.type!r}; "
            f"use one of {', '.join(sorted(SOURCE_TYPES))}"
        )
    return cls.from_config(config, factories)
