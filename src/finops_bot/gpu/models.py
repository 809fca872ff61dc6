"""GPU instance types and GPU SKUs: one table, instance type (or SKU) → GPU model and GPUs
per unit, and ``classify`` for any spelling billing exports use.

Spellings taken: AWS instance types and usage types (``p4d.24xlarge``,
``BoxUsage:p4d.24xlarge``, ``USW2-SpotUsage:p5.48xlarge``), GCP machine types
(``a2-highgpu-1g``, also as the last segment of a URL) and GPU SKU descriptions ("Nvidia
Tesla A100 GPU running in Americas", with their Commitment, Preemptible and Spot variants),
Azure ARM SKU names (``Standard_ND96asr_v4``) and meter names ("ND96asr A100 v4",
"NC24ads A100 v4 Spot"), case-insensitively, alone or inside a longer description.

GPU-hours: a charge's usage hours × ``GpuInfo.hour_gpus``. GCP bills an accelerator-optimized
machine's GPUs as GPU SKUs of their own (1 GPU per unit), apart from its vCPU and memory
SKUs, whose quantities are vCPU-hours and GiB-hours: those rows are GPU spend but count no
GPU-hours (``hour_gpus`` 0), and neither do commitment fees (the usage they cover does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

MODELS = ("V100", "A100", "A100 80GB", "H100", "H200", "A10G", "A10", "L4", "L40S", "T4")


@dataclass(frozen=True)
class Row:
    provider: str  # aws | gcp | azure
    name: str  # the canonical spelling: instance type, machine type or SKU model phrase
    model: str
    gpus: float  # per instance (a fraction for Azure's partial-GPU NV sizes) or per SKU unit
    kind: str = "instance"  # instance | machine (GCP: GPUs billed as SKUs) | sku (per GPU)
    aliases: tuple[str, ...] = ()  # other spellings (Azure meter names that differ)


def _aws(model: str, sizes: dict[str, float], family: str) -> list[Row]:
    return [Row("aws", f"{family}.{size}", model, n) for size, n in sizes.items()]


_AWS_ONE_TO_SIXTEEN = {"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 1}
_G5_LIKE = {**_AWS_ONE_TO_SIXTEEN, "12xlarge": 4, "24xlarge": 4, "48xlarge": 8}

TABLE: tuple[Row, ...] = (
    # AWS P3 (V100): https://aws.amazon.com/ec2/instance-types/p3/
    Row("aws", "p3.2xlarge", "V100", 1),
    Row("aws", "p3.8xlarge", "V100", 4),
    Row("aws", "p3.16xlarge", "V100", 8),
    Row("aws", "p3dn.24xlarge", "V100", 8),
    # AWS P4 (A100 40GB; P4de A100 80GB): https://aws.amazon.com/ec2/instance-types/p4/
    Row("aws", "p4d.24xlarge", "A100", 8),
    Row("aws", "p4de.24xlarge", "A100 80GB", 8),
    # AWS P5 (H100; P5e and P5en H200): https://aws.amazon.com/ec2/instance-types/p5/
    Row("aws", "p5.48xlarge", "H100", 8),
    Row("aws", "p5e.48xlarge", "H200", 8),
    Row("aws", "p5en.48xlarge", "H200", 8),
    # AWS G4dn (T4): https://aws.amazon.com/ec2/instance-types/g4/
    *_aws("T4", {**_AWS_ONE_TO_SIXTEEN, "12xlarge": 4, "metal": 8}, "g4dn"),
    # AWS G5 (A10G): https://aws.amazon.com/ec2/instance-types/g5/
    *_aws("A10G", _G5_LIKE, "g5"),
    # AWS G6 (L4): https://aws.amazon.com/ec2/instance-types/g6/
    *_aws("L4", _G5_LIKE, "g6"),
    # AWS G6e (L40S): https://aws.amazon.com/ec2/instance-types/g6e/
    *_aws("L40S", _G5_LIKE, "g6e"),
    # GCP A2 (A100 40GB; ultragpu A100 80GB), A3 (H100; A3 Ultra H200), G2 (L4):
    # https://cloud.google.com/compute/docs/accelerator-optimized-machines
    Row("gcp", "a2-highgpu-1g", "A100", 1, "machine"),
    Row("gcp", "a2-highgpu-2g", "A100", 2, "machine"),
    Row("gcp", "a2-highgpu-4g", "A100", 4, "machine"),
    Row("gcp", "a2-highgpu-8g", "A100", 8, "machine"),
    Row("gcp", "a2-megagpu-16g", "A100", 16, "machine"),
    Row("gcp", "a2-ultragpu-1g", "A100 80GB", 1, "machine"),
    Row("gcp", "a2-ultragpu-2g", "A100 80GB", 2, "machine"),
    Row("gcp", "a2-ultragpu-4g", "A100 80GB", 4, "machine"),
    Row("gcp", "a2-ultragpu-8g", "A100 80GB", 8, "machine"),
    Row("gcp", "a3-highgpu-1g", "H100", 1, "machine"),
    Row("gcp", "a3-highgpu-2g", "H100", 2, "machine"),
    Row("gcp", "a3-highgpu-4g", "H100", 4, "machine"),
    Row("gcp", "a3-highgpu-8g", "H100", 8, "machine"),
    Row("gcp", "a3-megagpu-8g", "H100", 8, "machine"),
    Row("gcp", "a3-edgegpu-8g", "H100", 8, "machine"),
    Row("gcp", "a3-ultragpu-8g", "H200", 8, "machine"),
    Row("gcp", "g2-standard-4", "L4", 1, "machine"),
    Row("gcp", "g2-standard-8", "L4", 1, "machine"),
    Row("gcp", "g2-standard-12", "L4", 1, "machine"),
    Row("gcp", "g2-standard-16", "L4", 1, "machine"),
    Row("gcp", "g2-standard-24", "L4", 2, "machine"),
    Row("gcp", "g2-standard-32", "L4", 1, "machine"),
    Row("gcp", "g2-standard-48", "L4", 4, "machine"),
    Row("gcp", "g2-standard-96", "L4", 8, "machine"),
    # GCP GPU SKUs as the billing export describes them, one GPU per unit ("Nvidia Tesla
    # A100 GPU running in Americas"; "Tesla" is optional when matching):
    # https://cloud.google.com/compute/gpus-pricing, https://cloud.google.com/skus
    Row("gcp", "Nvidia Tesla V100 GPU", "V100", 1, "sku"),
    Row("gcp", "Nvidia Tesla T4 GPU", "T4", 1, "sku"),
    Row("gcp", "Nvidia Tesla A100 GPU", "A100", 1, "sku"),
    Row("gcp", "Nvidia A100 80GB GPU", "A100 80GB", 1, "sku"),
    Row("gcp", "Nvidia H100 80GB GPU", "H100", 1, "sku", ("Nvidia H100 80GB Mega GPU",)),
    Row("gcp", "Nvidia L4 GPU", "L4", 1, "sku"),
    # Azure NCv3 (V100): https://learn.microsoft.com/azure/virtual-machines/ncv3-series
    Row("azure", "Standard_NC6s_v3", "V100", 1),
    Row("azure", "Standard_NC12s_v3", "V100", 2),
    Row("azure", "Standard_NC24s_v3", "V100", 4),
    Row("azure", "Standard_NC24rs_v3", "V100", 4),
    # Azure NCasT4_v3 (T4): https://learn.microsoft.com/azure/virtual-machines/nct4-v3-series
    Row("azure", "Standard_NC4as_T4_v3", "T4", 1),
    Row("azure", "Standard_NC8as_T4_v3", "T4", 1),
    Row("azure", "Standard_NC16as_T4_v3", "T4", 1),
    Row("azure", "Standard_NC64as_T4_v3", "T4", 4),
    # Azure NC A100 v4 (A100 PCIe 80GB):
    # https://learn.microsoft.com/azure/virtual-machines/nc-a100-v4-series
    Row("azure", "Standard_NC24ads_A100_v4", "A100 80GB", 1),
    Row("azure", "Standard_NC48ads_A100_v4", "A100 80GB", 2),
    Row("azure", "Standard_NC96ads_A100_v4", "A100 80GB", 4),
    # Azure NCads H100 v5 (H100 NVL):
    # https://learn.microsoft.com/azure/virtual-machines/ncads-h100-v5
    Row("azure", "Standard_NC40ads_H100_v5", "H100", 1),
    Row("azure", "Standard_NC80adis_H100_v5", "H100", 2),
    # Azure ND A100 v4 (A100 40GB) and NDm A100 v4 (A100 80GB):
    # https://learn.microsoft.com/azure/virtual-machines/nda100-v4-series,
    # https://learn.microsoft.com/azure/virtual-machines/ndm-a100-v4-series
    Row("azure", "Standard_ND96asr_v4", "A100", 8, aliases=("ND96asr A100 v4",)),
    Row("azure", "Standard_ND96amsr_A100_v4", "A100 80GB", 8),
    # Azure ND H100 v5: https://learn.microsoft.com/azure/virtual-machines/nd-h100-v5-series
    Row("azure", "Standard_ND96isr_H100_v5", "H100", 8),
    # Azure NVadsA10 v5 (partial A10: 1/6, 1/3, 1/2, 1 and 2 GPUs):
    # https://learn.microsoft.com/azure/virtual-machines/nva10v5-series
    Row("azure", "Standard_NV6ads_A10_v5", "A10", 1 / 6),
    Row("azure", "Standard_NV12ads_A10_v5", "A10", 1 / 3),
    Row("azure", "Standard_NV18ads_A10_v5", "A10", 1 / 2),
    Row("azure", "Standard_NV36ads_A10_v5", "A10", 1),
    Row("azure", "Standard_NV36adms_A10_v5", "A10", 1),
    Row("azure", "Standard_NV72ads_A10_v5", "A10", 2),
)


@dataclass(frozen=True)
class GpuInfo:
    model: str  # one of MODELS
    gpus: float  # GPUs per unit: per instance, or 1 for a GPU SKU
    instance_type: str  # normalised ("p4d.24xlarge", "Standard_ND96asr_v4"); '' for a SKU
    provider: str
    kind: str = "instance"
    commitment: bool = False  # a GCP commitment fee for GPUs

    @property
    def hour_gpus(self) -> float:
        """GPUs per hour of the charge's usage quantity (see the module's docstring)."""
        return 0.0 if self.kind == "machine" or self.commitment else self.gpus


def _key(text: str) -> str:
    """Case, blanks, '_' and '-' and Azure's "Standard_" never tell two types apart."""
    text = text.strip().lower()
    if text.startswith("standard_"):
        text = text[len("standard_") :]
    return re.sub(r"[\s_\-]+", "", text)


