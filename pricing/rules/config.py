"""Pricing strategies, as a manager writes them in YAML, validated once at the edge.

A strategies file has ``settings`` (currency rates, staleness, auto-approval) and a list of
``strategies``. Each strategy says which products it is for (``applies_to``), when
(``when``: e.g. weekends), how to compute a target (``reference`` + ``adjustment``, then
optional ``stock`` and ``demand`` steps) and which ``guards`` bound it. A product gets the
active strategy with the highest ``priority`` whose selector matches it (file order breaks ties).

Errors name the file, the strategy and the key, e.g.
``strategies.yaml: strategy 'weekend' (strategies[2]): guards.ending: Input should be ...``.
Nothing inward sees a dict: the engine receives a :class:`StrategyFile`.
"""

from __future__ import annotations

from datetime import datetime, time
from importlib import resources
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pricing.currencies import is_currency

DEFAULT_STRATEGIES = "default_strategies.yaml"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class StrategyError(ValueError):
    """A strategies file is wrong. Names the file, the strategy and the key."""

    def __init__(self, path: Path | str, where: str, problem: str):
        self.path, self.where, self.problem = str(path), where, problem
        super().__init__(f"{self.path}: {where}: {problem}" if where else f"{self.path}: {problem}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Selector(_Strict):
    """Which products a strategy is for. Kinds are ANDed, values within a kind ORed; empty: all."""

    categories: list[str] = Field(default_factory=list)
    brands: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    skus: list[str] = Field(default_factory=list)


class TimeWindow(_Strict):
    """When a strategy is active: weekdays and/or a daily time range, in a time zone."""

    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=lambda: list(WEEKDAYS)
    )
    start: time = time(0, 0)
    end: time | None = None  # exclusive; None: until midnight. start > end spans midnight.
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    def active(self, now: datetime) -> bool:
        local = now.astimezone(ZoneInfo(self.timezone))
        t = local.time().replace(tzinfo=None)
        day = WEEKDAYS[local.weekday()]
        if self.end is None or self.start <= self.end:
            in_range = self.start <= t and (self.end is None or t < self.end)
            return day in self.days and in_range
        # Spans midnight: the evening belongs to the listed day, the early morning to the next.
        if t >= self.start:
            return day in self.days
        yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
        return t < self.end and yesterday in self.days


ReferenceKind = Literal[
    "lowest",
    "median",
    "average",
    "nth_lowest",
    "competitor",
    "lowest_in_stock",
    "cost_plus",
    "current",
]
COMPETITOR_REFERENCES = {
    "lowest",
    "median",
    "average",
    "nth_lowest",
    "competitor",
    "lowest_in_stock",
}


class Reference(_Strict):
    """The price a target starts from."""

    kind: ReferenceKind
    n: int | None = Field(default=None, ge=1, le=50)  # nth_lowest
    competitor: str | None = None  # competitor: the site name
    margin_pct: float = Field(default=0.0, ge=0, le=1000)  # cost_plus

    @model_validator(mode="after")
    def _needs(self):
        if self.kind == "nth_lowest" and self.n is None:
            raise ValueError("nth_lowest needs n (e.g. n: 2)")
        if self.kind == "competitor" and not self.competitor:
            raise ValueError("kind competitor needs competitor: SITE_NAME")
        return self


class Adjustment(_Strict):
    """How the target moves from the reference: match, undercut, premium, or a target rank."""

    kind: Literal["match", "undercut", "premium", "rank"] = "match"
    pct: float | None = Field(default=None, ge=0, le=90)
    amount: float | None = Field(default=None, ge=0)
    rank: int | None = Field(default=None, ge=1, le=50)
    # rank: how far below the competitor at that rank we go (one cent by default).
    gap: float = Field(default=0.01, ge=0)

    @model_validator(mode="after")
    def _needs(self):
        if self.kind in ("undercut", "premium") and (self.pct is None) == (self.amount is None):
            raise ValueError(f"{self.kind} needs exactly one of pct or amount")
        if self.kind == "rank" and self.rank is None:
            raise ValueError("rank needs rank (e.g. rank: 2 for 2nd cheapest)")
        if self.kind == "match" and (self.pct is not None or self.amount is not None):
            raise ValueError("match takes no pct or amount")
        return self


class StockRule(_Strict):
    """When every competitor that matters is out of stock, raise toward the ceiling by a step."""

    raise_pct: float = Field(default=5.0, gt=0, le=100)


class DemandRule(_Strict):
    """Move to the price that maximizes expected profit or revenue under the elasticity.

    Demand is modelled with constant elasticity e (units ~ price**e). Profit peaks at
    cost * e / (1 + e) when e < -1; otherwise it rises with price (toward the ceiling).
    Revenue rises with price when e > -1 and falls when e < -1. ``max_deviation_pct`` keeps
    the result within that distance of the competitive target, if set.
    """

    objective: Literal["profit", "revenue"] = "profit"
    max_deviation_pct: float | None = Field(default=None, gt=0, le=1000)


Ending = Literal[".99", ".95", "whole"]


