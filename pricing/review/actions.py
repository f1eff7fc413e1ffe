"""Every change a person makes through the review app, each one transaction with its audit entry.

Pages, the JSON API and the CLI all call these functions, so a decision made anywhere leaves
the same trail: a ``decisions`` row per suggestion touched and an ``audit_log`` entry. Status
changes are guarded (``WHERE status IN (...)``) rather than read-then-write, because the rules
engine writes suggestions at the same time; a row that moved on meanwhile is reported, not
overwritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import Connection, Engine, insert, select, update

from pricing.review.auth import CurrentUser
from pricing.review.queries import SuggestionFilter, matching_ids
from pricing.store.models import (
    AuditLog,
    Decision,
    Match,
    MatchStatus,
    Product,
    ProductPriceChange,
    Suggestion,
    SuggestionStatus,
)

S, P = Suggestion.__table__.c, Product.__table__.c
St = SuggestionStatus

# Which statuses each action may start from.
DECIDABLE = {
    "approve": (St.pending, St.rejected),
    "reject": (St.pending, St.approved, St.auto_approved),
    "edit": (St.pending, St.approved, St.auto_approved, St.rejected),
}
EXPORTABLE = (St.approved, St.auto_approved)
APPLICABLE = (St.approved, St.auto_approved, St.exported)
_CHUNK = 5000


class ActionError(ValueError):
    """The change was refused; the message says why, for the person who asked."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it: a logged-in user, or a named process ("cli") with no user row."""

    name: str
    user_id: int | None = None

    @classmethod
    def of(cls, user: CurrentUser) -> Actor:
        return cls(user.name, user.id)


def now() -> datetime:
    return datetime.now(UTC)


def audit(
    conn: Connection,
    actor: Actor,
    action: str,
    entity: str,
    entity_id=None,
    *,
    old=None,
    new=None,
    count: int = 1,
    details: dict | None = None,
) -> int:
    return conn.execute(
        insert(AuditLog)
        .values(
            at=now(),
            user_id=actor.user_id,
            actor=actor.name,
            action=action,
            entity=entity,
            entity_id=None if entity_id is None else str(entity_id),
            old_value=None if old is None else str(old),
            new_value=None if new is None else str(new),
            count=count,
            details=details,
        )
        .returning(AuditLog.id)
    ).scalar_one()


def cents(value: Decimal | None) -> Decimal | None:
    """58.4000 (the store keeps 4 places) -> 58.40; a price with real sub-cent digits stays."""
    if value is None:
        return None
    value = Decimal(value)
    rounded = value.quantize(Decimal("0.01"))
    return rounded if rounded == value else value


