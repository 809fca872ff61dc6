"""The demo's rows for the FOCUS use-case library: each charge's invoice (one per billing
account and month, issued by the provider), publisher, subcategory and zone; a marketplace
vendor billed through AWS; the month's sales tax; a correction to last month's closed bill."""

from __future__ import annotations

from datetime import date, timedelta

ISSUERS = {
    "AWS": "Amazon Web Services, Inc.",
    "Google Cloud": "Google LLC",
    "Microsoft": "Microsoft Corporation",
}
SUBCATEGORIES = {
    "Compute": "Virtual Machines",
    "Storage": "Object Storage",
    "AI and Machine Learning": "AI Platforms",
    "Networking": "Network Connectivity",
}


def invoice_columns(r, day: date) -> dict:
    """The FOCUS 1.2 columns the use-case library reads: the invoice (one per billing
    account and month, issued by the provider), the publisher, subcategory and zone."""
    provider, billing_id, _ = r.cloud
    zone = {"AWS": f"{r.region}a", "Google Cloud": f"{r.region}-b", "Microsoft": "1"}
    return {
        "BillingPeriodStart": f"{day:%Y-%m}-01T00:00:00Z",
        "InvoiceId": f"{provider.split()[0].upper()}-{billing_id[:6]}-{day:%Y%m}",
        "InvoiceIssuerName": ISSUERS.get(provider, provider),
        "PublisherName": ISSUERS.get(provider, provider),
        "ServiceSubcategory": SUBCATEGORIES.get(r.category),
        "AvailabilityZone": zone.get(provider) if r.resource_type != "Bucket" else None,
        "ChargeClass": None,
    }


MARKETPLACE = "Weights & Biases"


def library_rows(emit, resources: list, day: date, today: date) -> None:
    """What the use-case library shows on the demo: a marketplace vendor billed through
    AWS, the month's sales tax, and a correction to last month's (closed) bill."""
    p4d = next(r for r in resources if r.pricing == "Committed")
    emit(
        day,
        p4d,
        38.5,
        38.5,
        38.5,
        1,
        ServiceName=f"{MARKETPLACE} (AWS Marketplace)",
        ServiceCategory="AI and Machine Learning",
        PublisherName=MARKETPLACE,
        ResourceId="wandb-enterprise",
        ResourceType="SaaS",
        SkuId="wandb-seat",
        x_InstanceType=None,
        CommitmentDiscountId=None,
        CommitmentDiscountStatus=None,
        CommitmentDiscountName=None,
        CommitmentDiscountCategory=None,
        CommitmentDiscountType=None,
        CommitmentDiscountQuantity=None,
        CommitmentDiscountUnit=None,
        ServiceSubcategory="AI Platforms",
        AvailabilityZone=None,
        ConsumedUnit="Seats",
        PricingUnit="Seats",
    )
    if day.day == 1:
        emit(
            day,
            p4d,
            212.4,
            212.4,
            0.0,
            0,
            category="Tax",
            ServiceName="Tax",
            ServiceCategory="Other",
            ServiceSubcategory=None,
            ResourceId=None,
            SkuId=None,
            x_InstanceType=None,
            AvailabilityZone=None,
            CommitmentDiscountStatus=None,
        )
    closed = today.replace(day=1) - timedelta(days=1)  # last month's bill is closed
    if day == today.replace(day=1) and closed.day >= 15:
        gce = next(r for r in resources if r.service == "Compute Engine")
        emit(
            closed.replace(day=15),
            gce,
            -120.0,
            -120.0,
            0.0,
            0,
            ChargeClass="Correction",
            BillingPeriodStart=f"{day:%Y-%m}-01T00:00:00Z",
            InvoiceId=invoice_columns(gce, day)["InvoiceId"],
        )
