"""The GPU table: every row against the providers' published counts (written out here
independently of the table), in every spelling billing exports use."""

from __future__ import annotations

import pytest

from finops_bot.gpu import prices
from finops_bot.gpu.models import (
    MODELS,
    TABLE,
    classify,
    gpus_per_instance,
    looks_like_instance_type,
    normalise_instance_type,
)

ONE_TO_16 = ("xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge")
EXPECTED: dict[str, tuple[str, float]] = {
    "p3.2xlarge": ("V100", 1),
    "p3.8xlarge": ("V100", 4),
    "p3.16xlarge": ("V100", 8),
    "p3dn.24xlarge": ("V100", 8),
    "p4d.24xlarge": ("A100", 8),
    "p4de.24xlarge": ("A100 80GB", 8),
    "p5.48xlarge": ("H100", 8),
    "p5e.48xlarge": ("H200", 8),
    "p5en.48xlarge": ("H200", 8),
    **{f"g4dn.{s}": ("T4", 1) for s in ONE_TO_16},
    "g4dn.12xlarge": ("T4", 4),
    "g4dn.metal": ("T4", 8),
    **{
        f"{family}.{s}": (model, 1)
        for family, model in (("g5", "A10G"), ("g6", "L4"), ("g6e", "L40S"))
        for s in ONE_TO_16
    },
    **{
        f"{family}.{s}": (model, n)
        for family, model in (("g5", "A10G"), ("g6", "L4"), ("g6e", "L40S"))
        for s, n in (("12xlarge", 4), ("24xlarge", 4), ("48xlarge", 8))
    },
    **{f"a2-highgpu-{n}g": ("A100", n) for n in (1, 2, 4, 8)},
    "a2-megagpu-16g": ("A100", 16),
    **{f"a2-ultragpu-{n}g": ("A100 80GB", n) for n in (1, 2, 4, 8)},
    **{f"a3-highgpu-{n}g": ("H100", n) for n in (1, 2, 4, 8)},
    "a3-megagpu-8g": ("H100", 8),
    "a3-edgegpu-8g": ("H100", 8),
    "a3-ultragpu-8g": ("H200", 8),
    **{f"g2-standard-{n}": ("L4", 1) for n in (4, 8, 12, 16, 32)},
    "g2-standard-24": ("L4", 2),
    "g2-standard-48": ("L4", 4),
    "g2-standard-96": ("L4", 8),
    "Nvidia Tesla V100 GPU": ("V100", 1),
    "Nvidia Tesla T4 GPU": ("T4", 1),
    "Nvidia Tesla A100 GPU": ("A100", 1),
    "Nvidia A100 80GB GPU": ("A100 80GB", 1),
    "Nvidia H100 80GB GPU": ("H100", 1),
    "Nvidia L4 GPU": ("L4", 1),
    "Standard_NC6s_v3": ("V100", 1),
    "Standard_NC12s_v3": ("V100", 2),
    "Standard_NC24s_v3": ("V100", 4),
    "Standard_NC24rs_v3": ("V100", 4),
    "Standard_NC4as_T4_v3": ("T4", 1),
    "Standard_NC8as_T4_v3": ("T4", 1),
    "Standard_NC16as_T4_v3": ("T4", 1),
    "Standard_NC64as_T4_v3": ("T4", 4),
    "Standard_NC24ads_A100_v4": ("A100 80GB", 1),
    "Standard_NC48ads_A100_v4": ("A100 80GB", 2),
    "Standard_NC96ads_A100_v4": ("A100 80GB", 4),
    "Standard_NC40ads_H100_v5": ("H100", 1),
    "Standard_NC80adis_H100_v5": ("H100", 2),
    "Standard_ND96asr_v4": ("A100", 8),
    "Standard_ND96amsr_A100_v4": ("A100 80GB", 8),
    "Standard_ND96isr_H100_v5": ("H100", 8),
    "Standard_NV6ads_A10_v5": ("A10", 1 / 6),
    "Standard_NV12ads_A10_v5": ("A10", 1 / 3),
    "Standard_NV18ads_A10_v5": ("A10", 1 / 2),
    "Standard_NV36ads_A10_v5": ("A10", 1),
    "Standard_NV36adms_A10_v5": ("A10", 1),
    "Standard_NV72ads_A10_v5": ("A10", 2),
}


