"""How each locale writes a price: $1,299.00 · 1.299,00 € · 1 299,00 € · ¥1,299 · CHF 1'299.00.

One function turns a Decimal into the text a shop shows; the split form
(``<span>12</span><sup>99</sup>``) is built from the same parts so both always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

NBSP = "\u00a0"


@dataclass(frozen=True, slots=True)
class Locale:
    code: str
    currency: str  # ISO 4217
    symbol: str
    thousands: str
    decimal: str
    decimals: int
    symbol_first: bool
    symbol_space: bool
    usd_rate: float  # units of this currency per USD

    def parts(self, amount: Decimal) -> tuple[str, str]:
        """Whole part with thousands separators, and the fraction digits ('' when none)."""
        q = Decimal(1).scaleb(-self.decimals)
        amount = amount.quantize(q, rounding=ROUND_HALF_UP)
        whole, _, frac = f"{amount:f}".partition(".")
        groups = []
        while len(whole) > 3:
            groups.insert(0, whole[-3:])
            whole = whole[:-3]
        groups.insert(0, whole)
        return self.thousands.join(groups), frac

    def number(self, amount: Decimal) -> str:
        whole, frac = self.parts(amount)
        return whole + (self.decimal + frac if frac else "")

    def wrap(self, number: str) -> str:
        """Put the currency symbol where this locale puts it."""
        space = NBSP if self.symbol_space else ""
        return (
            f"{self.symbol}{space}{number}"
            if self.symbol_first
            else f"{number}{space}{self.symbol}"
        )

    def format(self, amount: Decimal) -> str:
        return self.wrap(self.number(amount))

    def round_price(self, usd: float, ending: float) -> Decimal:
        """A shop price from a USD-equivalent value, ending the way shops like (.99, .95, .00)."""
        value = usd * self.usd_rate
        if self.decimals == 0:
            return Decimal(max(1, int(round(value / 10.0)) * 10 - (1 if ending > 0.5 else 0)))
        whole = max(0, int(value))
        return Decimal(whole) + Decimal(str(round(ending, 2)))


LOCALES: dict[str, Locale] = {
    loc.code: loc
    for loc in (
        Locale("en_US", "USD", "$", ",", ".", 2, True, False, 1.0),
        Locale("en_GB", "GBP", "£", ",", ".", 2, True, False, 0.79),
        Locale("de_DE", "EUR", "€", ".", ",", 2, False, True, 0.92),
        Locale("fr_FR", "EUR", "€", NBSP, ",", 2, False, True, 0.92),
        Locale("ja_JP", "JPY", "¥", ",", ".", 0, True, False, 150.0),
        Locale("de_CH", "CHF", "CHF", "'", ".", 2, True, True, 0.88),
        Locale("pt_BR", "BRL", "R$", ".", ",", 2, True, True, 5.0),
    )
}

# Which locale shop i gets: a fixed cycle so that even a 12-shop market shows every format.
LOCALE_CYCLE = (
    "en_US",
    "de_DE",
    "en_GB",
    "fr_FR",
    "ja_JP",
    "en_US",
    "de_CH",
    "pt_BR",
    "en_US",
    "en_US",
    "de_DE",
    "en_US",
)