def parse_price(text: str | Decimal | float) -> Decimal:
    """A price typed by a person: positive, at most 2 decimals after rounding, sane size."""
    try:
        value = Decimal(str(text).strip().replace(",", "."))
    except InvalidOperation:
        raise ActionError(f"price: {str(text)[:40]!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise ActionError("price: must be a positive number")
    if value >= Decimal("1e9"):
        raise ActionError("price: too large")
    return value.quantize(Decimal("0.01"))


def _check_bounds(price: Decimal, row) -> None:
    if row.floor is not None and price < row.floor:
        raise ActionError(f"price: {price} is below this product's floor {row.floor:.2f}")
    if row.ceiling is not None and price > row.ceiling:
        raise ActionError(f"price: {price} is above this product's ceiling {row.ceiling:.2f}")
    if row.map_price is not None and price < row.map_price:
        raise ActionError(
            f"price: {price} is below the minimum advertised price {row.map_price:.2f}"
        )


def decide(
    engine: Engine,
    actor: Actor,
    suggestion_id: int,
    action: str,
    price: str | Decimal | None = None,
    note: str | None = None,
) -> None:
    """Approve, reject or edit (= approve at another price) one suggestion."""
    if action not in DECIDABLE:
        raise ActionError(f"action: {action!r} is not one of {', '.join(DECIDABLE)}")
    with engine.begin() as conn:
        row = conn.execute(
            select(
                S.status, S.proposed_price, S.final_price, P.sku, P.floor, P.ceiling, P.map_price
            )
            .join_from(Suggestion, Product, P.id == S.product_id)
            .where(S.id == suggestion_id)
        ).first()
        if row is None:
            raise ActionError(f"suggestion {suggestion_id} does not exist")
        before = row.final_price if row.final_price is not None else row.proposed_price
        after, new_status, values = before, St.approved, {}
        if action == "reject":
            new_status = St.rejected
        elif action == "edit":
            if price is None:
                raise ActionError("price: required to edit")
            after = parse_price(price)
            _check_bounds(after, row)
            values["final_price"] = after
        changed = conn.execute(
            update(Suggestion)
            .where(S.id == suggestion_id, S.status.in_(DECIDABLE[action]))
            .values(status=new_status, decided_at=now(), **values)
        ).rowcount
        if not changed:
            raise ActionError(f"suggestion {suggestion_id} is {row.status}: cannot {action} it")
        conn.execute(
            insert(Decision).values(
                suggestion_id=suggestion_id,
                user_id=actor.user_id,
                decided_at=now(),
                action=action,
                old_price=before,
                new_price=after,
                note=note,
            )
        )
        audit(
            conn,
            actor,
            action,
            "suggestion",
            suggestion_id,
            old=f"{row.status} {cents(before)}",
            new=f"{new_status} {cents(after)}",
            details={"sku": row.sku},
        )


def bulk_decide(engine: Engine, actor: Actor, f: SuggestionFilter, action: str) -> int:
    """Approve or reject every *pending* suggestion the filter matches: one transaction,
    one decision per suggestion, one audit entry carrying the count. Returns the count."""
    if action not in ("approve", "reject"):
        raise ActionError(f"action: bulk {action!r} is not supported (approve or reject)")
    new_status = St.approved if action == "approve" else St.rejected
    at = now()
    with engine.begin() as conn:
        touched = conn.execute(
            update(Suggestion)
            .where(S.id.in_(matching_ids(f)), S.status == St.pending)
            .values(status=new_status, decided_at=at)
            .returning(S.id, S.proposed_price)
        ).all()
        rows = [
            {
                "suggestion_id": i,
                "user_id": actor.user_id,
                "decided_at": at,
                "action": action,
                "old_price": p,
                "new_price": p,
                "note": "bulk",
            }
            for i, p in touched
        ]
        for start in range(0, len(rows), _CHUNK):
            conn.execute(insert(Decision), rows[start : start + _CHUNK])
        audit(
            conn,
            actor,
            f"bulk_{action}",
            "suggestion",
            None,
            old=St.pending,
            new=new_status,
            count=len(touched),
            details={"filter": f.filter_params()},
        )
    return len(touched)


def mark_exported(conn: Connection, actor: Actor, ids: Sequence[int]) -> int:
    """Mark these (exported-just-now) suggestions exported, inside the caller's transaction."""
    count = 0
    for start in range(0, len(ids), _CHUNK):
        count += conn.execute(
            update(Suggestion)
            .where(S.id.in_(ids[start : start + _CHUNK]), S.status.in_(EXPORTABLE))
            .values(status=St.exported)
        ).rowcount
    audit(
        conn,
        actor,
        "mark_exported",
        "suggestion",
        None,
        old="approved",
        new=St.exported,
        count=count,
    )
    return count


def apply_prices(engine: Engine, actor: Actor, ids: Sequence[int] | None = None) -> int:
    """Make approved (or exported) suggestions our price: products.price, a price-change row and
    an audit entry per product (each one can be rolled back). ``ids=None`` means all of them."""
    at = now()
    with engine.begin() as conn:
        stmt = (
            select(S.id, S.product_id, S.proposed_price, S.final_price, P.price, P.sku)
            .join_from(Suggestion, Product, P.id == S.product_id)
            .where(S.status.in_(APPLICABLE))
            .order_by(S.id)
        )
        if ids is not None:
            stmt = stmt.where(S.id.in_(list(ids)))
        rows = conn.execute(stmt).all()
        current: dict[int, Decimal | None] = {}
        for r in rows:
            new_price = r.final_price if r.final_price is not None else r.proposed_price
            old_price = current.get(r.product_id, r.price)
            current[r.product_id] = new_price
            conn.execute(
                update(Product)
                .where(P.id == r.product_id)
                .values(price=new_price, price_changed_at=at, updated_at=at)
            )
            conn.execute(
                insert(ProductPriceChange).values(
                    product_id=r.product_id,
                    changed_at=at,
                    old_price=old_price,
                    new_price=new_price,
                    source="suggestion",
                    suggestion_id=r.id,
                )
            )
            conn.execute(update(Suggestion).where(S.id == r.id).values(status=St.applied))
            audit(
                conn,
                actor,
                "apply_price",
                "product",
                r.sku,
                old=cents(old_price),
                new=cents(new_price),
                details={"suggestion_id": r.id},
            )
    return len(rows)


def rollback_price(engine: Engine, actor: Actor, audit_id: int) -> Decimal | None:
    """Undo an applied price: back to the one before. Only the product's latest change can be
    undone, so a rollback never silently discards a newer price."""
    C = ProductPriceChange.__table__.c
    with engine.begin() as conn:
        entry = conn.execute(select(AuditLog).where(AuditLog.id == audit_id)).first()
        if entry is None or entry.action != "apply_price":
            raise ActionError(f"audit entry {audit_id} is not an applied price")
        product = conn.execute(select(P.id, P.price).where(P.sku == entry.entity_id)).first()
        if product is None:
            raise ActionError(f"product {entry.entity_id} no longer exists")
        latest = conn.execute(
            select(C.source, C.suggestion_id, C.old_price, C.new_price)
            .where(C.product_id == product.id)
            .order_by(C.id.desc())
            .limit(1)
        ).first()
        suggestion_id = (entry.details or {}).get("suggestion_id")
        if latest is None or latest.source != "suggestion" or latest.suggestion_id != suggestion_id:
            raise ActionError(
                f"{entry.entity_id}: its price changed again after this; only the latest change "
                "can be rolled back"
            )
        at = now()
        conn.execute(
            update(Product)
            .where(P.id == product.id)
            .values(price=latest.old_price, price_changed_at=at, updated_at=at)
        )
        conn.execute(
            insert(ProductPriceChange).values(
                product_id=product.id,
                changed_at=at,
                old_price=product.price,
                new_price=latest.old_price,
                source="rollback",
                suggestion_id=suggestion_id,
            )
        )
        audit(
            conn,
            actor,
            "rollback_price",
            "product",
            entry.entity_id,
            old=cents(product.price),
            new=cents(latest.old_price),
            details={"rollback_of": audit_id},
        )
    return latest.old_price


def decide_match(engine: Engine, actor: Actor, match_id: int, verdict: str) -> str:
    """A manager confirms or rejects a product match; final, survives re-matching."""
    status = {"confirm": MatchStatus.confirmed, "reject": MatchStatus.rejected}.get(verdict)
    if status is None:
        raise ActionError(f"verdict: {verdict!r} is not confirm or reject")
    M = Match.__table__.c
    with engine.begin() as conn:
        old = conn.execute(select(M.status).where(M.id == match_id)).scalar_one_or_none()
        if old is None:
            raise ActionError(f"match {match_id} does not exist")
        conn.execute(
            update(Match)
            .where(M.id == match_id)
            .values(status=status, decided_by=actor.user_id, updated_at=now())
        )
        audit(conn, actor, f"match_{verdict}", "match", match_id, old=old, new=status)
    return status
