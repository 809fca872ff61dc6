"""A third-party-shaped FOCUS 1.2 export for the use-case library's tests: September and
October 2026 closed, November 1-19 so far (``TODAY`` 2026-11-20, passed explicitly; the
clock is never read).

Shaped like an AWS Data Exports FOCUS 1.2 file with a reseller's account beside it:

- a payer "Acme Corp" (USD, invoiced by "Amazon Web Services, Inc.": one usage and one
  marketplace invoice a month) with sub accounts ml-prod and ml-dev, and "Acme EU GmbH"
  (sub account eu-analytics) billed in EUR and invoiced by the reseller "Acme Reseller
  Ltd"; November's rows carry no InvoiceId yet (no invoice is issued before the month ends);
- ServiceName as the FOCUS export writes it ("Amazon Elastic Compute Cloud") and as CUR's
  product code does ("AmazonEC2", "AmazonS3", "AmazonCloudWatch");
- a Savings Plan (Purchase rows, covered usage with BilledCost 0, unused commitment rows),
  capacity reservations (Used and Unused), ContractedCost / ListCost and unit prices;
- marketplace vendors (PublisherName "Weights & Biases", "Snowflake Inc."; the EUR
  account's first-party publisher "Amazon Web Services EMEA SARL"), Snowflake priced in a
  virtual currency ("CREDITS", with its pricing-currency costs and unit prices, and a
  Purchase of credits);
- Credit and Tax rows (monthly), two corrections (ChargeClass "Correction"): one to an
  October charge invoiced on November's bill (FOCUS's shape), one dated in November with
  BillingPeriodStart in October;
- hourly rows on three days (they roll up to the day), tags as JSON (some rows untagged,
  one with an empty project), empty cells where a column has no value.

``PLAIN_COLUMNS``: the same charges without any of the FOCUS 1.2 extras columns.
"""

from __future__ import annotations

import csv
import json
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

TODAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
FIRST_DAY = date(2026, 9, 1)
LAST_DAY = date(2026, 11, 19)  # the data so far

COLUMNS = [
    "BillingAccountId",
    "BillingAccountName",
    "BillingAccountType",
    "SubAccountId",
    "SubAccountName",
    "SubAccountType",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "BillingCurrency",
    "ProviderName",
    "PublisherName",
    "InvoiceIssuerName",
    "InvoiceId",
    "RegionId",
    "RegionName",
    "AvailabilityZone",
    "ServiceName",
    "ServiceCategory",
    "ServiceSubcategory",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "PricingCategory",
    "PricingQuantity",
    "PricingUnit",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ListUnitPrice",
    "ContractedUnitPrice",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "SkuId",
    "SkuMeter",
    "SkuPriceId",
    "CommitmentDiscountId",
    "CommitmentDiscountCategory",
    "CommitmentDiscountName",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
    "CapacityReservationId",
    "CapacityReservationStatus",
    "PricingCurrency",
    "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice",
    "PricingCurrencyContractedUnitPrice",
    "Tags",
]
# the columns every FOCUS 1.0 file has and no FOCUS 1.2 extra (what the plain file keeps)
PLAIN_COLUMNS = [
    "BillingAccountId",
    "BillingAccountName",
    "SubAccountId",
    "SubAccountName",
    "BillingPeriodStart",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "BillingCurrency",
    "ProviderName",
    "RegionId",
    "ServiceName",
    "ServiceCategory",
    "ChargeCategory",
    "PricingCategory",
    "PricingQuantity",
    "PricingUnit",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ResourceId",
    "ResourceType",
    "SkuId",
    "Tags",
]

