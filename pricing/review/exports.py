"""Approved prices as a table for the shop system: CSV or XLSX, from the web app or the CLI.

Text cells that a spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@`` ...) get a
leading apostrophe: an exported file must never run anything when a colleague opens it.
"""

from __future__ import annotations

import io
from typing import Literal

import pandas as pd
from sqlalchemy import Connection, Engine, select

from pricing.review.actions import EXPORTABLE, Actor, cents, mark_exported
from pricing.store.models import Product, Suggestion

S, P = Suggestion.__table__.c, Product.__table__.c
Format = Literal["csv", "xlsx"]
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
COLUMNS = [
    "suggestion_id",
    "sku",
    "title",
    "currency",
    "current_price",
    "new_price",
    "change_pct",
    "strategy",
    "status",
    "decided_at",
]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def approved_frame(conn: Connection) -> pd.DataFrame:
    """Every approved (or auto-approved) suggestion not yet exported, at its final price."""
    rows = conn.execute(
        select(
            S.id.label("suggestion_id"),
            P.sku,
            P.title,
            S.currency,
            S.current_price,
            S.final_price,
            S.proposed_price,
            S.change_pct,
            S.strategy,
            S.status,
            S.decided_at,
        )
        .join(Product, P.id == S.product_id)
        .where(S.status.in_(EXPORTABLE))
        .order_by(P.sku, S.id)
    ).all()
    frame = pd.DataFrame(
        rows, columns=[*COLUMNS[:5], "final_price", "proposed_price", *COLUMNS[6:]]
    )
    frame["new_price"] = frame["final_price"].where(
        frame["final_price"].notna(), frame["proposed_price"]
    )
    for col in ("current_price", "new_price"):
        frame[col] = frame[col].map(lambda v: None if pd.isna(v) else cents(v))
    return frame[COLUMNS]


def _defuse(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def render_frame(frame: pd.DataFrame, fmt: Format) -> bytes:
    frame = frame.copy()
    for col in ("sku", "title", "strategy", "status", "currency"):
        frame[col] = frame[col].map(_defuse)
    frame["decided_at"] = frame["decided_at"].map(lambda d: d.isoformat() if pd.notna(d) else "")
    if fmt == "csv":
        return frame.to_csv(index=False).encode("utf-8")
    for col in ("current_price", "new_price"):  # numbers, not text, in the spreadsheet
        frame[col] = frame[col].map(lambda v: float(v) if v is not None else None)
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        frame.to_excel(writer, index=False, sheet_name="approved prices")
    return buffer.getvalue()


def export_approved(engine: Engine, fmt: Format, *, mark: bool, actor: Actor) -> tuple[bytes, int]:
    """The export file and its row count; with ``mark`` the exported rows (exactly those) become
    ``exported`` in the same transaction, so nothing approved meanwhile is marked unseen."""
    with engine.begin() as conn:
        frame = approved_frame(conn)
        data = render_frame(frame, fmt)
        if mark and len(frame):
            mark_exported(conn, actor, [int(i) for i in frame["suggestion_id"]])
    return data, len(frame)