def test_the_table_holds_exactly_the_expected_rows():
    assert sorted(row.name for row in TABLE) == sorted(EXPECTED)
    assert {row.model for row in TABLE} <= set(MODELS)


def _spellings(row) -> list[str]:
    """The ways exports write this row's name."""
    if row.kind == "sku":
        return [
            f"{row.name} running in Americas",
            f"Commitment v1: {row.name} running in Americas for 1 Year",
            f"Preemptible {row.name} running in EMEA",
            f"{row.name} attached to Spot Preemptible VMs running in Belgium",
            row.name.upper(),
        ]
    if row.provider == "aws":
        return [row.name, row.name.upper(), f"BoxUsage:{row.name}", f"USW2-SpotUsage:{row.name}",
                f"$1.00 per On Demand Linux {row.name} Instance Hour"]  # fmt: skip
    if row.provider == "gcp":
        url = f"https://www.googleapis.com/compute/v1/projects/p/zones/us-central1-a/machineTypes/{row.name}"
        return [row.name, row.name.upper(), url]
    meter = row.name[len("Standard_") :].replace("_", " ")
    return [row.name, row.name.lower(), meter, f"{meter} Spot", f"{meter} Low Priority"]


@pytest.mark.parametrize("row", TABLE, ids=lambda r: r.name)
def test_each_row_in_each_spelling(row):
    model, gpus = EXPECTED[row.name]
    for text in _spellings(row):
        info = classify(text)
        assert info is not None, text
        assert (info.model, info.gpus) == (model, pytest.approx(gpus)), text
        assert info.instance_type == ("" if row.kind == "sku" else row.name), text


@pytest.mark.parametrize(
    "text, model, instance_type",
    [
        ("ND96asr A100 v4", "A100", "Standard_ND96asr_v4"),  # the meter names the GPU, the SKU not
        ("Nvidia Tesla A100 80GB GPU running in Americas", "A100 80GB", ""),
        ("Nvidia H100 80GB Mega GPU running in Americas", "H100", ""),
        ("USE1-DedicatedUsage:p3.2xlarge", "V100", "p3.2xlarge"),
    ],
)
def test_other_spellings(text, model, instance_type):
    info = classify(text)
    assert (info.model, info.instance_type) == (model, instance_type)


@pytest.mark.parametrize(
    "text",
    [None, "", "m5.large", "BoxUsage:t3.micro", "A2 Instance Core running in Americas",
     "Nvidia Tesla T4 Virtual Workstation GPU running in Americas",  # a licence, not a GPU
     "Standard_D2s_v3", "Instance", "vCore", "us-east-1"],
)  # fmt: skip
def test_not_gpus(text):
    assert classify(text) is None


def test_gpu_hours_per_unit_by_kind():
    assert classify("p4d.24xlarge").hour_gpus == 8
    assert classify("Nvidia L4 GPU running in Americas").hour_gpus == 1
    # a GCP machine type's core and memory SKUs: its GPUs are billed as GPU SKUs
    assert classify("a2-highgpu-8g").hour_gpus == 0
    assert classify("Commitment v1: Nvidia L4 GPU running in Americas for 1 Year").hour_gpus == 0


def test_instance_type_spellings():
    assert normalise_instance_type("M5.Large") == "m5.large"
    assert normalise_instance_type("standard_nd96asr_v4") == "Standard_ND96asr_v4"
    assert normalise_instance_type("standard_d2s_v3") == "Standard_d2s_v3"
    assert normalise_instance_type(".../machineTypes/N2-Standard-8") == "n2-standard-8"
    assert normalise_instance_type(None) == ""
    shaped = ["db.r5.large", "g4dn.metal", "Standard_D2s_v3", "e2-micro", "a2-highgpu-1g"]
    assert all(looks_like_instance_type(t) for t in shaped)
    assert not any(looks_like_instance_type(t) for t in ["us-east-1", "SQLThreatDetection", "Hrs"])


def test_the_price_book_takes_gpu_counts_from_the_table():
    for (provider, itype), price in prices.BUNDLED.items():
        assert price.gpus == gpus_per_instance(provider, itype), itype
    assert gpus_per_instance("aws", "m5.large") is None
    assert gpus_per_instance("gcp", "p4d.24xlarge") is None
