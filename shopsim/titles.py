"""How one shop words a product's title: order, abbreviations, extra words, brand dropped.

Deterministic from the offer's ``title_var`` seed, so the same offer always reads the same,
and the truth can give the exact title the page shows. Hostile titles (script tags, 10 kB,
right-to-left override and zero-width characters) are what the hostile fault profile adds.
"""

from __future__ import annotations

import random

from shopsim.offers import HOSTILE_BIDI, HOSTILE_LONG, HOSTILE_SCRIPT
from shopsim.products import Products
from shopsim.vocab import ABBREVIATIONS, EXTRA_WORDS, RTL_OVERRIDE, ZERO_WIDTH


def shop_title(products: Products, pid: int, var: int, noise: float, hostile: int) -> str:
    p = products.title_parts(pid)
    rnd = random.Random(var)
    words = [p["brand"], p["line"], p["model"], p["noun"], p["size"], p["colour"]]
    if rnd.random() < noise:
        style = rnd.randrange(6)
        if style == 0:  # noun first: "Wireless Headphones Sony SoundMax SOS-1234 Black"
            words = [p["noun"], p["brand"], p["line"], p["model"], p["size"], p["colour"]]
        elif style == 1:  # brand missing
            words = [p["line"], p["model"], p["noun"], p["size"], p["colour"]]
        elif style == 2:  # details after a dash
            words = [p["brand"], p["line"], p["noun"], "-", p["model"], p["colour"], p["size"]]
        elif style == 3:  # model number left out
            words = [p["brand"], p["line"], p["noun"], p["size"], p["colour"]]
        elif style == 4:  # colour in brackets, brand in capitals
            colour = f"({p['colour']})"
            words = [p["brand"].upper(), p["line"], p["model"], p["noun"], p["size"], colour]
        else:  # size and colour with a comma
            words = [p["brand"], p["line"], p["model"], p["noun"] + ",", p["size"], p["colour"]]
    title = " ".join(w for w in words if w)
    if rnd.random() < noise / 2:
        for long, short in ABBREVIATIONS.items():
            if long in title and rnd.random() < 0.6:
                title = title.replace(long, short)
    if rnd.random() < noise / 3:
        extra = EXTRA_WORDS[rnd.randrange(len(EXTRA_WORDS))]
        title = f"{title} {extra}" if rnd.random() < 0.7 else f"{extra}! {title}"
    return hostile_title(title, hostile) if hostile else title


def hostile_title(title: str, hostile: int) -> str:
    if hostile == HOSTILE_SCRIPT:
        return f'{title} <script>alert("pwned")</script><img src=x onerror=alert(1)>'
    if hostile == HOSTILE_LONG:
        return title + " " + " ".join(["Very long title"] * 640)  # ~10 kB
    if hostile == HOSTILE_BIDI:
        return f"{ZERO_WIDTH[0]}{title}{RTL_OVERRIDE}xoB ni{ZERO_WIDTH[1:]}"
    return title
