"""Price elasticity of demand from our own price changes and daily conversion.

Model (a log-log demand curve, estimated as a Poisson regression so days with zero orders count):

    E[orders_it] = views_it * exp(a_i + e * ln(price_it) + g * ln(competitor_it))

``views`` is the exposure (traffic we did not buy with the price), ``a_i`` a fixed effect per SKU
(a cheap and a dear SKU convert differently for reasons other than price), ``e`` the elasticity:
+1% on our price changes orders by e%. When competitor prices are known they enter as a
control, so a competitor's price cut is not mistaken for our own price rise.

The SKU effects are concentrated out in closed form, leaving a Newton iteration over one or two
numbers. Standard errors are sandwich (robust) errors, clustered by SKU when a category pools
many SKUs: real demand is over-dispersed, and plain Poisson errors would be too confident.

A SKU gets its own estimate only with enough days, orders and price movement; otherwise it gets
its category's pooled estimate (``pooled``), and a category without enough gets None with the
note "not enough data". That is the honest answer when prices never moved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

Z95 = 1.959964


@dataclass(frozen=True, slots=True)
class Requirements:
    """What "enough data" means; a SKU's own estimate needs all of these."""

    sku_days: int = 28
    sku_orders: int = 40
    category_days: int = 28
    category_orders: int = 100
    price_spread: float = 0.02  # std of ln(price) within SKU: the price must have moved


@dataclass(frozen=True, slots=True)
class Estimate:
    elasticity: float | None
    stderr: float | None
    ci_low: float | None
    ci_high: float | None
    n_days: int
    n_skus: int
    orders: int
    note: str | None = None