def _sku_phrase(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower().replace("tesla ", "")).strip()


_INDEX: dict[str, Row] = {}
_SKUS: dict[str, Row] = {}
for _row in TABLE:
    if _row.kind == "sku":
        for _name in (_row.name, *_row.aliases):
            _SKUS[_sku_phrase(_name)] = _row
        continue
    for _name in (_row.name, *_row.aliases):
        _INDEX[_key(_name)] = _row
    if _row.provider == "azure":  # the meter name: "Standard_NC24ads_A100_v4" → "NC24ads A100 v4"
        _INDEX.setdefault(_key(_row.name[len("Standard_") :].replace("_", " ")), _row)

_AZURE_VARIANT = re.compile(r"\s+(spot|low priority)$", re.IGNORECASE)
_SKU = re.compile(
    r"^(?:commitment(?: v\d+)?:\s*)?(?:spot\s+)?(?:preemptible\s+)?(nvidia\s.*?\sgpu)"
    r"(?:\s+(?:running|in|attached|for)\b.*)?$"
)
_TOKEN = re.compile(r"[\s,;()\[\]{}\"']+")


def _from_sku(text: str) -> GpuInfo | None:
    lower = text.strip().lower()
    found = _SKU.match(lower)
    if not found:
        return None
    row = _SKUS.get(_sku_phrase(found.group(1)))
    if row is None:
        return None
    return GpuInfo(row.model, row.gpus, "", row.provider, "sku", lower.startswith("commitment"))


