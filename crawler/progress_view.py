"""The live table `pricewatch crawl` draws while crawls run."""

from __future__ import annotations

import time


def progress_table(results: dict, expected: dict[str, int], started: float):
    """One row per site: pages, items, 304s, errors, rate and time left.

    Time left: a site is expected to need as many pages as its last finished run (or what
    it has fetched plus what is queued, if more); the crawl ends with its slowest site.
    """
    from rich.table import Table

    table = Table("site", "state", "pages", "items", "304", "errors", "rate/s", "left")
    total_pages = total_items = total_errors = 0
    total_left = 0.0
    for result in results.values():
        rate = result.pages / result.elapsed if result.elapsed > 0 else 0.0
        estimate = max(expected.get(result.site, 0), result.pages + result.queued)
        left = (estimate - result.pages) / rate if rate > 0 and result.state == "running" else 0
        total_pages += result.pages
        total_items += result.items
        total_errors += result.errors
        total_left = max(total_left, left)
        state = result.state if result.state != "closed" else f"{result.status}/{result.health}"
        table.add_row(
            result.site,
            state,
            str(result.pages),
            str(result.items),
            str(result.not_modified),
            str(result.errors),
            f"{rate:.0f}",
            f"{left:.0f}s" if result.state == "running" else "",
        )
    elapsed = time.monotonic() - started
    table.caption = (
        f"{total_pages} pages, {total_items} items, {total_errors} errors in {elapsed:.0f}s "
        f"({total_pages / elapsed if elapsed else 0:.0f} pages/s); about {total_left:.0f}s left"
    )
    return table
