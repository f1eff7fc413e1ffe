"""Our own shop's daily click data, from a demand model with a known elasticity.

Per SKU and day: views ~ Poisson(popularity); clicks ~ Binomial(views, CTR); add-to-cart ~
Binomial(clicks, c0 * (our price / competitors' price) ** e); orders ~ Binomial(add-to-cart,
0.5). So expected orders per click scale as price ** e, with e the category's true elasticity
(``Market.true_elasticity``), and analytics can be checked against it. Our price moves in
steps every two weeks so the elasticity is identifiable from the data.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from shopsim.vocab import CATEGORIES

if TYPE_CHECKING:
    from shopsim.market import Market

CTR = 0.3
BASE_ADD_TO_CART = 0.12
BUY_RATE = 0.5
PRICE_STEP_DAYS = 14


def clicks_frame(market: Market, days: int = 90) -> pd.DataFrame:
    """Daily rows ``date,sku,views,clicks,add_to_cart,orders,revenue,price`` (rows with views)."""
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    p = market.products
    rng = np.random.default_rng([market.seed, 11])
    skus = np.flatnonzero(p.in_catalog)
    n = len(skus)
    elasticity = np.array([c.elasticity for c in CATEGORIES])[p.category[skus]]
    reference = p.base_usd[skus]  # what competitors charge, on average
    base_price = reference * p.our_price_factor[skus]

    popularity = rng.lognormal(np.log(0.8), 1.2, n)
    steps = days // PRICE_STEP_DAYS + 1
    multipliers = rng.uniform(0.85, 1.15, (n, steps))
    multipliers[:, -1] = 1.0  # the last step ends at today's catalog price
    day_index = np.arange(days)
    step_of_day = steps - 1 - (days - 1 - day_index) // PRICE_STEP_DAYS
    price = np.round(base_price[:, None] * multipliers[:, step_of_day], 2)

    views = rng.poisson(popularity[:, None], (n, days))
    clicks = rng.binomial(views, CTR)
    p_cart = np.clip(
        BASE_ADD_TO_CART * (price / reference[:, None]) ** elasticity[:, None], 0, 0.95
    )
    add_to_cart = rng.binomial(clicks, p_cart)
    orders = rng.binomial(add_to_cart, BUY_RATE)

    end = market.clock.now().date()
    dates = np.array([end - timedelta(days=days - d) for d in range(days)], dtype="datetime64[D]")
    keep = views > 0
    rows, cols = np.nonzero(keep)
    return pd.DataFrame(
        {
            "date": dates[cols],
            "sku": np.array([f"PW-{i:06d}" for i in skus], dtype=object)[rows],
            "views": views[keep],
            "clicks": clicks[keep],
            "add_to_cart": add_to_cart[keep],
            "orders": orders[keep],
            "revenue": np.round(orders[keep] * price[keep], 2),
            "price": price[keep],
        }
    )
