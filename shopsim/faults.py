"""Faults by profile and per shop, deterministic from the seed.

Two kinds of faults:

- by request sequence (the n-th request a shop receives): 5xx bursts, 429 with Retry-After,
  ban/captcha pages served with status 200, and a layout change after N requests. Given the
  order of requests they are deterministic; the server logs every one it serves.
- by page (a hash of the path): slow responses, a timeout on the first attempt, truncated HTML
  on the first attempt, oversized pages. These are known in advance: ``market.truth()`` names
  the fault planned for each product page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from shopsim.dynamics import uniform

SEQUENCE_FAULTS = ("error_5xx", "rate_limit", "ban", "layout_change")
PAGE_FAULTS = ("slow", "timeout", "truncated", "oversized")
FAULT_KINDS = SEQUENCE_FAULTS + PAGE_FAULTS + ("hostile_titles",)
PROFILES = ("none", "realistic", "hostile")

# Per kind: (window of requests, chance a window has a burst, burst length)
_BURSTS = {"error_5xx": (100, 0.35, 8), "rate_limit": (80, 0.35, 4), "ban": (150, 0.3, 15)}
# Per kind: share of pages affected
_PAGE_SHARE = {"slow": 0.05, "timeout": 0.02, "truncated": 0.05, "oversized": 0.02}
_TAGS = {kind: 100 + k for k, kind in enumerate(FAULT_KINDS)}
SLOW_SECONDS = 0.6
TIMEOUT_SECONDS = 120.0
OVERSIZED_BYTES = 3_000_000
RETRY_AFTER = 1


@dataclass(frozen=True)
class FaultPlan:
    """The faults one shop has, and their parameters."""

    seed: int
    shop: int
    kinds: frozenset[str] = frozenset()
    layout_change_after: int | None = None  # request number from which the layout changes
    page_share: dict[str, float] = field(default_factory=dict)

    def sequence_fault(self, n: int) -> str | None:
        """The fault of the n-th request (0-based; robots.txt and /__sim/ do not count)."""
        for kind in ("error_5xx", "rate_limit", "ban"):
            if kind in self.kinds:
                window, chance, length = _BURSTS[kind]
                if (
                    n % window < length
                    and uniform(self.seed, _TAGS[kind], self.shop, n // window) < chance
                ):
                    return kind
        return None

    def layout_changed(self, n: int) -> bool:
        return self.layout_change_after is not None and n >= self.layout_change_after

    def page_fault(self, path: str) -> str | None:
        """The fault planned for a page, whatever the request order."""
        if not self.page_share:
            return None
        key = _path_key(path)
        for kind, share in self.page_share.items():
            if uniform(self.seed, _TAGS[kind], self.shop, key) < share:
                return kind
        return None

    def error_status(self, n: int) -> int:
        return (500, 502, 503)[n % 3]


def _path_key(path: str) -> int:
    """A stable 63-bit key of a path (Python's hash() is salted per process)."""
    import zlib

    data = path.encode("utf-8", "surrogatepass")
    return (zlib.crc32(data) << 31) ^ zlib.adler32(data)


def make_fault_plans(profile: str, n_sites: int, seed: int, families: list[str]) -> list[FaultPlan]:
    if profile not in PROFILES:
        raise ValueError(f"faults must be one of {', '.join(PROFILES)}, not {profile!r}")
    plans = []
    rng = np.random.default_rng([seed, 7])
    first_plain = families.index("plain") if "plain" in families else -1
    for i in range(n_sites):
        kinds: set[str] = set()
        if profile == "hostile":
            # Every fault appears on some shop of even a small market: a fixed cycle.
            kinds = {FAULT_KINDS[i % 8], FAULT_KINDS[(i + 3) % 8], FAULT_KINDS[(i + 5) % 8]}
            kinds.add("hostile_titles")
        elif profile == "realistic":
            for kind, every in (("error_5xx", 4), ("rate_limit", 6), ("slow", 6)):
                if i % every == every - 1:
                    kinds.add(kind)
            for kind, every in (("truncated", 12), ("ban", 12), ("timeout", 24), ("oversized", 24)):
                if i % every == 5 % every:
                    kinds.add(kind)
            if i == first_plain:
                kinds.add("layout_change")
            if i % 10 == 9:
                kinds.add("hostile_titles")
        after = int(rng.integers(40, 200)) if "layout_change" in kinds else None
        scale = 1.0 if profile == "hostile" else 0.5
        shares = {k: _PAGE_SHARE[k] * scale for k in PAGE_FAULTS if k in kinds}
        plans.append(FaultPlan(seed, i, frozenset(kinds), after, shares))
    return plans


def hostile_share(plan: FaultPlan, profile: str) -> float:
    if "hostile_titles" not in plan.kinds:
        return 0.0
    return 0.03 if profile == "hostile" else 0.005
