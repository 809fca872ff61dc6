"""The FOCUS use-case library (FinOps Foundation, FOCUS 1.2) as question forms: a small
registry, one entry per answer kind, saying which words ask it, which FOCUS columns it
groups and sums, which rows it keeps, and which columns the data must carry. The answers
are built by questions.library_answers from store.detail_reads; the README's use-case table
lists every one of the 53 and the kind (or earlier answer) that covers it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from finops_bot.questions.parse import Query


@dataclass(frozen=True)
class UseCase:
    kind: str
    title: str
    words: re.Pattern
    by: tuple[str, ...] = ()  # FOCUS columns grouped (rows' keys)
    measure: str = "EffectiveCost"
    equal: dict[str, tuple[str, ...]] = field(default_factory=dict)
    needs: tuple[str, ...] = ()  # FOCUS columns that must be in the data
    billing: bool = False  # the period selects billing periods, not charge days
    keep: str | None = None  # a row filter of library_answers (marketplace, virtual, set:COL)
    build: str = "grouped"  # grouped, facts, usage, rate, history, compare, coverage, discount
    detail: str | None = None  # what the form takes from the words: resource, sku, tag, unit
    example: str = ""


def _w(pattern: str) -> re.Pattern:
    return re.compile(pattern)


_VC = r"(?:virtual currenc(?:y|ies)|pricing currenc(?:y|ies)|non-?monetary|credits? currency)"
# a resource or SKU id: any word but the connectives ("cost by resource for account x")
_ID = r"(?!(?:for|in|of|on|by|per|last|this|the|and|with|from|during|since|over|at)\b)\S+"
USE_CASES: tuple[UseCase, ...] = (
    UseCase("virtual_currency_savings", "Contracted savings by virtual currency",
            _w(rf"\b(?:contracted )?savings?\b.*\b{_VC}|\b{_VC}\b.*\bsavings?\b"),
            ("PricingCurrency",), "PricingCurrencyListCost", build="vc_savings",
            needs=("PricingCurrencyContractedUnitPrice", "PricingCurrencyListUnitPrice"),
            keep="virtual", example="contracted savings by virtual currency last month"),
    UseCase("virtual_currency_purchases", "Purchases of virtual currency",
            _w(rf"\b{_VC}\b.*\bpurchas\w*|\bpurchas\w*\b.*\b{_VC}"),
            ("PricingCurrency",), "BilledCost", {"ChargeCategory": ("Purchase",)},
            ("PricingCurrency",), keep="virtual", example="virtual currency purchases this year"),
    UseCase("virtual_currency_targets", "What virtual currency was spent on",
            _w(rf"\bwhat\b.*\b(?:spen[dt]|use[ds]?|consum\w*)\b.*\b{_VC}\b.*\bon\b"
               rf"|\b{_VC}\b.*\bby service\b|\btargets? of\b.*\b{_VC}"),
            ("ServiceName", "PricingCurrency"), "PricingCurrencyEffectiveCost",
            needs=("PricingCurrency", "PricingCurrencyEffectiveCost"), keep="virtual",
            example="what did we spend virtual currency on last month"),
    UseCase("virtual_currency", "Virtual currency consumed",
            _w(rf"\bvirtual currenc(?:y|ies)\b|\b{_VC}\b.*\b(?:consum\w*|used|usage)\b"),
            ("PricingCurrency",), "PricingCurrencyEffectiveCost", {"ChargeCategory": ("Usage",)},
            ("PricingCurrency", "PricingCurrencyEffectiveCost"), keep="virtual",
            example="virtual currency used last month"),
    UseCase("pricing_currency", "Effective cost by pricing currency",
            _w(r"\bpricing currenc(?:y|ies)\b"), ("PricingCurrency",),
            "PricingCurrencyEffectiveCost",
            needs=("PricingCurrency", "PricingCurrencyEffectiveCost"),
            example="effective cost by pricing currency last month"),
    UseCase("unused_capacity_reservations", "Unused capacity reservations",
            _w(r"\b(?:unused|idle|wasted)\s+capacity reservations?\b"),
            ("CapacityReservationId",), equal={"CapacityReservationStatus": ("Unused",)},
            needs=("CapacityReservationStatus",),
            example="unused capacity reservations last month"),
    UseCase("capacity_reservations", "Capacity reservations",
            _w(r"\bcapacity reservations?\b"),
            ("CapacityReservationId", "CapacityReservationStatus"),
            needs=("CapacityReservationId",), keep="set:CapacityReservationId",
            example="capacity reservations last month"),
    UseCase("recurring_commitment_charges", "Recurring commitment charges",
            _w(r"\brecurring\b.*\b(?:commitment|savings plan|reservation|ri)s?\b"
               r"|\brecurring (?:charges|fees)\b"),
            ("ChargeFrequency",), needs=("ChargeFrequency",),
            example="recurring commitment charges this year"),
    UseCase("corrections", "Corrections to an invoiced period",
            _w(r"\bcorrections?\b|\bafter it closed\b|\bchanged in\b.*\bbill\b|\brestat\w*"),
            ("BillingPeriodStart", "SubAccountId", "ServiceName"), "BilledCost",
            {"ChargeClass": ("Correction",)}, ("ChargeClass",),
            example="what changed in october's bill after it closed"),
    UseCase("invoices", "Invoices", _w(r"\binvoices?\b|\breconcil\w*"),
            ("InvoiceIssuerName", "InvoiceId"), "BilledCost", needs=("InvoiceId",),
            billing=True, example="invoices for october"),
    UseCase("credits", "Credits", _w(r"\bcredits?\b(?! currency)|\bcredit memos?\b"),
            ("ProviderName", "InvoiceId"), "BilledCost", {"ChargeCategory": ("Credit",)},
            example="credits last month"),
    UseCase("taxes", "Taxes", _w(r"\btax(?:es)?\b|\bvat\b"), ("ProviderName", "SubAccountId"),
            "BilledCost", {"ChargeCategory": ("Tax",)}, example="taxes last month"),
    UseCase("billing_sources", "Sources of billed cost",
            _w(r"\bsources? of\b|\binvoice issuers?\b"
               r"|\bwho bills us\b|\bby issuer\b"),
            ("ProviderName", "InvoiceIssuerName", "PublisherName"), "BilledCost",
            needs=("InvoiceIssuerName",), example="sources of billed cost last month"),
    UseCase("billing_accounts", "Billing accounts and sub accounts",
            _w(r"\bbilling accounts?(?:\s+and\s+sub[- ]?accounts?)?\b|\bsub[- ]?accounts\b"
               r"|\baccount (?:entity|hierarchy)\b"),
            ("BillingAccountName", "BillingAccountId", "SubAccountName", "SubAccountId"),
            "BilledCost", example="which billing accounts and sub accounts do we have"),
    UseCase("marketplace", "Marketplace vendors",
            _w(r"\bmarketplace\b|\bby publishers?\b|\bpublishers?\b|\bthird[- ]party vendors?\b"
               r"|\bvendors?\b"),
            ("PublisherName", "ServiceName"), needs=("PublisherName",), keep="marketplace",
            example="marketplace spend last month"),
    UseCase("subcategories", "Service category and subcategory",
            _w(r"\b(?:service\s+)?sub-?categor(?:y|ies)\b"),
            ("ServiceCategory", "ServiceSubcategory"),
            needs=("ServiceSubcategory",), example="cost by service subcategory last month"),
    UseCase("zones", "Availability zones",
            _w(r"\bavailability zones?\b|\bby (?:az|zone)s?\b|\bazs\b"),
            ("RegionId", "AvailabilityZone"), needs=("AvailabilityZone",),
            example="cost by availability zone for account acct-1 last month"),
    UseCase("sku_meters", "Metered costs of a SKU", _w(rf"\bmeter\w*\b.*\bskus?\s+{_ID}"),
            ("PricingUnit", "PricingCategory", "ChargeCategory"), build="facts", detail="sku",
            example="metered costs for sku ABC123 last month"),
    UseCase("resource_components", "Components of a resource",
            _w(rf"(?<!by )(?<!per )\bresource\s+{_ID}"),
            ("ServiceName", "SkuId", "ChargeCategory"), build="facts", detail="resource",
            example="cost of resource i-0abc123 last month"),
    UseCase("skus", "Cost by SKU", _w(r"\b(?:by|per) skus?\b|\bskus\b|\btop \d* ?skus?\b"),
            ("SkuId",), build="facts", example="cost by sku for compute engine last month"),
    UseCase("resources", "Cost by resource",
            _w(r"\b(?:top|biggest|costliest|most expensive)\b.*\bresources\b"
               r"|\b(?:by|per) resources?\b|\bresources\b"),
            ("ResourceId",), build="facts", example="top resources for bert-training last month"),
    UseCase("average_rate", "Average rate", _w(r"\baverage (?:cost|rate|price)\b|\bavg\b"),
            ("ServiceName", "ConsumedUnit"), needs=("ConsumedQuantity",), build="rate",
            detail="unit", example="average cost per vcpu-hour last month"),
    UseCase("usage_history", "Usage and rates by month",
            _w(r"\b(?:monthly|historical|by month)\b.*\busage\b.*\brates?\b"
               r"|\busage and rates?\b"),
            ("ConsumedUnit",), needs=("ConsumedQuantity",), build="history",
            example="monthly usage and rates for ec2 this year"),
    UseCase("usage_compare", "Usage compared", _w(r"\bcompare\b.*\busage\b|\busage\b.*\b(?:vs|"
            r"versus|month over month|mom)\b"), ("ConsumedUnit",), needs=("ConsumedQuantity",),
            build="compare", example="compare usage of ec2 last month vs the month before"),
    UseCase("usage", "Usage",
            _w(r"\busage\b|\bhow many\b.*\b(?:hours?|did we use|used)\b|\bquantit(?:y|ies)\b"),
            ("ServiceName", "ConsumedUnit"), needs=("ConsumedQuantity",), build="usage",
            detail="unit", example="usage for ec2 last month"),
    UseCase("tag_coverage", "Tag coverage", _w(r"\btag(?:ging)?:? ?coverage\b|\btagged share\b"),
            ("ServiceName",), build="coverage", detail="tag",
            example="tag coverage for aws last month"),
    UseCase("discount_accuracy", "Discounts", _w(r"\bdiscounts?\b(?! rate)"), ("ServiceName",),
            needs=("ListCost",), billing=True, build="discount",
            example="verify discounts for october"),
)  # fmt: skip
BY_KIND = {u.kind: u for u in USE_CASES}
# answered for unscoped audiences only: an invoice's or an issuer's total is the
# organisation's, and a team's share of it would read as the invoice
ORG_WIDE = ("invoices", "billing_sources")
KINDS = tuple(BY_KIND)
_NOISE = (
    r"\b(?:what|which|who|how|much|many|did|do|does|we|our|us|the|a|an|of|for|in|on|is|are"
    r"|was|were|have|has|show|me|list|give|get|all|any|cost|costs|spend|spent|spending|by"
    r"|per|top|verify|check|report|analy[sz]e|and|it|its|total|charges?|bill|billed|after"
    r"|closed|changed|biggest|costliest|most|expensive|average|rate|rates|price|use|used"
    r"|monthly|historical|month|compare|vs|versus|before|over|mom|hours?|between|to)\b"
    r"|(?<![\w-])\d+(?![\w-])"
)
Subject = Callable[[str, dict], tuple[str | None, str | None]]


def library_form(text: str, dims: dict, common: dict, subject: Subject) -> Query | None:
    """The query when ``text`` asks one of the library's questions, else None."""
    if re.match(r"(?:why|what drove)\b", text) or re.search(r"\bidle\b", text):
        return None  # root causes and idle GPUs have their own forms
    use = next((u for u in USE_CASES if u.words.search(text)), None)
    if use is None:
        return None
    detail, rest = None, use.words.sub(" ", text)
    if use.detail in ("resource", "sku"):
        m = re.search(rf"\b{use.detail}\s+({_ID})", text)
        detail = m[1] if m else None
        rest = text[: m.start()] + " " + text[m.end() :] if m else rest
        rest = re.sub(r"\bmeter\w*\b|\bcomponents?\b|\bmakes? up\b|\bbreakdown\b", " ", rest)
    elif use.detail == "unit":
        m = re.search(r"\b(?:per|many)\s+([a-z][\w-]*(?:[ -]hours?)?)", text)
        m = None if m and m[1] in ("unit", "units") else m
        detail = _unit(m[1]) if m else None
        rest = rest.replace(m[0], " ") if m else rest
    elif use.detail == "tag":
        m = re.search(r"\bfor\s+(?:the\s+)?(?:tag\s+)?(\S+)\s+(?:tag|key)\b", text)
        m = m or re.search(r"\bof\s+(?:the\s+)?(?:tag\s+)?(\S+)\b", text)
        detail = m[1] if m else None
        rest = text[: m.start()] + " " + text[m.end() :] if m else rest
    rest = re.sub(r"\b(?:usage|used|consumed)\b|\bsku\b|\bresources?\b", " ", rest)
    dim, name = subject(re.sub(_NOISE, " ", rest), dims)
    allocation = name in ("project", "team", "owner") or (name or "").startswith("tag:")
    if detail is None and use.detail == "tag" and dim is None and allocation:
        detail, name = name, None
    return Query(kind=use.kind, dim=dim, name=name, detail=detail, **common)


def _unit(word: str) -> str:
    """'vcpu-hour' → 'vcpu-hours', 'gb-month' → 'gb-mo': the asked unit, folded for matching
    against ConsumedUnit (library_answers compares folded)."""
    word = word.lower().replace(" ", "-")
    return re.sub(r"hour$", "hours", word)
