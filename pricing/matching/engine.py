"""Store matching: link competitor offers in the store to our products, incrementally.

Each run examines only offers first seen or whose identity (title, brand, GTIN, MPN) changed
since the previous run started (``offers.first_seen`` / ``offers.identity_changed_at``); when
SKUs were added since then, every offer is examined, since a new SKU may be the
product an old offer was waiting for. A manager's verdict is final: an offer with a
``confirmed`` match is never re-matched, and a ``rejected`` pair is never proposed again.
Only ``accepted`` and ``review`` rows are machine-made, so only those are replaced.
An accepted match that an unknown sibling model fits as well (:mod:`pricing.matching.siblings`)
waits for a manager; the siblings are looked for among every offer in the store, not only the
ones this run examines.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, func, insert, or_, select, update

from pricing.matching.attributes import Profile, profile
from pricing.matching.matcher import Matcher, Proposal
from pricing.matching.pairwise import Thresholds
from pricing.matching.siblings import Market, SiblingGuard
from pricing.store.models import Match, MatchRun, MatchStatus, Offer, Product, utcnow

FINAL = (MatchStatus.confirmed.value, MatchStatus.rejected.value)
MACHINE = (MatchStatus.accepted.value, MatchStatus.review.value)
CHUNK = 1000
# Up to this many words, the store filters the titles a sibling search reads (one LIKE each);
# beyond, reading every title once is cheaper than testing each against every word.
SQL_FILTERED_WORDS = 50


@dataclass(slots=True)
class MatchReport:
    run_id: int | None = None
    full: bool = False
    products: int = 0
    offers_examined: int = 0
    skipped_confirmed: int = 0
    accepted: int = 0
    review: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    siblings: int = 0  # accepted matches sent to review: an unknown sibling fits them too
    siblings_s: float = 0.0  # time spent looking for siblings in the store

    def summary(self) -> str:
        methods = ", ".join(f"{k}={v}" for k, v in sorted(self.by_method.items())) or "none"
        kind = "full" if self.full else "incremental"
        return (
            f"match run {self.run_id} ({kind}): {self.offers_examined} offers examined against "
            f"{self.products} products; accepted {self.accepted}, review {self.review}, "
            f"kept {self.skipped_confirmed} confirmed; methods: {methods}; "
            f"{self.siblings} to review as an unknown sibling fits them too "
            f"({self.siblings_s:.1f}s)"
        )


def _as_utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:  # SQLite hands back naive datetimes
        return value.replace(tzinfo=UTC)
    return value


def _last_run_start(conn) -> datetime | None:
    row = conn.execute(
        select(MatchRun.started_at)
        .where(MatchRun.finished_at.is_not(None))
        .order_by(MatchRun.started_at.desc())
        .limit(1)
    ).first()
    return _as_utc(row[0]) if row else None


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


def _propose_by_shop(
    engine: Engine,
    matcher: Matcher,
    todo: Sequence,
    profiles: Sequence[Profile],
    rejected: set[tuple[int, int]],
) -> list[Proposal]:
    """Proposals for ``todo`` (positions as in ``todo``), one shop at a time, each judged with
    that shop's house-style words known (learnt from all its titles, not only the new ones)."""
    by_site: dict[int, list[int]] = defaultdict(list)
    for i, o in enumerate(todo):
        by_site[o.site_id].append(i)
    proposals: list[Proposal] = []
    for site_id, positions in by_site.items():
        with engine.connect() as conn:
            titles = conn.execute(
                select(Offer.title, Offer.brand).where(Offer.site_id == site_id)
            ).all()
        idf = matcher.house_style(profile(t, b) for t, b in titles)
        local = {pos: k for k, pos in enumerate(positions)}
        exclude = {(local[o], p) for o, p in rejected if o in local}
        for prop in matcher.propose([profiles[i] for i in positions], exclude=exclude, idf=idf):
            proposals.append(replace(prop, offer=positions[prop.offer]))
    return proposals


def _store_market(engine: Engine) -> Market:
    """Every offer in the store, as (title, brand, gtin, mpn); with few words, only the
    titles that contain one (a case-insensitive LIKE: a prefilter, the guard checks words)."""

    def rows(words: Sequence[str]):
        query = select(Offer.title, Offer.brand, Offer.gtin, Offer.mpn)
        if len(words) <= SQL_FILTERED_WORDS:
            query = query.where(or_(*(Offer.title.ilike(f"%{w}%") for w in words)))
        with engine.connect() as conn:
            yield from conn.execute(query)

    return rows


