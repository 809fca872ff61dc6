"""AWS Cost Explorer: daily AmortizedCost and UnblendedCost by project tag and service.

Every GetCostAndUsage request costs USD 0.01, so a sync makes as few as it can: one query
per window (two group-bys: the project tag and SERVICE; Cost Explorer allows two) and then
only the pages NextPageToken asks for. Untagged spend comes back as "project$" and is loaded
as untagged. Throttling is retried by botocore's standard mode (exponential backoff with
jitter). Needs the IAM permission ce:GetCostAndUsage.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from typing import Any

import pyarrow as pa

from finops_bot.sources.base import SourceConfig, SourceError, SyncWindow, focus_columns

log = logging.getLogger("finops_bot.sources.aws_ce")
PERMISSIONS = ("ce:GetCostAndUsage",)
USD_PER_REQUEST = 0.01


class AwsCostExplorer:
    kind = "aws_cost_explorer"
    permissions = PERMISSIONS

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
        from botocore.config import Config  # lazy: SDKs load only when a source runs

        session = self.session_factory()
        return session.client(
            "ce",
            region_name="us-east-1",
            config=Config(retries={"mode": "standard", "max_attempts": 6}),
        )

    def fetch(self, window: SyncWindow) -> Iterator[tuple[dict, int]]:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        self.api_calls = 0
        params: dict[str, Any] = {
            "TimePeriod": {
                "Start": window.start.isoformat(),
                "End": (window.end + timedelta(days=1)).isoformat(),
            },
            "Granularity": "DAILY",
            "Metrics": ["AmortizedCost", "UnblendedCost"],
            "GroupBy": [
                {"Type": "TAG", "Key": self.tag_key},
                {"Type": "DIMENSION", "Key": "SERVICE"},
            ],
        }
        try:
            client = self._client()
            while True:
                response = client.get_cost_and_usage(**params)
                self.api_calls += 1
                yield focus_columns(self._batch(response))
                token = response.get("NextPageToken")
                if not token:
                    break
                params["NextPageToken"] = token
        except NoCredentialsError:
            raise SourceError(
                f"{self.name}: no AWS credentials found; set AWS_PROFILE (or `profile` in this "
                "source's config), or run where an instance role grants ce:GetCostAndUsage"
            ) from None
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation"):
                raise SourceError(
                    f"{self.name}: access denied; the credentials need the IAM permission "
                    "ce:GetCostAndUsage (see README, AWS policy)"
                ) from None
            if code == "DataUnavailableException":
                raise SourceError(
                    f"{self.name}: Cost Explorer has no data for "
                    f"{window.start} … {window.end} yet (enable it in the "
                    "Billing console; first data takes up to 24 h)"
                ) from None
            raise SourceError(
                f"{self.name}: Cost Explorer said {code}: "
                f"{exc.response.get('Error', {}).get('Message', exc)}"
            ) from None
        except BotoCoreError as exc:
            raise SourceError(f"{self.name}: could not reach Cost Explorer ({exc})") from None
        finally:
            if self.api_calls:
                log.info(
                    "%s: %d Cost Explorer request(s), USD %.2f",
                    self.name,
                    self.api_calls,
                    self.api_calls * USD_PER_REQUEST,
                )

    def _batch(self, response: dict) -> pa.RecordBatch:
        definitions = response.get("GroupDefinitions") or [
            {"Type": "TAG", "Key": self.tag_key},
            {"Type": "DIMENSION", "Key": "SERVICE"},
        ]
        tag_at = next((i for i, d in enumerate(definitions) if d.get("Type") == "TAG"), 0)
        service_at = next((i for i, d in enumerate(definitions) if d.get("Key") == "SERVICE"), 1)
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
                keys = group.get("Keys", [])
                metrics = group.get("Metrics", {})
                amortized = metrics.get("AmortizedCost", {})
                unblended = metrics.get("UnblendedCost", {})
                tag = (
                    keys[tag_at].split("$", 1)[1]
                    if len(keys) > tag_at and "$" in keys[tag_at]
                    else ""
                )
                rows["ChargePeriodStart"].append(period["TimePeriod"]["Start"])
                rows["ChargePeriodEnd"].append(period["TimePeriod"]["End"])
                rows["BilledCost"].append(unblended.get("Amount", "0"))
                rows["EffectiveCost"].append(amortized.get("Amount", unblended.get("Amount", "0")))
                rows["BillingCurrency"].append(unblended.get("Unit") or amortized.get("Unit"))
                rows["ProviderName"].append("AWS")
                rows["ServiceName"].append(keys[service_at] if len(keys) > service_at else "")
                rows["ChargeCategory"].append("Usage")
                rows["Tags"].append(json.dumps({self.tag_key: tag}) if tag else None)
        return pa.RecordBatch.from_pydict({k: pa.array(v, pa.string()) for k, v in rows.items()})
