"""A deterministic demo organisation: an AI startup training on AWS, GCP and Azure.

150 days of daily FOCUS rows ending the day before ``today``: nine projects (bert-training
among them) on p4d/p5, a2/a3/g2 and ND/NC GPU instances, Spot and on-demand, a savings plan
(billed vs amortised), storage, egress, GCP credits, some untagged spend (a forgotten GPU
box, a NAT gateway), a one-day spike (llm-finetune, 20 days ago) and a lasting level shift
(vision-research, from 45 days ago). Same ``today`` → same data, byte for byte.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pyarrow as pa

from finops_bot.demo_library import invoice_columns, library_rows
from finops_bot.ingest.importer import load_batches
from finops_bot.ingest.normalize import FOCUS_FIELDS
from finops_bot.ingest.tags import TagRules
from finops_bot.store.charges import LoadResult

DEMO_SOURCE = "demo"
DEMO_DAYS = 150
SPIKE_DAYS_AGO = 20
SHIFT_DAYS_AGO = 45

AWS = ("AWS", "111122223333", "Acme AI (payer)")
GCP = ("Google Cloud", "01A2B3-C4D5E6-F7G8H9", "Acme AI billing")
AZURE = ("Microsoft", "8611537", "Acme AI EA")


@dataclass
class Resource:
    cloud: tuple[str, str, str]
    sub_account: tuple[str, str]
    region: str
    service: str
    category: str
    resource_id: str
    resource_type: str
    sku: str
    price: float  # per unit (hour or GB) at the pricing category's rate
    list_price: float
    hours: float  # units per day
    pricing: str = "Standard"
    tags: dict[str, str] = field(default_factory=dict)
    weekdays_only: bool = False
    unit: str = "Hours"
    start_days_ago: int = DEMO_DAYS
    spike: float = 1.0  # multiplier on the spike day
    shift: float = 1.0  # multiplier from the level-shift day on
    billed_share: float = 1.0  # 0 for usage covered by a prepaid commitment
    commitment: str | None = None  # the savings plan or reservation covering it (COMMITMENTS)
    unused: bool = False  # a reservation slot no VM used: its cost is the Unused row


# the demo's commitments: (id, name, category, type, unit); one savings plan, one
# reservation of four T4 VMs of which one slot sits unused
SAVINGS_PLAN = "arn:aws:savingsplans::111122223333:savingsplan/demo-compute-sp"
RESERVATION = "/providers/Microsoft.Capacity/reservationOrders/demo-order/reservations/demo-t4-x4"
COMMITMENTS = {
    SAVINGS_PLAN: ("compute savings plan", "Spend", "Compute Savings Plan", "USD"),
    RESERVATION: ("T4 reservation x4", "Usage", "Reserved VM Instance", "Hours"),
}
COMMITMENT_COLUMNS = (
    "CommitmentDiscountId",
    "CommitmentDiscountName",
    "CommitmentDiscountCategory",
    "CommitmentDiscountType",
    "CommitmentDiscountStatus",
    "CommitmentDiscountQuantity",
    "CommitmentDiscountUnit",
)


def _commitment(r: Resource, effective: float, quantity: float, status: str | None) -> dict:
    if r.commitment is None:
        return dict.fromkeys(COMMITMENT_COLUMNS)
    name, category, kind, unit = COMMITMENTS[r.commitment]
    amount = effective if unit == "USD" else quantity
    return dict(
        zip(
            COMMITMENT_COLUMNS,
            (r.commitment, name, category, kind, status, amount if status else None, unit),
            strict=True,
        )
    )


def _aws_tags(project: str, team: str, owner: str) -> dict[str, str]:
    return {"user:project": project, "user:team": team, "user:owner": owner}


def _gcp_tags(project: str, team: str, owner: str) -> dict[str, str]:
    return {"project": project, "Team": team, "owner": owner, "goog-managed-by": "none"}


def _azure_tags(project: str, team: str, owner: str) -> dict[str, str]:
    return {"Project": project, " team": team, "Owner": owner}


def _organisation() -> list[Resource]:
    ml_prod = ("222233334444", "ml-prod")
    ml_research = ("555566667777", "ml-research")
    gcp_research = ("acme-research-4821", "acme-research")
    gcp_serving = ("acme-serving-1177", "acme-serving")
    az_sub = ("1caaa5a3-2b66-438e-8ab4-bce37d518c5d", "acme-speech")
    res: list[Resource] = []

    def ec2(acct, region, rid, itype, price, list_price, hours, tags, **kw):
        res.append(
            Resource(
                AWS,
                acct,
                region,
                "Amazon Elastic Compute Cloud",
                "Compute",
                f"arn:aws:ec2:{region}:{acct[0]}:instance/{rid}",
                "Instance",
                f"{itype}.{kw.get('pricing', 'Standard')}",
                price,
                list_price,
                hours,
                tags=tags,
                **kw,
            )
        )

    t = _aws_tags("bert-training", "nlp", "alice@acme.ai")
    ec2(ml_prod, "us-east-1", "i-0b3a1c2d4e5f60001", "p4d.24xlarge", 32.77, 32.77, 24, t)
    ec2(
        ml_prod,
        "us-east-1",
        "i-0b3a1c2d4e5f60002",
        "p4d.24xlarge",
        32.77 * 0.6,
        32.77,
        24,
        t,
        pricing="Committed",
        billed_share=0.0,
        commitment=SAVINGS_PLAN,
    )
    ec2(
        ml_prod,
        "us-east-1",
        "i-0b3a1c2d4e5f60003",
        "p4d.24xlarge",
        11.57,
        32.77,
        16,
        t,
        pricing="Dynamic",
    )
    t = _aws_tags("llm-finetune", "nlp", "bob@acme.ai")
    ec2(ml_prod, "us-west-2", "i-0c4b2d3e5f6a70001", "p5.48xlarge", 98.32, 98.32, 10, t, spike=9.0)
    ec2(
        ml_prod,
        "us-west-2",
        "i-0c4b2d3e5f6a70002",
        "p5.48xlarge",
        35.40,
        98.32,
        14,
        t,
        pricing="Dynamic",
    )
    t = _aws_tags("notebooks", "research", "heidi@acme.ai")
    for i in range(4):
        ec2(ml_research, "us-east-1", f"i-0d5c3e4f6a7b8000{i}", "g5.2xlarge", 1.212, 1.212, 24, t)
    t = _aws_tags("inference-api", "platform", "frank@acme.ai")
    for i in range(3):
        ec2(ml_prod, "us-east-1", f"i-0e6d4f5a7b8c9000{i}", "g5.xlarge", 1.006, 1.006, 24, t)
    t = _aws_tags("data-pipeline", "platform", "grace@acme.ai")
    for i in range(2):
        ec2(ml_prod, "us-east-1", f"i-0f7e5a6b8c9d0000{i}", "m6i.4xlarge", 0.768, 0.768, 24, t)
    # the forgotten GPU box nobody tagged
    ec2(
        ml_research,
        "us-east-1",
        "i-0aaaaaaaaaaaa0001",
        "p3.2xlarge",
        3.06,
        3.06,
        24,
        {},
        start_days_ago=60,
    )

    def s3(acct, bucket, gb, tags):
        res.append(
            Resource(
                AWS,
                acct,
                "us-east-1",
                "Amazon Simple Storage Service",
                "Storage",
                f"arn:aws:s3:::{bucket}",
                "Bucket",
                "TimedStorage-ByteHrs",
                0.023 / 30,
                0.023 / 30,
                gb,
                tags=tags,
                unit="GB-Mo",
            )
        )

    s3(ml_prod, "acme-bert-checkpoints", 48_000, _aws_tags("bert-training", "nlp", "alice@acme.ai"))
    s3(ml_prod, "acme-llm-datasets", 120_000, _aws_tags("llm-finetune", "nlp", "bob@acme.ai"))
    s3(ml_prod, "acme-raw-events", 260_000, _aws_tags("data-pipeline", "platform", "grace@acme.ai"))
    s3(ml_research, "acme-scratch-2024", 35_000, {})
    res.append(
        Resource(
            AWS,
            ml_prod,
            "us-east-1",
            "AWS Data Transfer",
            "Networking",
            "arn:aws:ec2:us-east-1:222233334444:natgateway/nat-0123456789abcdef0",
            "NAT Gateway",
            "NatGateway-Bytes",
            0.045,
            0.045,
            2_400,
        )
    )
    res.append(
        Resource(
            AWS,
            ml_prod,
            "us-east-1",
            "AWS Data Transfer",
            "Networking",
            "inference-api-egress",
            "Data Transfer",
            "DataTransfer-Out-Bytes",
            0.09,
            0.09,
            1_800,
            tags=_aws_tags("inference-api", "platform", "frank@acme.ai"),
            unit="GB",
        )
    )

    def gce(acct, region, name, mtype, price, list_price, hours, tags, **kw):
        res.append(
            Resource(
                GCP,
                acct,
                region,
                "Compute Engine",
                "Compute",
                f"//compute.googleapis.com/projects/{acct[0]}/zones/{region}-a/instances/{name}",
                "Instance",
                f"{mtype}-{kw.get('pricing', 'Standard')}",
                price,
                list_price,
                hours,
                tags=tags,
                **kw,
            )
        )

    t = _gcp_tags("vision-research", "vision", "carol@acme.ai")
    gce(gcp_research, "us-central1", "vision-a2-0", "a2-highgpu-8g", 29.39, 29.39, 24, t)
    gce(
        gcp_research,
        "us-central1",
        "vision-a3-0",
        "a3-highgpu-8g",
        88.25,
        88.25,
        8,
        t,
        start_days_ago=SHIFT_DAYS_AGO,
        shift=1.0,
    )
    t = _gcp_tags("recsys", "recsys", "dan@acme.ai")
    gce(
        gcp_serving,
        "us-east4",
        "recsys-a2-spot-0",
        "a2-highgpu-1g",
        1.47,
        3.67,
        24,
        t,
        pricing="Dynamic",
    )
    gce(gcp_serving, "us-east4", "recsys-g2-0", "g2-standard-48", 4.00, 4.00, 24, t)
    t = _gcp_tags("eval-harness", "nlp", "ivan@acme.ai")
    gce(
        gcp_research,
        "us-central1",
        "eval-g2-spot-0",
        "g2-standard-8",
        0.34,
        0.85,
        18,
        t,
        pricing="Dynamic",
        weekdays_only=True,
    )
    res.append(
        Resource(
            GCP,
            gcp_serving,
            "us-east4",
            "BigQuery",
            "Databases",
            "bq-recsys-features",
            "Dataset",
            "Analysis",
            6.25,
            6.25,
            3.2,
            tags=_gcp_tags("recsys", "recsys", "dan@acme.ai"),
            unit="TiB",
        )
    )
    res.append(
        Resource(
            GCP,
            gcp_research,
            "us-central1",
            "Cloud Storage",
            "Storage",
            "gs://acme-vision-datasets",
            "Bucket",
            "Standard Storage US",
            0.02 / 30,
            0.02 / 30,
            90_000,
            tags=_gcp_tags("vision-research", "vision", "carol@acme.ai"),
            unit="GiB-Mo",
        )
    )

    def azvm(rid, vmsize, price, hours, tags, **kw):
        res.append(
            Resource(
                AZURE,
                az_sub,
                "eastus",
                "Virtual Machines",
                "Compute",
                f"/subscriptions/{az_sub[0]}/resourceGroups/speech/providers/"
                f"Microsoft.Compute/virtualMachines/{rid}",
                "Virtual machine",
                vmsize,
                price,
                kw.pop("list_price", price),
                hours,
                tags=tags,
                **kw,
            )
        )

    t = _azure_tags("speech-asr", "speech", "erin@acme.ai")
    azvm("asr-nd96-0", "Standard_ND96asr_v4", 27.20, 20, t)
    azvm("asr-nd96-spot-0", "Standard_ND96asr_v4", 8.16, 12, t, pricing="Dynamic", list_price=27.20)
    t = _azure_tags("inference-api", "platform", "frank@acme.ai")
    for i in range(4):  # reserved; the fourth slot has had no VM: its hours are Unused
        azvm(
            f"infer-t4-{i}",
            "Standard_NC4as_T4_v3",
            0.526,
            24,
            t,
            pricing="Committed",
            list_price=0.752,
            commitment=RESERVATION,
            unused=i == 3,
        )
    res.append(
        Resource(
            AZURE,
            az_sub,
            "eastus",
            "Storage",
            "Storage",
            f"/subscriptions/{az_sub[0]}/resourceGroups/speech/providers/"
            "Microsoft.Storage/storageAccounts/acmespeechaudio",
            "Storage account",
            "Hot LRS Data Stored",
            0.0184 / 30,
            0.0184 / 30,
            60_000,
            tags=_azure_tags("speech-asr", "speech", "erin@acme.ai"),
            unit="GB-Mo",
        )
    )
    return res


def demo_table(today: date) -> pa.Table:
    """The demo organisation's charges as a FOCUS 1.0-shaped Arrow table."""
    rng = np.random.default_rng(20261122)
    first = today - timedelta(days=DEMO_DAYS)
    cols: dict[str, list] = {}
    resources = _organisation()
    noise = rng.normal(1.0, 0.04, size=(len(resources), DEMO_DAYS))

    def emit(
        day: date,
        r: Resource,
        billed: float,
        effective: float,
        list_cost: float,
        quantity: float,
        category: str = "Usage",
        pricing: str | None = None,
        status: str | None = "Used",
        **extra,
    ) -> None:
        start = datetime.combine(day, time(0), tzinfo=UTC)
        provider, billing_id, billing_name = r.cloud
        row = {
            "ChargePeriodStart": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "ChargePeriodEnd": (start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "BilledCost": round(billed, 6),
            "EffectiveCost": round(effective, 6),
            "ListCost": round(list_cost, 6),
            "BillingCurrency": "USD",
            "ProviderName": provider,
            "BillingAccountId": billing_id,
            "BillingAccountName": billing_name,
            "SubAccountId": r.sub_account[0],
            "SubAccountName": r.sub_account[1],
            "RegionId": r.region,
            "ServiceName": r.service,
            "ServiceCategory": r.category,
            "ChargeCategory": category,
            "PricingCategory": pricing if pricing is not None else r.pricing,
            "ResourceId": r.resource_id,
            "ResourceType": r.resource_type,
            "SkuId": r.sku,
            "x_InstanceType": _instance_type(r),
            "ConsumedQuantity": round(quantity, 4),
            "ConsumedUnit": r.unit,
            "PricingQuantity": round(quantity, 4),
            "PricingUnit": r.unit,
            "Tags": json.dumps(r.tags) if r.tags else None,
            **_commitment(r, effective, quantity, status if category == "Usage" else None),
            **invoice_columns(r, day),
        }
        if r.unused and category == "Usage":  # FOCUS: the commitment is the resource
            row.update(
                ResourceId=r.commitment,
                ResourceType="Reservation",
                ConsumedQuantity=None,
                PricingQuantity=None,
            )
            row.update(CommitmentDiscountStatus="Unused", x_InstanceType=None)
        row.update(extra)
        for k, v in row.items():
            cols.setdefault(k, []).append(v)

    for d in range(DEMO_DAYS):
        day = first + timedelta(days=d)
        days_ago = (today - day).days
        for i, r in enumerate(resources):
            if days_ago > r.start_days_ago:
                continue
            if r.weekdays_only and day.weekday() >= 5:
                continue
            qty = r.hours * noise[i, d] if r.unit != "Hours" else min(r.hours * noise[i, d], 24)
            if days_ago == SPIKE_DAYS_AGO:
                qty *= r.spike
            if days_ago <= SHIFT_DAYS_AGO:
                qty *= r.shift
            effective = qty * r.price
            emit(day, r, effective * r.billed_share, effective, qty * r.list_price, qty)
        if day.day == 1:
            # the savings plan's monthly fee: billed now, amortised into usage above
            sp = next(r for r in resources if r.pricing == "Committed")
            fee = 32.77 * 0.6 * 24 * 30
            emit(day, sp, fee, 0.0, 0.0, 1, category="Purchase", pricing="Committed")
        # GCP credits: sustained-use style discount on research compute, negative
        for r in resources:
            if (
                r.sub_account[1] == "acme-research"
                and r.service == "Compute Engine"
                and days_ago <= r.start_days_ago
                and r.pricing == "Standard"
            ):
                credit = -0.05 * r.price * r.hours
                emit(day, r, credit, credit, 0.0, 0, category="Credit")
        library_rows(emit, resources, day, today)
    return pa.table(cols)


def _instance_type(r: Resource) -> str | None:
    """The VM's instance type, as exports carry it (the demo's SKU ids embed it)."""
    if r.resource_type not in ("Instance", "Virtual machine"):
        return None
    for suffix in (".Standard", ".Committed", ".Dynamic", "-Standard", "-Committed", "-Dynamic"):
        if r.sku.endswith(suffix):
            return r.sku.removesuffix(suffix)
    return r.sku


def load_demo(db, today: date, now: datetime, rules: TagRules) -> LoadResult:
    """Build the demo organisation into the cache, replacing any earlier demo data."""
    table = demo_table(today)
    field_of = {name: f for f, name in FOCUS_FIELDS.items()}
    field_of["x_InstanceType"] = "x_instance_type"
    result = load_batches(
        db,
        table.to_batches(max_chunksize=50_000),
        field_of,
        source=DEMO_SOURCE,
        kind="demo",
        rules=rules,
        now=now,
    )
    _demo_commitments(db, today, now)
    return result


def _demo_commitments(db, today: date, now: datetime) -> None:
    """The FOCUS 1.3 Contract Commitment rows of the demo's two commitments: the savings
    plan ends in 45 days, the reservation in 200."""
    from finops_bot.store.commitments import Terms, replace

    def terms(cid: str, months: int, ends_in: int, cost: float, quantity: float) -> Terms:
        name, category, kind, unit = COMMITMENTS[cid]
        end = today + timedelta(days=ends_in)
        return Terms(
            cid,
            (end - timedelta(days=365)).isoformat(),
            end.isoformat(),
            contract_id="demo-contract",
            type=kind,
            category=category,
            description=name,
            cost=cost,
            currency="USD",
            quantity=quantity,
            unit=unit,
        )

    replace(
        db,
        DEMO_SOURCE,
        [
            terms(SAVINGS_PLAN, 12, 45, 32.77 * 0.6 * 24 * 365, 32.77 * 0.6 * 24 * 365),
            terms(RESERVATION, 12, 200, 0.526 * 24 * 365 * 4, 24 * 365 * 4),
        ],
        now.isoformat(timespec="seconds"),
    )


DEMO_QUESTIONS = [
    "what did project bert-training cost this week",
    "top 5 projects last month",
    "compare llm-finetune this week vs last week",
    "bert-training by service last 30 days",
    "spot vs on-demand for llm-finetune this month",
    "untagged spend last 30 days",
    "billed cost of bert-training this month",
    "which team spends the most this month",
    "what grew the most this week",
    "daily spend for llm-finetune last 14 days",
    "gpu spend by gpu model last month",
    "h100 hours last month",
    "forecast for team nlp this month",
    "are we on budget",
    "run rate",
    "what are we burning right now",
    "commitment utilization last month",
    "unused commitments last month",
    "which commitments expire in the next 60 days",
    "invoices last month",
    "what changed in last month's bill after it closed",
    "marketplace spend last month",
    "top resources for bert-training last month",
    "tag coverage for aws last month",
    "average cost per hour last month",
    "cost per 1k steps by job this week",
    "$ per gpu-hour by project this week",
    "what should we commit to",
]
# [access] mode = "scoped": what someone granted one team sees, and what they are refused
DEMO_SCOPE = ("teams=nlp",)
DEMO_SCOPED_QUESTIONS = ["total spend last month", "team vision last month"]


def demo_budgets():
    """The demo's [[budgets]] (used for a cache the demo built when the config has none):
    team nlp's is set below its usual month, so it is at risk; the rest have room."""
    from finops_bot.forecast.budget_rules import parse_budgets

    return parse_budgets(
        [
            {"name": "nlp", "team": "nlp", "amount": 90000, "channel": "C0NLP"},
            {"name": "vision", "team": "vision", "amount": 60000},
            {"name": "bert-training", "project": "bert-training", "amount": 60000},
            {"name": "all-spend", "amount": 650000, "period": "quarter"},
        ]
    )
