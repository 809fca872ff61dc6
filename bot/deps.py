"""Build what commands need, once: settings, clock, cache. The only place that reads the
environment and the clock."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime

from finops_bot.config import Settings, SlackSettings, load_settings, load_slack_settings
from finops_bot.errors import UsageError
from finops_bot.ingest.tags import TagRules


@dataclass
class Deps:
    settings: Settings
    now: datetime  # the real time: what writes are stamped with
    today: date  # the real date, or --as-of
    answer_now: datetime  # the time answers are given at (see bot.clock)

    def fleet_now(self, db) -> datetime:
        """The time the GPU fleet is evaluated at (bot.clock.fleet_now)."""
        from bot.clock import fleet_now

        return fleet_now(db, self.answer_now)

    @property
    def rules(self) -> TagRules:
        return TagRules(self.settings.allocation_keys)

    def engine(self, db):
        """The question engine over ``db``, with every rule the settings give it."""
        from finops_bot.questions import Engine

        s = self.settings
        return Engine(db, s.measure, self.prices, s.fleet, s.questions, budgets=self.budgets(db))

    def budgets(self, db):
        """The [[budgets]]; for a cache the demo built and a config with none, the demo's."""
        from finops_bot.demo import demo_budgets
        from finops_bot.store.reads import demo_fleet_end

        if self.settings.budgets.budgets or demo_fleet_end(db) is None:
            return self.settings.budgets
        return demo_budgets()

    @property
    def prices(self):
        from finops_bot.gpu.prices import PriceBook

        return PriceBook(self.settings.gpu_prices)


def cloud_factories() -> dict:
    """The seams sources get their SDK sessions from (tests pass their own). The SDKs come
    through finops_bot.adaptors: nothing is imported until a source runs, and a source whose
    SDK is missing has already said which extra to install."""
    from finops_bot import adaptors

    def aws_session(profile: str | None = None):
        boto3 = adaptors.boto3
        return boto3.Session(profile_name=profile) if profile else boto3.Session()

    def azure_client():
        from finops_bot.sources.azure_cost import retry_policy

        return adaptors.azure_costmanagement.CostManagementClient(
            adaptors.azure_identity.DefaultAzureCredential(), retry_policy=retry_policy()
        )

    def bigquery_client(project: str | None = None):
        return adaptors.bigquery.Client(project=project)

    def gcp_billing_client():
        return adaptors.billing_v1.CloudBillingClient()

    def gcp_catalog_client():
        return adaptors.billing_v1.CloudCatalogClient()

    return {
        "aws_session": aws_session,
        "azure_client": azure_client,
        "bigquery_client": bigquery_client,
        "gcp_billing_client": gcp_billing_client,
        "gcp_catalog_client": gcp_catalog_client,
    }


SLACK_SECRETS = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET")


def slack_settings(
    config: str | None, host: str | None, port: int | None, environ=os.environ
) -> SlackSettings:
    """serve's Slack settings, read once; the secrets then leave the process environment.

    Nothing else may read them behind the settings: Bolt's App falls back to
    SLACK_BOT_TOKEN from the environment when it is there (and, given our client and
    authorize, warns at every start that it will not use it); no child process inherits
    them either."""
    settings = load_slack_settings(environ, config, host, port)
    for name in SLACK_SECRETS:
        environ.pop(name, None)
    return settings


def parse_as_of(value: str | None, flag: str = "--as-of") -> date | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{flag} {value!r}: give a date as YYYY-MM-DD") from None
    if not 1900 <= day.year <= 2999:
        raise UsageError(f"{flag} {value!r}: give a date from 1900 to 2999")
    return day


def build(db: str | None, config: str | None, as_of: str | None = None) -> Deps:
    from bot.clock import as_of as clock_as_of
    from bot.clock import real_now

    settings = load_settings(os.environ, config_path=config, db_path=db)
    now = real_now()
    today, answer_now = clock_as_of(parse_as_of(as_of), now)
    return Deps(settings=settings, now=now, today=today, answer_now=answer_now)
