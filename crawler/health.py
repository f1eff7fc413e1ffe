"""Crawl health: was this run's data trustworthy?

A run is compared with itself (parse failures, ban pages, HTTP errors, prices missing) and with the
site's previous runs (how many offers it saw). Only like with like: a full run with earlier full
runs; a refresh run (a planned list of pages, crawler/middlewares/refresh.py) sees a fraction of
the site by design, so it is judged on its rates alone, never on its offer count, and a page it
asked for by name that is gone (404/410) is news about that product, not a crawl error, unless
most of them are. The verdict is ``healthy``, ``degraded`` (usable,
look at it) or ``broken`` (its prices are not used by pricing: see pricing/store/runs.py), always
with reasons a person can act on. A layout change in the middle of a run shows up as a streak of
pages that stopped parsing at the end of the run and makes the run broken.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import median

from sqlalchemy import Engine

from crawler.batches import batch_key
from pricing.store.models import CrawlRun, RunHealth, RunStatus
from pricing.store.runs import get_run, previous_runs, set_health

STATUS_COUNT = "downloader/response_status_count/"
REFRESH = "refresh"

# Thresholds: (degraded at, broken at).
PARSE_FAILURE_RATE = (0.02, 0.20)
BAN_RATE = (0.02, 0.30)
TRUNCATED_RATE = (0.02, 0.30)
ERROR_RATE = (0.05, 0.50)
ITEM_DROP = (0.80, 0.50)  # fraction of the usual offer count below which we worry
NO_PRICE_RISE = (0.05, 0.20)  # rise of the share of offers without a price over the usual
NO_PRICE_RATE_WITHOUT_HISTORY = (0.25, 0.50)
SUSPECT_RATE = (0.05, 0.30)
GIVEN_UP_RATE = (0.01, 0.30)  # ban/truncated pages still bad after every retry
MIN_EVENTS = 3  # fewer ban/truncated/error pages than this is noise, whatever the rate
GONE_RATE = (0.20, 0.50)  # refresh runs: planned pages answering 404/410 (URLs changed?)
STREAK_MIN_PAGES = 5  # a trailing run of failed pages at least this long (and >= 5% of pages)


@dataclass(slots=True)
class RunFacts:
    """The numbers health is judged on, taken from a crawl_runs row and its stats."""

    status: str
    finish_reason: str | None
    pages: int
    parsed_pages: int
    items: int
    offers_seen: int  # items plus offers confirmed by a 304
    no_price: int
    http_errors: int
    parse_failures: int
    ban_pages: int
    truncated_pages: int
    given_up: int
    suspect_items: int
    streak: int  # failed pages in a row at the end of the run
    streak_start: int | None  # the page number where that streak began
    health: str | None = None
    kind: str = "full"  # or "refresh"
    gone: int = 0  # 404/410 answers (in http_errors too)

    @classmethod
    def from_run(cls, run: CrawlRun) -> RunFacts:
        stats = run.stats or {}
        return cls(
            status=run.status,
            finish_reason=run.finish_reason,
            pages=run.pages or 0,
            parsed_pages=int(stats.get("pricewatch/pages_parsed", 0)),
            items=run.items or 0,
            offers_seen=(run.items or 0) + int(stats.get("pricewatch/offers_touched", 0)),
            no_price=int(stats.get("pricewatch/items_no_price", 0)),
            http_errors=(run.http_4xx or 0) + (run.http_5xx or 0),
            parse_failures=run.parse_failures or 0,
            ban_pages=run.ban_pages or 0,
            truncated_pages=int(stats.get("pricewatch/truncated_pages", 0)),
            given_up=int(stats.get("pricewatch/pages_given_up", 0)),
            suspect_items=run.suspect_items or 0,
            streak=int(stats.get("pricewatch/failure_streak", 0)),
            streak_start=stats.get("pricewatch/failure_streak_start"),
            health=run.health,
            kind=run.kind or "full",
            gone=sum(int(stats.get(f"{STATUS_COUNT}{code}", 0)) for code in (404, 410)),
        )


@dataclass(slots=True)
class Verdict:
    health: RunHealth = RunHealth.healthy
    reasons: list[str] = field(default_factory=list)

    def flag(self, level: RunHealth, reason: str) -> None:
        order = [RunHealth.healthy, RunHealth.degraded, RunHealth.broken]
        if order.index(level) > order.index(self.health):
            self.health = level
        self.reasons.append(f"{level.value}: {reason}")


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _grade(
    verdict: Verdict,
    value: float,
    limits: tuple[float, float],
    reason: str,
    count: int | None = None,
) -> None:
    if count is not None and count < MIN_EVENTS:
        return
    degraded, broken = limits
    if value >= broken:
        verdict.flag(RunHealth.broken, reason)
    elif value >= degraded:
        verdict.flag(RunHealth.degraded, reason)


def evaluate(run: RunFacts, history: list[RunFacts]) -> Verdict:
    """Judge ``run`` against the site's earlier runs (newest first); pure, so easy to test."""
    verdict = Verdict()
    if run.status == RunStatus.interrupted:
        verdict.flag(RunHealth.degraded, f"run interrupted ({run.finish_reason})")
    elif run.status == RunStatus.failed:
        verdict.flag(RunHealth.broken, f"run failed ({run.finish_reason})")
    if run.pages == 0:
        verdict.flag(RunHealth.broken, "no page was fetched")
        return verdict

    if run.streak >= max(STREAK_MIN_PAGES, 0.05 * run.parsed_pages) and run.streak_start:
        verdict.flag(
            RunHealth.broken,
            f"items stopped parsing at page {run.streak_start}: the last {run.streak} pages "
            "yielded no offer (the layout changed?)",
        )
    if run.parsed_pages and run.offers_seen == 0:
        verdict.flag(RunHealth.broken, f"no offer parsed from {run.parsed_pages} pages")
    _grade(
        verdict,
        _rate(run.parse_failures, run.parsed_pages),
        PARSE_FAILURE_RATE,
        f"parse failures on {run.parse_failures} of {run.parsed_pages} pages "
        f"({_rate(run.parse_failures, run.parsed_pages):.0%})",
    )
    _grade(
        verdict,
        _rate(run.ban_pages, run.pages),
        BAN_RATE,
        f"ban/captcha pages: {run.ban_pages} of {run.pages} ({_rate(run.ban_pages, run.pages):.0%})",
        run.ban_pages,
    )
    _grade(
        verdict,
        _rate(run.truncated_pages, run.pages),
        TRUNCATED_RATE,
        f"truncated pages: {run.truncated_pages} of {run.pages}",
        run.truncated_pages,
    )
    _grade(
        verdict,
        _rate(run.given_up, run.pages),
        GIVEN_UP_RATE,
        f"{run.given_up} ban/truncated pages still bad after retries: not parsed",
    )
    errors = run.http_errors
    if run.kind == REFRESH:
        errors = max(0, errors - run.gone)
        _grade(
            verdict,
            _rate(run.gone, run.pages),
            GONE_RATE,
            f"{run.gone} of {run.pages} pages to refresh are gone (404/410): URLs changed?",
            run.gone,
        )
    _grade(
        verdict,
        _rate(errors, run.pages),
        ERROR_RATE,
        f"HTTP 4xx/5xx on {errors} of {run.pages} pages ({_rate(errors, run.pages):.0%})",
        errors,
    )
    _grade(
        verdict,
        _rate(run.suspect_items, run.items),
        SUSPECT_RATE,
        f"{run.suspect_items} of {run.items} prices quarantined as suspect",
    )

    if run.kind == REFRESH:
        history = []  # a refresh sees a planned share of the site: rates only, no counts
    usable = [
        r
        for r in history
        if r.status == RunStatus.finished and r.health != "broken" and r.kind != REFRESH
    ][:5]
    no_price_rate = _rate(run.no_price, run.items)
    if usable:
        usual_no_price = median(_rate(r.no_price, r.items) for r in usable)
        _grade(
            verdict,
            no_price_rate - usual_no_price,
            NO_PRICE_RISE,
            f"no price on {no_price_rate:.0%} of offers (usually {usual_no_price:.0%})",
        )
        usual = median(r.offers_seen for r in usable)
        if run.status == RunStatus.finished and usual > 0:
            share = run.offers_seen / usual
            if share < ITEM_DROP[0]:
                verdict.flag(
                    RunHealth.broken if share < ITEM_DROP[1] else RunHealth.degraded,
                    f"saw {run.offers_seen} offers, usually {usual:.0f} ({share:.0%})",
                )
    else:
        _grade(
            verdict,
            no_price_rate,
            NO_PRICE_RATE_WITHOUT_HISTORY,
            f"no price on {no_price_rate:.0%} of offers",
        )
    return verdict


def evaluate_run(engine: Engine, run_id: int) -> Verdict:
    """Judge a finished run against the site's previous runs and store the verdict."""
    run = get_run(engine, run_id)
    if run is None:
        raise LookupError(f"no crawl run {run_id}")
    # A scale-out batch is compared with earlier runs of the same batch only (its offer count
    # is a share of the site's), a whole-site crawl with whole-site crawls, a full crawl with
    # full crawls (a refresh run is never compared: see evaluate).
    key, kind = batch_key(run.trigger), run.kind or "full"
    history = [
        RunFacts.from_run(r)
        for r in previous_runs(engine, run.site_id, run_id, limit=40)
        if batch_key(r.trigger) == key and (r.kind or "full") == kind
    ][:10]
    verdict = evaluate(RunFacts.from_run(run), history)
    set_health(engine, run_id, verdict.health, verdict.reasons)
    return verdict