AWS_INC = "Amazon Web Services, Inc."
AWS_EMEA = "Amazon Web Services EMEA SARL"
RESELLER = "Acme Reseller Ltd"
FIRST_PARTY = {AWS_INC, AWS_EMEA}  # the publishers that are the provider itself
PAYER = ("111122223333", "Acme Corp")
EU_PAYER = ("999988887777", "Acme EU GmbH")
ML_PROD = ("210987654321", "ml-prod")
ML_DEV = ("345678901234", "ml-dev")
EU = ("456789012345", "eu-analytics")
SP_ARN = "arn:aws:savingsplans::111122223333:savingsplan/3f2c9d1e-0b7a-4c55-9e2f-7d1a5b6c8e90"
CR_USED = "cr-0123456789abcdef0"  # a reservation partly used (a g5 instance runs in it)
CR_IDLE = "cr-0fedcba9876543210"  # one nobody runs in
SKU_EC2 = "JRTCKXETXF2DEAXR"  # the ml-prod m5.2xlarge's (real SKUs are upper case)
SKU_DEV = "6FWAH5XQ7VUK7VAE"
DEV_INSTANCE = "i-0b2c3d4e5f6a70003"
CREDIT_PRICE = 2.0  # USD per Snowflake credit


def _ts(d: date, hour: int = 0) -> str:
    return f"{d.isoformat()}T{hour:02d}:00:00Z"


def _month(d: date) -> date:
    return d.replace(day=1)


def _next_month(d: date) -> date:
    return (d.replace(day=28) + timedelta(days=4)).replace(day=1)


def _invoice(kind: str, period: date) -> str:
    """AWS numbers its invoices; November (open) has none yet."""
    if period >= _month(TODAY):
        return ""
    base = {"usage": 2_000_000_000, "marketplace": 2_100_000_000, "eu": 0}[kind]
    if kind == "eu":
        return f"ARL-{period:%Y%m}-0042"
    return str(base + period.month * 1000 + period.year % 100)


def _money(x: float) -> str:
    return f"{x:.10g}"


def _base(account: tuple[str, str], payer: tuple[str, str], d: date) -> dict[str, str]:
    period = _month(d)
    eu = payer == EU_PAYER
    return {
        "BillingAccountId": payer[0],
        "BillingAccountName": payer[1],
        "BillingAccountType": "Billing Account",
        "SubAccountId": account[0],
        "SubAccountName": account[1],
        "SubAccountType": "Linked Account",
        "BillingPeriodStart": _ts(period),
        "BillingPeriodEnd": _ts(_next_month(period)),
        "ChargePeriodStart": _ts(d),
        "ChargePeriodEnd": _ts(d + timedelta(days=1)),
        "BillingCurrency": "EUR" if eu else "USD",
        "ProviderName": "AWS",
        "PublisherName": AWS_EMEA if eu else AWS_INC,
        "InvoiceIssuerName": RESELLER if eu else AWS_INC,
        "InvoiceId": _invoice("eu" if eu else "usage", period),
        "ChargeCategory": "Usage",
        "ChargeFrequency": "Usage-Based",
        "PricingCategory": "Standard",
    }


def _usage(
    base: dict,
    *,
    quantity: float,
    unit: str,
    consumed: float | None,
    consumed_unit: str | None,
    list_price: float,
    contracted_price: float,
    effective: float | None = None,
    billed: float | None = None,
    pricing_currency: str | None = None,
    **columns: str,
) -> dict[str, str]:
    """A usage row: ListCost and ContractedCost from the unit prices, priced in the billing
    currency (PricingCurrency costs equal to the billing ones) unless told otherwise."""
    listed = quantity * list_price
    contracted = quantity * contracted_price
    effective = contracted if effective is None else effective
    billed = effective if billed is None else billed
    row = {
        **base,
        "BilledCost": _money(billed),
        "EffectiveCost": _money(effective),
        "ListCost": _money(listed),
        "ContractedCost": _money(contracted),
        "PricingQuantity": _money(quantity),
        "PricingUnit": unit,
        "ConsumedQuantity": "" if consumed is None else _money(consumed),
        "ConsumedUnit": consumed_unit or "",
        "ListUnitPrice": _money(list_price),
        "ContractedUnitPrice": _money(contracted_price),
        "PricingCurrency": pricing_currency or base["BillingCurrency"],
        "PricingCurrencyEffectiveCost": _money(effective),
        "PricingCurrencyListUnitPrice": _money(list_price),
        "PricingCurrencyContractedUnitPrice": _money(contracted_price),
    }
    row.update(columns)
    return row