def run_matching(
    engine: Engine,
    *,
    full: bool = False,
    thresholds: Thresholds | None = None,
    now: datetime | None = None,
) -> MatchReport:
    """Match new and changed offers (all offers with ``full``); returns what was done."""
    started = now or utcnow()
    report = MatchReport()
    with engine.connect() as conn:
        last = None if full else _last_run_start(conn)
        products = conn.execute(
            select(Product.id, Product.sku, Product.title, Product.brand, Product.gtin, Product.mpn)
        ).all()
        if last is not None:
            newest = conn.execute(select(func.max(Product.created_at))).scalar()
            if newest is not None and _as_utc(newest) >= last:
                last = None  # new SKUs: every offer deserves another look
        query = select(Offer.id, Offer.site_id, Offer.title, Offer.brand, Offer.gtin, Offer.mpn)
        if last is not None:
            query = query.where(or_(Offer.first_seen >= last, Offer.identity_changed_at >= last))
        offers = conn.execute(query.order_by(Offer.id)).all()
        report.full = last is None
        finals: list[tuple[int, int, str]] = []
        for ids in _chunks([o.id for o in offers]):
            finals += conn.execute(
                select(Match.offer_id, Match.product_id, Match.status).where(
                    Match.offer_id.in_(ids), Match.status.in_(FINAL)
                )
            ).all()
    report.products = len(products)
    confirmed = {o for o, _, s in finals if s == MatchStatus.confirmed.value}
    report.skipped_confirmed = len(confirmed)
    todo = [o for o in offers if o.id not in confirmed]
    report.offers_examined = len(todo)

    rows: list[dict] = []
    if products and todo:
        matcher = Matcher([profile(p.title, p.brand, p.gtin, p.mpn) for p in products], thresholds)
        position = {o.id: i for i, o in enumerate(todo)}
        product_pos = {p.id: i for i, p in enumerate(products)}
        rejected = {
            (position[o], product_pos[p])
            for o, p, s in finals
            if s == MatchStatus.rejected.value and o in position and p in product_pos
        }
        offer_profiles = [profile(o.title, o.brand, o.gtin, o.mpn) for o in todo]
        proposals = _propose_by_shop(engine, matcher, todo, offer_profiles, rejected)
        t = time.perf_counter()
        guarded = SiblingGuard.of(matcher).review(proposals, offer_profiles, _store_market(engine))
        report.siblings_s = time.perf_counter() - t
        report.siblings = sum(
            a.decision.is_match and not b.decision.is_match
            for a, b in zip(proposals, guarded, strict=True)
        )
        proposals = guarded
        for prop in proposals:
            d = prop.decision
            evidence = dict(d.evidence)
            if prop.runner_up is not None:
                evidence["ambiguous_with"] = products[prop.runner_up].sku
            status = MatchStatus.accepted if d.is_match else MatchStatus.review
            rows.append(
                {
                    "product_id": products[prop.product].id,
                    "offer_id": todo[prop.offer].id,
                    "confidence": d.confidence,
                    "method": d.method,
                    "status": status.value,
                    "evidence": evidence,
                    "created_at": started,
                    "updated_at": started,
                }
            )
            if d.is_match:
                report.accepted += 1
            else:
                report.review += 1
            report.by_method[d.method] = report.by_method.get(d.method, 0) + 1

    with engine.begin() as conn:
        for ids in _chunks([o.id for o in todo]):
            conn.execute(delete(Match).where(Match.offer_id.in_(ids), Match.status.in_(MACHINE)))
        for i in range(0, len(rows), 5000):
            conn.execute(insert(Match), rows[i : i + 5000])
        report.run_id = conn.execute(
            insert(MatchRun)
            .values(
                started_at=started,
                finished_at=utcnow(),
                full=report.full,
                offers_examined=report.offers_examined,
                accepted=report.accepted,
                review=report.review,
            )
            .returning(MatchRun.id)
        ).scalar_one()
    return report


def set_match_status(
    engine: Engine, match_id: int, status: str, *, user_id: int | None = None
) -> None:
    """Record a manager's verdict (confirmed or rejected) on a match; it survives re-matching."""
    if status not in FINAL:
        raise ValueError(f"a manager's verdict is one of {FINAL}, not {status!r}")
    with engine.begin() as conn:
        done = conn.execute(
            update(Match)
            .where(Match.id == match_id)
            .values(status=status, decided_by=user_id, updated_at=utcnow())
        ).rowcount
        if not done:
            raise LookupError(f"no match with id {match_id}")
        if status == MatchStatus.confirmed.value:
            offer_id = conn.execute(select(Match.offer_id).where(Match.id == match_id)).scalar()
            # The offer is this product: machine proposals of other products for it are moot.
            conn.execute(
                delete(Match).where(
                    Match.offer_id == offer_id, Match.id != match_id, Match.status.in_(MACHINE)
                )
            )
