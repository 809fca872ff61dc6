"""AWS Cost Explorer: daily AmortizedCost and UnblendedCost by project tag and service,
split by charge type.

Every GetCostAndUsage request costs USD 0.01, so a sync makes as few as it can. Cost
Explorer allows two group-bys, so each window is two queries (and then only the pages
NextPageToken asks for):
1. usage (RECORD_TYPE Usage, Savings Plan Covered Usage, Savings Plan Negation) by the
   project tag and SERVICE: ChargeCategory Usage;
2. everything else (taxes, credits, refunds, reservation and savings-plan fees, support)
   by RECORD_TYPE and SERVICE: ChargeCategory Tax, Credit, Purchase or Adjustment. Cost
   Explorer cannot also group these by tag, so they carry no project.
Untagged usage comes back as "project$" and is loaded as untagged. Throttling is retried by
botocore's standard mode (exponential backoff with jitter). Needs ce:GetCostAndUsage.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from typing import Any

import pyarrow as pa

from finops_bot import adaptors
from finops_bot.sources.base import SourceConfig, SourceError, SyncWindow, focus_columns

log = logging.getLogger("finops_bot.sources.aws_ce")
USD_PER_REQUEST = 0.01
# RECORD_TYPE values that are usage (CE's own spellings; RI-covered usage is "Usage")
USAGE_RECORD_TYPES = ["Usage", "Savings Plan Covered Usage", "Savings Plan Negation"]


def charge_category(record_type: str) -> str:
    """A Cost Explorer RECORD_TYPE → FOCUS ChargeCategory (case and spaces ignored)."""
    kind = record_type.replace(" ", "").replace("-", "").lower()
    if kind == "tax":
        return "Tax"
    if kind in ("credit", "refund") or kind.endswith("discount"):
        return "Credit"
    if kind.endswith("fee"):
        return "Purchase"
    if kind in ("usage", "savingsplancoveredusage", "savingsplannegation", "discountedusage"):
        return "Usage"
    return "Adjustment"


class AwsCostExplorer:
    kind = "aws_cost_explorer"
    permissions: tuple[str, ...] = ("ce:GetCostAndUsage",)  # AWS IAM actions

    def __init__(self, name: str, session_factory: Callable[[], Any], tag_key: str = "project"):
        self.name = name
        self.session_factory = session_factory  # the seam: tests pass a moto-backed session
        self.tag_key = tag_key
        self.api_calls = 0

    @classmethod
    def from_config(
        cls, config: SourceConfig, factories: Mapping[str, Callable[..., Any]]
    ) -> AwsCostExplorer:
        options = dict(config.options)
        make_session = factories["aws_session"]
        return cls(
            config.name,
            lambda: make_session(profile=options.get("profile")),
            tag_key=str(options.get("tag_key", "project")),
        )

    def _client(self):
        session = self.session_factory()
        return session.client(
            "ce",
            region_name="us-east-1",
            config=adaptors.botocore_config.Config(retries={"mode": "standard", "max_attempts": 6}),
        )

    def _queries(self, window: SyncWindow) -> list[dict[str, Any]]:
        span = {
            "TimePeriod": {
                "Start": window.start.isoformat(),
                "End": (window.end + timedelta(days=1)).isoformat(),
            },
            "Granularity": "DAILY",
            "Metrics": ["AmortizedCost", "UnblendedCost"],
        }
        usage = {"Dimensions": {"Key": "RECORD_TYPE", "Values": USAGE_RECORD_TYPES}}
        return [
            {
                **span,
                "Filter": usage,
                "GroupBy": [
                    {"Type": "TAG", "Key": self.tag_key},
                    {"Type": "DIMENSION", "Key": "SERVICE"},
                ],
            },
            {
                **span,
                "Filter": {"Not": usage},
                "GroupBy": [
                    {"Type": "DIMENSION", "Key": "RECORD_TYPE"},
                    {"Type": "DIMENSION", "Key": "SERVICE"},
                ],
            },
        ]

    @adaptors.needs(adaptors.boto3)
    def fetch(self, window: SyncWindow) -> Iterator[tuple[dict, int]]:
        errors = adaptors.botocore_exceptions
        self.api_calls = 0
        try:
            client = self._client()
            for params in self._queries(window):
                while True:
                    response = client.get_cost_and_usage(**params)
                    self.api_calls += 1
                    yield focus_columns(self._batch(response, params["GroupBy"]))
                    token = response.get("NextPageToken")
                    if not token:
                        break
                    params = {**params, "NextPageToken": token}
        except errors.NoCredentialsError:
            raise SourceError(
                f"{self.name}: no AWS credentials found; set AWS_PROFILE (or `profile` in this "
                "source's config), or run where an instance role grants ce:GetCostAndUsage"
            ) from None
        except errors.ClientError as exc:
            raise self._error(exc, window) from None
        except errors.BotoCoreError as exc:
            raise SourceError(f"{self.name}: could not reach Cost Explorer ({exc})") from None
        finally:
            if self.api_calls:
                log.info(
                    "%s: %d Cost Explorer request(s), USD %.2f",
                    self.name,
                    self.api_calls,
                    self.api_calls * USD_PER_REQUEST,
                )

    def _error(self, exc, window: SyncWindow) -> SourceError:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation"):
            return SourceError(
                f"{self.name}: access denied; the credentials need the IAM permission "
                "ce:GetCostAndUsage (see README, AWS policy)"
            )
        if code == "DataUnavailableException":
            return SourceError(
                f"{self.name}: Cost Explorer has no data for {window.start} … {window.end} "
                "yet (enable it in the Billing console; first data takes up to 24 h)"
            )
        return SourceError(
            f"{self.name}: Cost Explorer said {code}: "
            f"{exc.response.get('Error', {}).get('Message', exc)}"
        )

    def _batch(self, response: dict, group_by: list[dict]) -> pa.RecordBatch:
        definitions = response.get("GroupDefinitions") or group_by
        keys_of = [d.get("Key") if d.get("Type") == "DIMENSION" else "TAG" for d in definitions]
        rows: dict[str, list] = {
            k: []
            for k in (
                "ChargePeriodStart",
                "ChargePeriodEnd",
                "BilledCost",
                "EffectiveCost",
                "BillingCurrency",
                "ProviderName",
                "ServiceName",
                "ChargeCategory",
                "Tags",
            )
        }
        for period in response.get("ResultsByTime", []):
            for group in period.get("Groups", []):
                keys = dict(zip(keys_of, group.get("Keys", []), strict=False))
                metrics = group.get("Metrics", {})
                amortized = metrics.get("AmortizedCost", {})
                unblended = metrics.get("UnblendedCost", {})
                tag = keys.get("TAG", "")
                tag = tag.split("$", 1)[1] if "$" in tag else ""
                category = charge_category(keys.get("RECORD_TYPE", "Usage"))
                rows["ChargePeriodStart"].append(period["TimePeriod"]["Start"])
                rows["ChargePeriodEnd"].append(period["TimePeriod"]["End"])
                rows["BilledCost"].append(unblended.get("Amount", "0"))
                rows["EffectiveCost"].append(amortized.get("Amount", unblended.get("Amount", "0")))
                rows["BillingCurrency"].append(unblended.get("Unit") or amortized.get("Unit"))
                rows["ProviderName"].append("AWS")
                rows["ServiceName"].append(keys.get("SERVICE", ""))
                rows["ChargeCategory"].append(category)
                rows["Tags"].append(json.dumps({self.tag_key: tag}) if tag else None)
        return pa.RecordBatch.from_pydict({k: pa.array(v, pa.string()) for k, v in rows.items()})