def _info(row: Row) -> GpuInfo:
    return GpuInfo(row.model, row.gpus, row.name, row.provider, row.kind)


def _candidates(text: str) -> list[str]:
    out = [text, _AZURE_VARIANT.sub("", text)]
    for sep in (":", "/"):
        if sep in text:
            out.append(text.rsplit(sep, 1)[1])
    return out + [c[3:] for c in out if c.lower().startswith("ml.")]  # SageMaker


@lru_cache(maxsize=65_536)
def classify(text: str | None) -> GpuInfo | None:
    """The GPU model and GPUs per unit that ``text`` names (an instance type, a usage type,
    a machine type, an ARM SKU or meter name, a GPU SKU description, or a description that
    holds one of these); None when it names no GPU."""
    if not text or not text.strip():
        return None
    text = text.strip()
    sku = _from_sku(text)
    if sku is not None:
        return sku
    for candidate in _candidates(text):
        row = _INDEX.get(_key(candidate))
        if row is not None:
            return _info(row)
    if " " in text:  # "$32.77 per On Demand Linux p4d.24xlarge Instance Hour"
        for token in _TOKEN.split(text):
            row = _INDEX.get(_key(token)) if any(c in token for c in "._-") else None
            if row is not None:
                return _info(row)
    return None


_INSTANCE = re.compile(
    # aws, then azure, then gcp
    r"^(?:[a-z]+\.)?[a-z][a-z0-9-]*\.(?:\d*x?large|nano|micro|small|medium|metal[a-z0-9-]*)$"
    r"|^standard_[a-z0-9_]+$"
    r"|^[a-z][a-z0-9]{1,3}-(?:standard|micro|small|medium|custom|(?:high|mega|ultra|edge)[a-z]+)"
    r"(?:-\d+[a-z]*)?$",
    re.IGNORECASE,
)


def looks_like_instance_type(text: str) -> bool:
    """Whether ``text`` is spelled like an AWS, Azure or GCP instance or machine type."""
    return bool(_INSTANCE.match(text.strip()))


@lru_cache(maxsize=65_536)
def normalise_instance_type(text: str | None) -> str:
    """An instance type as stored: the table's spelling for GPU types; otherwise AWS and
    GCP types in lower case and Azure's as ``Standard_…``; the last segment of a URL."""
    if not text or not text.strip():
        return ""
    text = text.strip().rsplit("/", 1)[-1]
    row = _INDEX.get(_key(text))
    if row is not None:
        return row.name
    if text.lower().startswith("standard_"):
        return "Standard_" + text[len("standard_") :]
    return text.lower()


def gpus_per_instance(provider: str, instance_type: str) -> float | None:
    """GPUs of one instance of a provider's type, from the table; None when not a GPU type."""
    row = _INDEX.get(_key(instance_type))
    return row.gpus if row is not None and row.provider == provider else None
