"""Alert channels, from a YAML file validated at the edge.

One channel is one audience (ops on Slack, pricing managers by e-mail, a webhook...): its
apprise URLs, which kinds of alert it wants and its thresholds. Everything inward receives a
typed :class:`AlertsConfig`.

Example::

    group_window: 30s          # alerts arriving within this window go out as one message
    channels:
      - name: ops
        urls: ["slack://TokenA/TokenB/TokenC", "json://hooks.internal:8080/pricewatch"]
        kinds: [crawl_health]
      - name: pricing
        urls: ["mailtos://user:pass@example.com"]
        kinds: [price_move, under_map, out_of_stock, review_waiting]
        price_move_pct: 5
        repeat_after: 12h
"""

from __future__ import annotations

import enum
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from crawler.siteconfig import parse_duration


class AlertKind(enum.StrEnum):
    crawl_health = "crawl_health"  # a site's crawl came back degraded or broken
    price_move = "price_move"  # a competitor's price moved more than price_move_pct
    under_map = "under_map"  # a competitor sells one of our products under our MAP
    out_of_stock = "out_of_stock"  # a matched competitor offer went out of stock
    review_waiting = "review_waiting"  # price suggestions wait for a manager


class AlertsConfigError(ValueError):
    """The alerts file is wrong. Names the file, the key and the problem."""

    def __init__(self, path: Path | str, key: str, problem: str):
        self.path, self.key, self.problem = str(path), key, problem
        super().__init__(f"{self.path}: {key}: {problem}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _duration(value):
    return value if isinstance(value, timedelta) else parse_duration(value)


class Channel(_Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]
    urls: Annotated[list[str], Field(min_length=1)]
    kinds: Annotated[list[AlertKind], Field(min_length=1)] = list(AlertKind)
    price_move_pct: Annotated[float, Field(gt=0, le=1000)] = 10.0
    # crawl_health alerts for "degraded" and worse, or only for "broken".
    min_health: Literal["degraded", "broken"] = "degraded"
    review_waiting_min: Annotated[int, Field(ge=1)] = 1
    # The same alert in the same state is not sent again before this much time has passed.
    repeat_after: timedelta = timedelta(hours=24)
    max_lines_per_kind: Annotated[int, Field(ge=1, le=1000)] = 20

    @field_validator("repeat_after", mode="before")
    @classmethod
    def _repeat_after(cls, value):
        return _duration(value)

    @field_validator("urls")
    @classmethod
    def _apprise_urls(cls, urls: list[str]) -> list[str]:
        import apprise

        for url in urls:
            if apprise.Apprise.instantiate(url) is None:
                raise ValueError(f"{url!r} is not an apprise URL this installation can send to")
        return urls

    def wants(self, kind: AlertKind) -> bool:
        return kind in self.kinds


class AlertsConfig(_Strict):
    channels: Annotated[list[Channel], Field(min_length=1)]
    group_window: timedelta = timedelta(seconds=30)

    @field_validator("group_window", mode="before")
    @classmethod
    def _group_window(cls, value):
        return _duration(value)

    @field_validator("channels")
    @classmethod
    def _unique_names(cls, channels: list[Channel]) -> list[Channel]:
        names = [c.name for c in channels]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"channel name(s) used twice: {', '.join(duplicates)}")
        return channels

    @property
    def min_price_move_pct(self) -> float:
        wanting = [c.price_move_pct for c in self.channels if c.wants(AlertKind.price_move)]
        return min(wanting, default=float("inf"))


def parse_alerts_config(data: object, path: Path | str = "<alerts>") -> AlertsConfig:
    if not isinstance(data, dict):
        raise AlertsConfigError(path, "(top level)", "expected a mapping of keys to values")
    try:
        return AlertsConfig.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(p) for p in error["loc"] if not str(p).startswith("function-"))
        problem = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            problem = "unknown key"
        elif error["type"] == "missing":
            problem = "required key is missing"
        raise AlertsConfigError(path, key or "(top level)", problem) from None


def load_alerts_config(path: Path | str) -> AlertsConfig:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AlertsConfigError(path, "(file)", exc.strerror or str(exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        raise AlertsConfigError(path, where, f"not valid YAML: {exc}") from None
    return parse_alerts_config(data, path)