class Guards(_Strict):
    """Limits on a strategy's proposal. Product columns floor/ceiling/map_price also apply."""

    floor: float | None = Field(default=None, ge=0)  # absolute
    min_margin_pct: float | None = Field(default=None, ge=-100, le=1000)  # floor = cost * (1+m)
    ceiling: float | None = Field(default=None, gt=0)
    max_margin_pct: float | None = Field(default=None, ge=0)  # ceiling = cost * (1+m)
    respect_map: bool = True
    max_change_pct: float | None = Field(default=None, gt=0, le=1000)
    max_change_amount: float | None = Field(default=None, gt=0)
    ending: Ending | None = None
    cooldown_hours: float = Field(default=0, ge=0)
    # None: 1 for competitor references, 0 for cost_plus/current.
    min_competitors: int | None = Field(default=None, ge=0)
    include_competitors: list[str] = Field(default_factory=list)
    exclude_competitors: list[str] = Field(default_factory=list)
    outlier_pct: float | None = Field(default=None, gt=0)  # drop prices this far from the median
    min_confidence: float = Field(default=0.0, ge=0, le=1)
    use_substitutes: bool = False
    stale_hours: float | None = Field(default=None, gt=0)  # None: settings.stale_hours

    @model_validator(mode="after")
    def _consistent(self):
        both = set(self.include_competitors) & set(self.exclude_competitors)
        if both:
            raise ValueError(f"competitors both included and excluded: {sorted(both)}")
        if self.floor is not None and self.ceiling is not None and self.floor > self.ceiling:
            raise ValueError(f"floor {self.floor} is above ceiling {self.ceiling}")
        return self


class Strategy(_Strict):
    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    priority: int = 0
    applies_to: Selector = Field(default_factory=Selector)
    when: TimeWindow | None = None
    reference: Reference
    adjustment: Adjustment = Field(default_factory=Adjustment)
    stock: StockRule | None = None
    demand: DemandRule | None = None
    guards: Guards = Field(default_factory=Guards)

    @model_validator(mode="after")
    def _rank_needs_competitors(self):
        if self.adjustment.kind == "rank" and self.reference.kind not in COMPETITOR_REFERENCES:
            raise ValueError("adjustment rank needs a competitor reference (e.g. lowest)")
        return self

    @property
    def needs_competitors(self) -> bool:
        return self.reference.kind in COMPETITOR_REFERENCES

    def active(self, now: datetime) -> bool:
        return self.when is None or self.when.active(now)


class Rates(_Strict):
    """Currency rates: 1 unit of each currency is worth ``rates[c]`` units of ``base``."""

    base: str = "USD"
    rates: dict[str, float] = Field(default_factory=dict)

    @field_validator("base")
    @classmethod
    def _iso(cls, value: str) -> str:
        if not is_currency(value):
            raise ValueError(f"{value!r} is not an ISO 4217 currency code")
        return value

    @field_validator("rates")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        for code, rate in value.items():
            if not is_currency(code):
                raise ValueError(f"{code!r} is not an ISO 4217 currency code")
            if not rate > 0:
                raise ValueError(f"rate for {code} must be positive, got {rate}")
        return value

    def to_base(self) -> dict[str, float]:
        return {**self.rates, self.base: 1.0}


class Settings(_Strict):
    currency_rates: Rates = Field(default_factory=Rates)
    stale_hours: float = Field(default=48, gt=0)
    # Changes smaller than this (absolute %) are approved automatically; None: never.
    auto_approve_below_pct: float | None = Field(default=None, gt=0, le=100)
    # Elasticity assumed where analytics has none (backtest effects; demand step); None: skip.
    default_elasticity: float | None = Field(default=None, lt=0)


class StrategyFile(_Strict):
    settings: Settings = Field(default_factory=Settings)
    strategies: list[Strategy] = Field(min_length=1)
    path: str = Field(default="<memory>", exclude=True)

    @model_validator(mode="after")
    def _unique_names(self):
        seen: set[str] = set()
        for s in self.strategies:
            if s.name in seen:
                raise ValueError(f"strategy name {s.name!r} is used twice")
            seen.add(s.name)
        return self

    def by_name(self, name: str) -> Strategy:
        return next(s for s in self.strategies if s.name == name)


def _where(loc: tuple, data: object) -> str:
    """'strategy NAME (strategies[i]): a.b' from a pydantic error location."""
    parts = [str(p) for p in loc]
    if len(loc) >= 2 and loc[0] == "strategies" and isinstance(loc[1], int):
        name = None
        if isinstance(data, dict) and isinstance(data.get("strategies"), list):
            items = data["strategies"]
            if loc[1] < len(items) and isinstance(items[loc[1]], dict):
                name = items[loc[1]].get("name")
        label = f"strategy {name!r} (strategies[{loc[1]}])" if name else f"strategies[{loc[1]}]"
        rest = ".".join(parts[2:])
        return f"{label}: {rest}" if rest else label
    return ".".join(parts)


def parse_strategies(data: object, path: Path | str = "<memory>") -> StrategyFile:
    """Validate already-parsed YAML; raise :class:`StrategyError` naming every problem."""
    if not isinstance(data, dict):
        raise StrategyError(path, "", "expected a mapping with 'strategies' (and 'settings')")
    try:
        return StrategyFile.model_validate({**data, "path": str(path)})
    except ValidationError as exc:
        problems = [
            f"{_where(err['loc'], data) or '(top level)'}: {err['msg']}" for err in exc.errors()
        ]
        first = problems[0].split(": ", 1)
        more = "" if len(problems) == 1 else "\n  " + "\n  ".join(problems[1:])
        raise StrategyError(path, first[0], (first[1] if len(first) > 1 else "") + more) from None


def load_strategies(path: Path | str | None = None) -> StrategyFile:
    """Load a strategies file; None loads the default file shipped in this package."""
    if path is None:
        ref = resources.files("pricing.rules").joinpath(DEFAULT_STRATEGIES)
        text, shown = ref.read_text(encoding="utf-8"), f"pricing/rules/{DEFAULT_STRATEGIES}"
    else:
        try:
            text, shown = Path(path).read_text(encoding="utf-8"), str(path)
        except OSError as exc:
            raise StrategyError(path, "", f"cannot read: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise StrategyError(
            shown, where, f"not valid YAML: {getattr(exc, 'problem', exc)}"
        ) from None
    return parse_strategies(data, shown)
