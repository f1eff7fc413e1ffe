"""Competitor prices in our product's currency, converted exactly as the rules engine does.

A chart axis or a table column in one currency must never hold another currency's number: a
manager would read 958.99 GBP as cheaper than our 1,091.99 USD. The rates come from the same
strategies file ``pricewatch suggest`` uses (``settings.currency_rates``), and the arithmetic
is the engine's own :func:`pricing.rules.inputs.convert`, so the page and the explanation
("lowest competitor shop-03 1217.92") always agree. A price the table cannot convert is never
guessed: it is left off our axis and the page says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from pricing.rules import StrategyFile, load_strategies
from pricing.rules.config import Rates
from pricing.rules.inputs import convert

CENT = Decimal("0.01")


def rate_text(rate: float) -> str:
    """1.27, 1.1759, 0.0067: up to four decimals, no trailing zeros."""
    text = f"{rate:.4f}".rstrip("0").rstrip(".")
    return text if text != "0" else f"{rate:.2g}"


@dataclass(frozen=True, slots=True)
class Conversion:
    """How prices in ``source`` (theirs) become prices in ``target`` (ours)."""

    source: str | None
    target: str | None
    rate: float | None  # None: the table cannot convert
    table: str  # where the rates come from, for the page to name
    reason: str = ""  # why not, when rate is None

    @property
    def ok(self) -> bool:
        return self.rate is not None

    @property
    def foreign(self) -> bool:
        """Not our currency (or an unknown one): the page must say what it did with it."""
        return self.source is None or self.source != self.target

    @property
    def label(self) -> str:
        """'GBP converted at 1.27' for the legend; '' when nothing needed converting."""
        if not self.foreign or self.rate is None:
            return ""
        return f"{self.source} converted at {rate_text(self.rate)}"

    @property
    def detail(self) -> str:
        """'1 GBP = 1.27 USD, rates from FILE': the long form, for tooltips."""
        if not self.foreign or self.rate is None:
            return ""
        return f"1 {self.source} = {rate_text(self.rate)} {self.target}, rates from {self.table}"


@dataclass(frozen=True, slots=True)
class Priced:
    """One competitor price, as they state it and in our currency (None: cannot convert)."""

    price: Decimal | None
    currency: str | None
    converted: Decimal | None
    conversion: Conversion


class CurrencyTable:
    """The strategies file's rates table, as the review app uses it."""

    def __init__(self, rates: Rates, source: str):
        self.rates = rates
        self.source = source
        self.known = frozenset(rates.to_base())

    @classmethod
    def load(cls, strategies: StrategyFile | str | Path | None = None) -> CurrencyTable:
        """From a loaded strategies file, a path, or None for the shipped default file (the
        same default as ``pricewatch suggest``). A broken file raises StrategyError."""
        sf = strategies if isinstance(strategies, StrategyFile) else load_strategies(strategies)
        return cls(sf.settings.currency_rates, sf.path)

    def conversion(self, source: str | None, target: str | None) -> Conversion:
        values, ok = self._convert([1.0], [source], target)
        if ok[0]:
            return Conversion(source, target, float(values[0]), self.source)
        return Conversion(source, target, None, self.source, self._why_not(source, target))

    def price(self, price: Decimal | None, currency: str | None, target: str | None) -> Priced:
        (converted,) = self.convert([price], [currency], target)
        return Priced(price, currency, converted, self.conversion(currency, target))

    def convert(
        self, prices: Sequence[Decimal | None], currencies: Sequence[str | None], target: str | None
    ) -> list[Decimal | None]:
        """Each price from its own currency into ``target``, to the cent.

        None where there is no price or the table cannot convert it. Prices already in
        ``target`` come back untouched (no float round trip).
        """
        floats = [np.nan if p is None else float(p) for p in prices]
        values, ok = self._convert(floats, currencies, target)
        out: list[Decimal | None] = []
        for price, cur, value, good in zip(prices, currencies, values, ok, strict=True):
            if price is None or not good or np.isnan(value):
                out.append(None)
            elif cur == target:
                out.append(Decimal(price))
            else:
                out.append(Decimal(repr(float(value))).quantize(CENT))
        return out

    def _convert(
        self, amounts: Sequence[float], currencies: Sequence[str | None], target: str | None
    ) -> tuple[np.ndarray, np.ndarray]:
        if not len(amounts):
            return np.empty(0), np.empty(0, dtype=bool)
        return convert(
            pd.Series(list(amounts), dtype="float64"),
            pd.Series(list(currencies), dtype=object),
            pd.Series([target] * len(amounts), dtype=object),
            self.rates,
        )

    def _why_not(self, source: str | None, target: str | None) -> str:
        if not source:
            return "their currency is unknown, so their prices cannot be compared with ours"
        if not target:
            return "our product has no currency, so no competitor price can be compared with it"
        missing = " and ".join(c for c in (source, target) if c not in self.known)
        return (
            f"the rates table ({self.source}) has no rate for {missing}: "
            f"{source} prices cannot be converted to {target}"
        )
