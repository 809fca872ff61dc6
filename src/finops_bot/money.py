"""Money display. Sums happen in SQL; rounding happens only here."""

from __future__ import annotations

import math

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$", "INR": "₹"}


def format_money(amount: float | None, currency: str, unit_price: bool = False) -> str:
    """``unit_price``: a price per unit, shown to four significant digits below a cent's
    worth of precision ($0.000023 per GB-Mo), never rounded to nothing."""
    if amount is None:
        return "n/a"
    digits = 0 if currency == "JPY" else 2
    if unit_price and 0 < abs(amount) < 1:
        digits = max(digits, min(8, 3 - int(math.floor(math.log10(abs(amount))))))
    value = abs(amount)
    sign = "-" if amount < 0 and round(value, digits) > 0 else ""
    text = f"{value:,.{digits}f}"
    symbol = SYMBOLS.get(currency)
    if symbol:
        return f"{sign}{symbol}{text}"
    return f"{sign}{text} {currency}"


def format_change(current: float, previous: float) -> str:
    if previous == 0:
        return "new" if current else "no change"
    pct = (current - previous) / abs(previous) * 100
    if abs(pct) < 0.05:  # shown as 0.0%: an arrow would claim a direction it cannot show
        return "= 0.0%"
    arrow = "▲" if pct > 0 else "▼"
    return f"{arrow} {pct:+.1f}%"