def fit_poisson_fe(
    y: np.ndarray, exposure: np.ndarray, x: np.ndarray, groups: np.ndarray, *, cluster: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and covariance of a Poisson model with a fixed effect per group.

    ``x`` is (n, k). Returns (beta, cov). Raises ValueError when the design has no variation.
    """
    n, k = x.shape
    codes, groups = np.unique(groups, return_inverse=True)
    n_groups = len(codes)
    y_sum = np.bincount(groups, y, n_groups)
    beta = np.zeros(k)
    for _ in range(50):
        lin = exposure * np.exp(x @ beta)
        denom = np.bincount(groups, lin, n_groups)
        alpha = np.where(y_sum > 0, y_sum / np.maximum(denom, 1e-300), 0.0)
        mu = lin * alpha[groups]
        mu_sum = np.maximum(np.bincount(groups, mu, n_groups), 1e-300)
        xbar = np.stack([np.bincount(groups, mu * x[:, j], n_groups) for j in range(k)], 1)
        xc = x - (xbar / mu_sum[:, None])[groups]
        score = xc.T @ (y - mu)
        hess = (xc * mu[:, None]).T @ xc
        if np.linalg.matrix_rank(hess) < k:
            raise ValueError("no price variation to estimate from")
        step = np.linalg.solve(hess, score)
        beta = beta + np.clip(step, -2, 2)
        if np.max(np.abs(step)) < 1e-9:
            break
    contrib = xc * (y - mu)[:, None]
    if cluster and n_groups >= 10:
        per = np.stack([np.bincount(groups, contrib[:, j], n_groups) for j in range(k)], 1)
        meat = per.T @ per * n_groups / (n_groups - 1)
    else:
        meat = contrib.T @ contrib * n / max(n - k - n_groups, 1)
    bread = np.linalg.inv(hess)
    return beta, bread @ meat @ bread


def estimate(
    frame: pd.DataFrame, *, cluster: bool, min_days: int, min_orders: int, spread: float
) -> Estimate:
    """Elasticity from daily rows (sku, day, views, orders, price[, competitor])."""
    data = frame[(frame["views"] > 0) & (frame["price"] > 0)]
    n_days = int(data["day"].nunique()) if len(data) else 0
    orders = int(data["orders"].sum()) if len(data) else 0
    n_skus = int(data["sku"].nunique()) if len(data) else 0

    def none(note: str) -> Estimate:
        return Estimate(None, None, None, None, n_days, n_skus, orders, note)

    if n_days < min_days or orders < min_orders:
        return none(f"not enough data ({n_days} days, {orders} orders)")
    lnp = np.log(data["price"].to_numpy(float))
    within = lnp - data.groupby("sku")["price"].transform(lambda p: np.log(p).mean()).to_numpy()
    if within.std() < spread:
        return none("not enough data (our price hardly moved)")
    columns = [lnp]
    if "competitor" in data and data["competitor"].notna().all() and (data["competitor"] > 0).all():
        columns.append(np.log(data["competitor"].to_numpy(float)))
    x = np.column_stack(columns)
    try:
        beta, cov = fit_poisson_fe(
            data["orders"].to_numpy(float),
            data["views"].to_numpy(float),
            x,
            data["sku"].to_numpy(),
            cluster=cluster,
        )
    except (ValueError, np.linalg.LinAlgError):
        if x.shape[1] == 1:
            return none("not enough data (no usable price variation)")
        return estimate(
            frame.drop(columns="competitor"),
            cluster=cluster,
            min_days=min_days,
            min_orders=min_orders,
            spread=spread,
        )
    e, se = float(beta[0]), float(np.sqrt(max(cov[0, 0], 0.0)))
    if not np.isfinite(e) or not np.isfinite(se):
        return none("not enough data (the fit did not converge)")
    return Estimate(e, se, e - Z95 * se, e + Z95 * se, n_days, n_skus, orders)


def elasticities(
    clicks: pd.DataFrame, req: Requirements | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per category and per SKU: (categories, skus) frames with elasticity, stderr, CI, note.

    ``clicks`` has sku, category, day, views, orders, price and optionally ``competitor`` (the
    median matched competitor price that day).
    """
    req = req or Requirements()
    cat_rows, sku_rows = [], []
    usable = clicks[(clicks["views"] > 0) & (clicks["price"] > 0)]
    lnp = np.log(usable["price"].astype(float))
    per_sku = pd.DataFrame(
        {
            "days": usable.groupby("sku")["day"].nunique(),
            "orders": usable.groupby("sku")["orders"].sum(),
            "spread": lnp.groupby(usable["sku"]).std(ddof=0),
        }
    )
    # Only SKUs that could pass are fitted one by one; the rest are pooled without a fit.
    candidates = set(
        per_sku.index[
            (per_sku["days"] >= req.sku_days)
            & (per_sku["orders"] >= req.sku_orders)
            & (per_sku["spread"] >= req.price_spread)
        ]
    )
    for category, part in clicks.groupby("category", sort=True):
        est = estimate(
            part,
            cluster=True,
            min_days=req.category_days,
            min_orders=req.category_orders,
            spread=req.price_spread,
        )
        cat_rows.append(_row("category", category, est))
        for sku, rows in part.groupby("sku", sort=True):
            if sku in candidates:
                own = estimate(
                    rows,
                    cluster=False,
                    min_days=req.sku_days,
                    min_orders=req.sku_orders,
                    spread=req.price_spread,
                )
            else:
                stats = per_sku.loc[sku] if sku in per_sku.index else None
                days = int(stats["days"]) if stats is not None else 0
                orders = int(stats["orders"]) if stats is not None else 0
                own = Estimate(
                    None,
                    None,
                    None,
                    None,
                    days,
                    1,
                    orders,
                    f"not enough data ({days} days, {orders} orders)",
                )
            if own.elasticity is not None:
                sku_rows.append(_row("sku", sku, own, category=category))
                continue
            pooled = est.elasticity is not None
            note = f"pooled from category {category}: {own.note}" if pooled else own.note
            sku_rows.append(
                _row(
                    "sku",
                    sku,
                    Estimate(
                        est.elasticity,
                        est.stderr,
                        est.ci_low,
                        est.ci_high,
                        own.n_days,
                        1,
                        own.orders,
                        note,
                    ),
                    category=category,
                    pooled=pooled,
                )
            )
    return pd.DataFrame(cat_rows), pd.DataFrame(sku_rows)


def _row(scope: str, key: str, est: Estimate, *, category: str | None = None, pooled=False) -> dict:
    row = {"scope": scope, "key": key}
    if category is not None:
        row["category"] = category
    row.update(
        elasticity=est.elasticity,
        stderr=est.stderr,
        ci_low=est.ci_low,
        ci_high=est.ci_high,
        n_days=est.n_days,
        n_skus=est.n_skus,
        orders=est.orders,
        pooled=pooled,
        note=est.note,
    )
    return row