def _tags(**tags: str) -> str:
    return json.dumps(tags, sort_keys=True) if tags else ""


def _day_rows(d: date, rng: random.Random) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    wiggle = 1 + 0.1 * (rng.random() - 0.5)
    prod, dev, eu = (_base(ML_PROD, PAYER, d), _base(ML_DEV, PAYER, d), _base(EU, EU_PAYER, d))
    ec2 = dict(ServiceName="Amazon Elastic Compute Cloud", ServiceCategory="Compute")
    ec2["ServiceSubcategory"] = "Virtual Machines"
    # ml-prod m5.2xlarge covered by the Savings Plan: BilledCost 0, hourly on Oct 1-3
    hours = (
        [(h, 1) for h in range(24)] if date(2026, 10, 1) <= d <= date(2026, 10, 3) else [(0, 24)]
    )
    for hour, n in hours:
        row = _usage(
            prod,
            quantity=n,
            unit="Hrs",
            consumed=8 * n,
            consumed_unit="vCPU-Hours",
            list_price=0.384,
            contracted_price=0.3648,
            effective=n * 0.2573,
            billed=0.0,
            **ec2,
            RegionId="us-east-1",
            RegionName="US East (N. Virginia)",
            AvailabilityZone="us-east-1a",
            ChargeDescription="$0.2573 per vCPU-hour under Compute Savings Plans",
            PricingCategory="Committed",
            ResourceId="i-0a1b2c3d4e5f60001",
            ResourceName="bert-trainer-1",
            ResourceType="Instance",
            SkuId=SKU_EC2,
            SkuMeter="BoxUsage:m5.2xlarge",
            SkuPriceId=f"{SKU_EC2}.JRTCKXETXF.6YS6EN2CT7",
            CommitmentDiscountId=SP_ARN,
            CommitmentDiscountCategory="Spend",
            CommitmentDiscountName="compute-sp-2026",
            CommitmentDiscountStatus="Used",
            CommitmentDiscountType="Compute Savings Plans",
            Tags=_tags(project="bert-training", team="nlp", env="prod"),
        )
        if n == 1:
            row["ChargePeriodStart"] = _ts(d, hour)
            row["ChargePeriodEnd"] = _ts(d, hour + 1) if hour < 23 else _ts(d + timedelta(days=1))
        rows.append(row)
    # the Savings Plan's unused part of the day (no quantity: nothing was consumed)
    unused_sp = round(1.3 * wiggle, 4)
    rows.append(
        {
            **prod,
            "BilledCost": "0",
            "EffectiveCost": _money(unused_sp),
            "ListCost": "0",
            "ContractedCost": _money(unused_sp),
            "RegionId": "us-east-1",
            "ServiceName": "Amazon Elastic Compute Cloud",
            "ServiceCategory": "Compute",
            "ServiceSubcategory": "Virtual Machines",
            "ChargeDescription": "Unused Savings Plan commitment",
            "PricingCategory": "Committed",
            "CommitmentDiscountId": SP_ARN,
            "CommitmentDiscountCategory": "Spend",
            "CommitmentDiscountName": "compute-sp-2026",
            "CommitmentDiscountStatus": "Unused",
            "CommitmentDiscountType": "Compute Savings Plans",
            "ResourceId": SP_ARN,
            "ResourceType": "Savings Plan",
            "SkuId": "SPUNUSED0001",
        }
    )
    # ml-prod g5.xlarge running in a capacity reservation, and the reservation's idle slot
    reserved = dict(CapacityReservationId=CR_USED, RegionId="us-east-1")
    reserved.update(RegionName="US East (N. Virginia)", AvailabilityZone="us-east-1b", **ec2)
    rows.append(
        _usage(
            prod,
            quantity=24,
            unit="Hrs",
            consumed=24,
            consumed_unit="Hours",
            list_price=1.006,
            contracted_price=0.9557,
            **reserved,
            CapacityReservationStatus="Used",
            ResourceId="i-0a1b2c3d4e5f60002",
            ResourceType="Instance",
            SkuId="8KTQAHWA58GUHDGC",
            SkuMeter="BoxUsage:g5.xlarge",
            Tags=_tags(project="vision-research", team="cv"),
        )
    )
    rows.append(
        _usage(
            prod,
            quantity=24,
            unit="Hrs",
            consumed=None,
            consumed_unit=None,
            list_price=1.006,
            contracted_price=0.9557,
            **reserved,
            CapacityReservationStatus="Unused",
            ChargeDescription="Unused capacity reservation, g5.xlarge",
            ResourceId=f"arn:aws:ec2:us-east-1:210987654321:capacity-reservation/{CR_USED}",
            ResourceType="Capacity Reservation",
            SkuId="8KTQAHWA58GUHDGC",
            SkuMeter="Reservation:g5.xlarge",
            Tags=_tags(team="cv"),
        )
    )
    # ml-prod S3 (the CUR product code as ServiceName), no zone
    gb = 5200 + 40 * (d - FIRST_DAY).days
    rows.append(
        _usage(
            prod,
            quantity=gb / 30,
            unit="GB-Mo",
            consumed=gb / 30,
            consumed_unit="GB-Mo",
            list_price=0.023,
            contracted_price=0.02185,
            ServiceName="AmazonS3",
            ServiceCategory="Storage",
            ServiceSubcategory="Object Storage",
            RegionId="us-east-1",
            RegionName="US East (N. Virginia)",
            ResourceId="acme-training-data",
            ResourceType="Bucket",
            SkuId="WP9ANXAXADNDNKWH",
            SkuMeter="TimedStorage-ByteHrs",
            Tags=_tags(project="bert-training"),
        )
    )
    # ml-prod SageMaker training, on weekdays
    if d.weekday() < 5:
        hrs = round(10 * wiggle, 2)
        rows.append(
            _usage(
                prod,
                quantity=hrs,
                unit="Hrs",
                consumed=hrs,
                consumed_unit="Hours",
                list_price=7.09,
                contracted_price=6.7355,
                ServiceName="Amazon SageMaker",
                ServiceCategory="AI and Machine Learning",
                ServiceSubcategory="Machine Learning",
                RegionId="us-east-1",
                RegionName="US East (N. Virginia)",
                AvailabilityZone="us-east-1a",
                ResourceId="arn:aws:sagemaker:us-east-1:210987654321:training-job/llm-ft",
                ResourceType="Training Job",
                SkuId="Q9F2RSPZ7U6HGJ3K",
                SkuMeter="Train:ml.g5.2xlarge",
                Tags=_tags(project="llm-finetune", team="nlp"),
            )
        )
    # ml-prod marketplace: Weights & Biases seats, Snowflake in credits
    rows.append(
        _usage(
            {**prod, "InvoiceId": _invoice("marketplace", _month(d))},
            quantity=12,
            unit="Seats",
            consumed=12,
            consumed_unit="Seats",
            list_price=3.5,
            contracted_price=3.2,
            ServiceName="Weights & Biases (AWS Marketplace)",
            ServiceCategory="AI and Machine Learning",
            ServiceSubcategory="Machine Learning",
            PublisherName="Weights & Biases",
            ResourceId="",
            ResourceType="",
            SkuId="wandb-teams-seat",
            SkuMeter="",
            Tags=_tags(team="nlp"),
        )
    )
    if d.day == 1:  # W&B bills the month's tracked hours beyond the seats under one SKU
        rows.append(
            _usage(
                {**prod, "InvoiceId": _invoice("marketplace", _month(d))},
                quantity=250,
                unit="Tracked-Hours",
                consumed=250,
                consumed_unit="Tracked-Hours",
                list_price=0.03,
                contracted_price=0.03,
                ServiceName="Weights & Biases (AWS Marketplace)",
                ServiceCategory="AI and Machine Learning",
                ServiceSubcategory="Machine Learning",
                PublisherName="Weights & Biases",
                PricingCategory="Committed",
                SkuId="wandb-teams-seat",
                Tags=_tags(team="nlp"),
            )
        )
    for warehouse, size in (("WH_ETL", 6.0), ("WH_BI", 2.5)):
        compute_hours = round(size * wiggle, 3)
        credits = compute_hours * 3.2
        rows.append(
            _usage(
                {**prod, "InvoiceId": _invoice("marketplace", _month(d))},
                quantity=compute_hours,
                unit="Compute-Hours",
                consumed=compute_hours,
                consumed_unit="Compute-Hours",
                list_price=4.0 * CREDIT_PRICE,
                contracted_price=3.2 * CREDIT_PRICE,
                effective=credits * CREDIT_PRICE,
                pricing_currency="CREDITS",
                ServiceName="Snowflake Data Cloud",
                ServiceCategory="Databases",
                ServiceSubcategory="Data Warehouses",
                PublisherName="Snowflake Inc.",
                RegionId="us-east-1",
                ResourceId=warehouse,
                ResourceType="Warehouse",
                SkuId="snowflake-compute-enterprise",
                PricingCurrencyEffectiveCost=_money(credits),
                PricingCurrencyListUnitPrice="4",
                PricingCurrencyContractedUnitPrice="3.2",
                Tags=_tags(team="data"),
            )
        )
    tb = 18.0 + 0.05 * (d - FIRST_DAY).days
    rows.append(
        _usage(
            {**prod, "InvoiceId": _invoice("marketplace", _month(d))},
            quantity=tb,
            unit="TB-Days",
            consumed=tb,
            consumed_unit="TB-Days",
            list_price=1.5 * CREDIT_PRICE / 30,
            contracted_price=1.2 * CREDIT_PRICE / 30,
            effective=tb * 1.2 / 30 * CREDIT_PRICE,
            pricing_currency="CREDITS",
            ServiceName="Snowflake Storage",
            ServiceCategory="Storage",
            ServiceSubcategory="Data Warehouses",
            PublisherName="Snowflake Inc.",
            RegionId="us-east-1",
            ResourceId="ACME_DW",
            ResourceType="Database",
            SkuId="snowflake-storage",
            PricingCurrencyEffectiveCost=_money(tb * 1.2 / 30),
            PricingCurrencyListUnitPrice=_money(1.5 / 30),
            PricingCurrencyContractedUnitPrice=_money(1.2 / 30),
            Tags=_tags(team="data"),
        )
    )
    # ml-dev m5.xlarge, ServiceName as the product code, untagged; spot on Saturdays
    spot = d.weekday() == 5
    rows.append(
        _usage(
            dev,
            quantity=24,
            unit="Hrs",
            consumed=96,
            consumed_unit="vCPU-Hours",
            list_price=0.192,
            contracted_price=0.0712 if spot else 0.1824,
            ServiceName="AmazonEC2",
            ServiceCategory="Compute",
            ServiceSubcategory="Virtual Machines",
            RegionId="us-west-2",
            RegionName="US West (Oregon)",
            AvailabilityZone="us-west-2b",
            PricingCategory="Dynamic" if spot else "Standard",
            ResourceId=DEV_INSTANCE,
            ResourceType="Instance",
            SkuId=SKU_DEV,
            SkuMeter="SpotUsage:m5.xlarge" if spot else "BoxUsage:m5.xlarge",
        )
    )
    # its traffic out (a component of the instance) and the account's other transfer
    for resource, gbs in ((DEV_INSTANCE, 40 * wiggle), ("", 120.0)):
        rows.append(
            _usage(
                dev,
                quantity=gbs,
                unit="GB",
                consumed=gbs,
                consumed_unit="GB",
                list_price=0.09,
                contracted_price=0.0855,
                ServiceName="AWS Data Transfer",
                ServiceCategory="Networking",
                ServiceSubcategory="Network Connectivity",
                RegionId="us-west-2",
                RegionName="US West (Oregon)",
                ResourceId=resource,
                ResourceType="Instance" if resource else "",
                SkuId="HQEH3ZWJVT5JQ26U",
                SkuMeter="DataTransfer-Out-Bytes",
            )
        )
    # ml-dev CloudWatch: no quantity, no zone, no publisher, an empty project tag
    cw = round(0.85 * wiggle, 4)
    rows.append(
        {
            **dev,
            "BilledCost": _money(cw),
            "EffectiveCost": _money(cw),
            "ListCost": _money(cw),
            "ContractedCost": _money(cw),
            "PublisherName": "",
            "RegionId": "us-west-2",
            "ServiceName": "AmazonCloudWatch",
            "ServiceCategory": "Management and Governance",
            "ServiceSubcategory": "Observability",
            "SkuId": "CW-METRICS",
            "Tags": _tags(project=""),
        }
    )
    # ml-dev's reservation nobody runs in
    rows.append(
        _usage(
            dev,
            quantity=24,
            unit="Hrs",
            consumed=None,
            consumed_unit=None,
            list_price=0.192,
            contracted_price=0.1824,
            ServiceName="AmazonEC2",
            ServiceCategory="Compute",
            ServiceSubcategory="Virtual Machines",
            RegionId="us-west-2",
            AvailabilityZone="us-west-2a",
            CapacityReservationId=CR_IDLE,
            CapacityReservationStatus="unused",  # as some exports spell it
            ResourceId=f"arn:aws:ec2:us-west-2:345678901234:capacity-reservation/{CR_IDLE}",
            ResourceType="Capacity Reservation",
            SkuId=SKU_DEV,
        )
    )
    # eu-analytics (EUR, resold): EC2 and RDS, priced in EUR
    rows.append(
        _usage(
            eu,
            quantity=24,
            unit="Hrs",
            consumed=96,
            consumed_unit="vCPU-Hours",
            list_price=0.2,
            contracted_price=0.19,
            **ec2,
            RegionId="eu-central-1",
            RegionName="Europe (Frankfurt)",
            AvailabilityZone="eu-central-1a",
            ResourceId="i-0e1f2a3b4c5d60004",
            ResourceType="Instance",
            SkuId="EUC1M5XL00000001",
            SkuMeter="EUC1-BoxUsage:m5.xlarge",
            Tags=_tags(project="bert-training", team="nlp"),
        )
    )
    rows.append(
        _usage(
            eu,
            quantity=24,
            unit="Hrs",
            consumed=24,
            consumed_unit="Hours",
            list_price=0.41,
            contracted_price=0.3895,
            ServiceName="Amazon Relational Database Service",
            ServiceCategory="Databases",
            ServiceSubcategory="Relational Databases",
            RegionId="eu-central-1",
            RegionName="Europe (Frankfurt)",
            AvailabilityZone="eu-central-1b",
            ResourceId="arn:aws:rds:eu-central-1:456789012345:db:analytics",
            ResourceType="DB Instance",
            SkuId="EUC1RDSPG0000002",
            SkuMeter="EUC1-InstanceUsage:db.m5.large",
            Tags=_tags(team="analytics"),
        )
    )
    return rows


def _monthly_rows(period: date, usage: list[dict[str, str]]) -> list[dict[str, str]]:
    """What a month's bill adds: the Savings Plan fee, taxes, credits (closed months)."""
    rows: list[dict[str, str]] = []
    start, end = _ts(period), _ts(_next_month(period))

    def month_row(account, payer, **columns) -> dict[str, str]:
        row = _base(account, payer, period)
        row.update(ChargePeriodStart=start, ChargePeriodEnd=end, ChargeFrequency="Recurring")
        row.update(columns)
        return row

    rows.append(
        month_row(
            ML_PROD,
            PAYER,
            BilledCost="180",
            EffectiveCost="0",
            ListCost="180",
            ContractedCost="180",
            ChargeCategory="Purchase",
            ChargeDescription="Compute Savings Plans recurring fee",
            PricingCategory="Committed",
            ServiceName="Savings Plans for AWS Compute usage",
            ServiceCategory="Compute",
            ServiceSubcategory="Virtual Machines",
            ResourceId=SP_ARN,
            ResourceType="Savings Plan",
            SkuId="SPRECURRING01",
            CommitmentDiscountId=SP_ARN,
            CommitmentDiscountCategory="Spend",
            CommitmentDiscountName="compute-sp-2026",
            CommitmentDiscountType="Compute Savings Plans",
            PricingCurrency="USD",
        )
    )
    if period >= _month(TODAY):
        return rows
    for account, payer, rate in (
        (ML_PROD, PAYER, 0.0825),
        (ML_DEV, PAYER, 0.0825),
        (EU, EU_PAYER, 0.19),
    ):
        base = sum(
            float(r["BilledCost"])
            for r in usage
            if r["SubAccountId"] == account[0] and r["ChargeCategory"] == "Usage"
        )
        if rate:
            tax = round(base * rate, 2)
            rows.append(
                month_row(
                    account,
                    payer,
                    BilledCost=_money(tax),
                    EffectiveCost=_money(tax),
                    ListCost=_money(tax),
                    ContractedCost=_money(tax),
                    ChargeCategory="Tax",
                    ChargeDescription="VAT" if payer == EU_PAYER else "Sales tax",
                    ServiceName="Amazon Elastic Compute Cloud",
                    ServiceCategory="Compute",
                )
            )
    rows.append(  # the vendor's own credit, on its seat SKU
        month_row(
            ML_PROD,
            PAYER,
            InvoiceId=_invoice("marketplace", period),
            BilledCost="-50",
            EffectiveCost="-50",
            ListCost="0",
            ContractedCost="-50",
            ChargeCategory="Credit",
            ChargeFrequency="One-Time",
            ChargeDescription="Weights & Biases onboarding credit",
            ServiceName="Weights & Biases (AWS Marketplace)",
            ServiceCategory="AI and Machine Learning",
            ServiceSubcategory="Machine Learning",
            PublisherName="Weights & Biases",
            SkuId="wandb-teams-seat",
            Tags=_tags(team="nlp"),
        )
    )
    # credits: AWS Activate on ml-dev's instance, a promotional credit to the EUR account
    for account, payer, amount, resource, sku in (
        (ML_DEV, PAYER, -62.5, DEV_INSTANCE, SKU_DEV),
        (EU, EU_PAYER, -25.0, "", ""),
    ):
        rows.append(
            month_row(
                account,
                payer,
                BilledCost=_money(amount),
                EffectiveCost=_money(amount),
                ListCost="0",
                ContractedCost=_money(amount),
                ChargeCategory="Credit",
                ChargeFrequency="One-Time",
                ChargeDescription="AWS Activate credit" if resource else "Promotional credit",
                ServiceName="AmazonEC2" if resource else "Amazon Elastic Compute Cloud",
                ServiceCategory="Compute",
                ResourceId=resource,
                SkuId=sku,
            )
        )
    return rows


def charges() -> list[dict[str, str]]:
    """Every row of the export, in the order a provider writes them (by day)."""
    rng = random.Random(1202)
    rows: list[dict[str, str]] = []
    month_usage: dict[date, list[dict[str, str]]] = {}
    d = FIRST_DAY
    while d <= LAST_DAY:
        day = _day_rows(d, rng)
        month_usage.setdefault(_month(d), []).extend(day)
        rows.extend(day)
        d += timedelta(days=1)
    for period, usage in month_usage.items():
        rows.extend(_monthly_rows(period, usage))
    # a purchase of Snowflake credits in October (prepaid: EffectiveCost 0)
    oct_ = _base(ML_PROD, PAYER, date(2026, 10, 7))
    rows.append(
        {
            **oct_,
            "InvoiceId": _invoice("marketplace", date(2026, 10, 1)),
            "BilledCost": "10000",
            "EffectiveCost": "0",
            "ListCost": "10000",
            "ContractedCost": "10000",
            "ChargeCategory": "Purchase",
            "ChargeFrequency": "One-Time",
            "ChargeDescription": "5,000 Snowflake credits, prepaid",
            "ServiceName": "Snowflake Data Cloud",
            "ServiceCategory": "Databases",
            "ServiceSubcategory": "Data Warehouses",
            "PublisherName": "Snowflake Inc.",
            "PricingQuantity": "5000",
            "PricingUnit": "Credits",
            "PricingCurrency": "CREDITS",
            "PricingCurrencyEffectiveCost": "0",
            "SkuId": "snowflake-capacity",
            "Tags": _tags(team="data"),
        }
    )
    # corrections: an October charge refunded on November's bill (FOCUS's shape) ...
    refund = _base(ML_PROD, PAYER, date(2026, 10, 14))
    refund.update(
        BillingPeriodStart=_ts(date(2026, 11, 1)),
        BillingPeriodEnd=_ts(date(2026, 12, 1)),
        InvoiceId="",
    )
    rows.append(
        {
            **refund,
            "BilledCost": "-45.5",
            "EffectiveCost": "-45.5",
            "ListCost": "0",
            "ContractedCost": "-45.5",
            "ChargeCategory": "Credit",
            "ChargeClass": "Correction",
            "ChargeFrequency": "One-Time",
            "ChargeDescription": "Refund: SageMaker training job failed (case 1234)",
            "ServiceName": "Amazon SageMaker",
            "ServiceCategory": "AI and Machine Learning",
            "ServiceSubcategory": "Machine Learning",
            "RegionId": "us-east-1",
            "Tags": _tags(project="llm-finetune", team="nlp"),
        }
    )
    # ... and one dated in November against October's (closed) billing period
    late = _base(ML_DEV, PAYER, date(2026, 11, 5))
    late.update(
        BillingPeriodStart=_ts(date(2026, 10, 1)),
        BillingPeriodEnd=_ts(date(2026, 11, 1)),
        InvoiceId="2000010926-C1",
    )
    rows.append(
        {
            **late,
            "BilledCost": "12.75",
            "EffectiveCost": "12.75",
            "ListCost": "12.75",
            "ContractedCost": "12.75",
            "ChargeClass": "Correction",
            "ChargeFrequency": "One-Time",
            "ChargeDescription": "Re-rated data transfer, October",
            "ServiceName": "AWS Data Transfer",
            "ServiceCategory": "Networking",
            "ServiceSubcategory": "Network Connectivity",
            "RegionId": "us-west-2",
            "SkuId": "HQEH3ZWJVT5JQ26U",
        }
    )
    return rows


def write(path: Path, rows: list[dict[str, str]], columns: list[str] = COLUMNS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore", restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_library(path: Path) -> Path:
    """The FOCUS 1.2 export."""
    return write(path, charges())


def write_plain(path: Path) -> Path:
    """The same charges with none of the FOCUS 1.2 extras columns."""
    return write(path, charges(), PLAIN_COLUMNS)
