"""``pricewatch sites``, ``pricewatch crawl`` and ``pricewatch runs``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from pricing.cli.common import db_option, db_url_from_context, engine_from_context

OFFER_FIELDS = (
    "url", "title", "price", "regular_price", "currency", "availability", "stock_quantity",
    "shipping", "gtin", "mpn", "sku", "brand", "review_count", "rating", "sold_count", "rank",
    "variant", "price_source", "confidence", "disagreement",
)  # fmt: skip
SITES_DIR_OPTION = click.option(
    "--sites-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory of site YAML files (default: PRICEWATCH_SITES_DIR, else crawler/sites).",
)


def _configs(sites_dir):
    from crawler.siteconfig import SiteConfigError, load_all_site_configs

    try:
        return load_all_site_configs(sites_dir)
    except SiteConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _console():
    """Tables on stdout; wide when piped, so scripts and logs get whole rows."""
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 200)


@click.group()
def sites() -> None:
    """Competitor site configs: list them, and check one against a live page."""


@sites.command("list")
@SITES_DIR_OPTION
@db_option
def sites_list(sites_dir) -> None:
    """List the configured sites, with their last crawl's status and health.

    Every YAML file is validated; one bad file is reported (file, key, problem) and nothing
    is listed.
    """
    from rich.table import Table

    configs = _configs(sites_dir)
    last = {}
    try:
        from pricing.store.runs import latest_runs

        last = {name: run for run, name in latest_runs(engine_from_context())}
    except Exception:  # no database yet: the list still works
        pass
    table = Table("site", "mode", "base URL", "start", "polite", "cadence", "last run", "health")
    for name, config in configs.items():
        start = config.start
        starts = [
            label
            for label, present in (
                ("sitemap", start.sitemap),
                (f"{len(start.listings)} listings", start.listings),
                (f"{len(start.products)} products", start.products),
                ("api", start.api),
            )
            if present
        ]
        polite = config.politeness
        cadence = config.cadence
        run = last.get(name)
        table.add_row(
            name + ("" if config.enabled else " (disabled)"),
            config.mode,
            config.base_url,
            ", ".join(starts),
            f"{polite.concurrency}x {polite.delay:g}s" + ("" if polite.obey_robots else " !robots"),
            cadence.cron or f"every {cadence.every}",
            f"{run.started_at:%Y-%m-%d %H:%M} {run.status}" if run else "never",
            (run.health or "-") if run else "-",
        )
    _console().print(table)
    click.echo(f"{len(configs)} site(s)")


def _fetch(url: str, timeout: float) -> tuple[int, dict[str, str], bytes]:
    """One honest GET (the crawl's User-Agent), for the config-writing tool."""
    import urllib.error
    import urllib.request

    from crawler import settings

    request = urllib.request.Request(
        url, headers={"User-Agent": settings.USER_AGENT, **settings.DEFAULT_REQUEST_HEADERS}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read(16 * 1024 * 1024)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read(16 * 1024 * 1024)


def _check_robots(config, url: str) -> None:
    """What the site's robots.txt says about this URL and about our pace."""
    from protego import Protego

    from crawler import settings

    status, _headers, body = _fetch(config.absolute("/robots.txt"), config.politeness.timeout)
    if status != 200:
        click.echo(f"robots.txt: HTTP {status} (everything allowed)")
        return
    robots = Protego.parse(body.decode("utf-8", "replace"))
    allowed = robots.can_fetch(url, settings.USER_AGENT)
    click.echo(f"robots.txt: {'allowed' if allowed else 'DISALLOWED'} for {settings.BOT_NAME}")
    if not allowed and config.politeness.obey_robots:
        click.echo("  ! the crawler obeys robots.txt and will not fetch this URL")
    delay = robots.crawl_delay(settings.USER_AGENT)
    if delay is not None:
        ok = config.politeness.delay >= delay
        click.echo(
            f"  Crawl-delay: {delay:g}s; politeness.delay is {config.politeness.delay:g}s"
            + (
                ""
                if ok
                else (
                    f" (the crawler waits {delay:g}s: robots.txt's Crawl-delay wins)"
                    if config.politeness.obey_robots
                    else " (! obey_robots is off: the crawler ignores it)"
                )
            )
        )


@sites.command("check")
@click.argument("name")
@click.argument("url", required=False)
@SITES_DIR_OPTION
def sites_check(name, url, sites_dir) -> None:
    """Fetch one page of site NAME and print what every field extracted to.

    URL defaults to the site's first product URL, else its first listing, else its API or
    sitemap. This is the tool for writing a site config: edit the YAML, run it again.
    """
    from scrapy.http import HtmlResponse

    from crawler.extract import extract_offers
    from crawler.jsonapi import compile_api, offer_from_api_row
    from crawler.middlewares.guard import is_truncated, looks_banned
    from crawler.siteconfig import SiteConfigError, find_site_config
    from crawler.spiders.site import NEXT_PAGE_CSS, select_all

    try:
        config = find_site_config(name, sites_dir)
    except SiteConfigError as exc:
        raise click.ClickException(str(exc)) from None
    start = config.start
    default = (start.products or start.listings or [None])[0]
    if default is None:
        default = start.api.url if start.api else start.sitemap
    url = config.absolute(url or default)
    _check_robots(config, url)
    status, headers, body = _fetch(url, config.politeness.timeout)
    content_type = headers.get("Content-Type", "")
    click.echo(f"GET {url} -> {status} {content_type} ({len(body)} bytes)")
    for header in ("ETag", "Last-Modified"):
        if header in headers:
            click.echo(f"  {header}: {headers[header]}")
    if start.api and "json" in content_type:
        import json

        api = compile_api(start.api)
        data = json.loads(body)
        rows = api["items"].search(data) or []
        offers = [offer_from_api_row(row, api["fields"], config, url) for row in rows]
        offers = [o for o in offers if o is not None]
        click.echo(f"API: {len(rows)} rows at {start.api.items!r}, {len(offers)} offers")
        if api["next"]:
            click.echo(f"  next page: {api['next'].search(data)!r}")
    else:
        html = body.decode("utf-8", "replace")
        if looks_banned(body):
            click.echo("  ! this looks like a ban/captcha page: the crawler would not parse it")
        if is_truncated(body):
            click.echo("  ! no closing </html>: the crawler would treat this page as truncated")
        response = HtmlResponse(url=url, body=body, encoding="utf-8")
        if config.selectors.ban_marker and select_all(response, config.selectors.ban_marker):
            click.echo("  ! the site's ban_marker matched: the crawler would not parse it")
        click.echo("selectors:")
        for field_name in type(config.selectors).model_fields:
            selector = getattr(config.selectors, field_name)
            if selector is not None:
                values = select_all(response, selector)
                shown = ", ".join(repr(v[:60]) for v in values[:3])
                more = f" (+{len(values) - 3} more)" if len(values) > 3 else ""
                click.echo(f"  {field_name:<14} {len(values)} match(es): {shown}{more}")
        next_pages = response.css(NEXT_PAGE_CSS).getall()
        if next_pages and not config.selectors.next_page:
            click.echo(f"  next page (rel=next): {next_pages[0]}")
        offers = extract_offers(html, url, config)
    click.echo(f"{len(offers)} offer(s):")
    for number, offer in enumerate(offers[:20], 1):
        click.echo(f"--- offer {number}")
        for field_name in [
            "url",
            "title",
            "price",
            "regular_price",
            "currency",
            "availability",
            "stock_quantity",
            "shipping",
            "gtin",
            "mpn",
            "sku",
            "brand",
            "review_count",
            "rating",
            "sold_count",
            "rank",
            "variant",
            "price_source",
            "confidence",
            "disagreement",
        ]:
            click.echo(f"  {field_name:<14} {getattr(offer, field_name)!r}")
        for candidate in offer.candidates:
            click.echo(
                f"  candidate      {candidate.source}: {candidate.amount} {candidate.currency}"
                f" (from {candidate.raw!r})"
            )
    if len(offers) > 20:
        click.echo(f"... and {len(offers) - 20} more")


@click.command()
@click.option("--site", "names", multiple=True, metavar="NAME", help="Crawl this site (repeat).")
@click.option("--all", "all_sites", is_flag=True, help="Crawl every enabled site.")
@SITES_DIR_OPTION
@click.option(
    "--processes",
    type=click.IntRange(1, 64),
    default=None,
    help="Crawler processes (default: one per core; sites are spread over them).",
)
@click.option("--trigger", default="cli", hidden=True)
@click.option("--log-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--quiet", is_flag=True, help="No live display; print the summary only.")
@click.option(
    "--refresh",
    "refresh_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A refresh crawl of one --site: re-read only the product pages listed in this file "
    "(one URL per line), following no link. Its run is recorded with kind 'refresh'.",
)
@db_option
def crawl(names, all_sites, sites_dir, processes, trigger, log_dir, quiet, refresh_file) -> None:
    """Crawl competitor sites into the store, with a live progress display.

    Each site runs as a Scrapy crawl (several per process, one process per core). Every run is
    recorded with its counters, finish reason and health (`pricewatch runs`). Ctrl-C stops the
    crawls cleanly: what was fetched is kept and the runs are marked interrupted. Exits 1 if
    a crawl failed or came out broken.
    """
    from rich.console import Console
    from rich.live import Live

    from crawler.progress_view import progress_table
    from crawler.runner import crawl_sites
    from pricing.store.runs import latest_runs, reap_stale_runs
    from pricing.store.schema import init_db

    configs = _configs(sites_dir)
    if all_sites:
        names = [name for name, config in configs.items() if config.enabled]
        if not names:
            raise click.ClickException("no enabled site to crawl (see `pricewatch sites list`)")
    unknown = sorted(set(names) - set(configs))
    if unknown:
        raise click.ClickException(
            f"no site named {', '.join(unknown)} (known: {', '.join(configs) or 'none'})"
        )
    if not names:
        raise click.UsageError("give --site NAME (repeatable) or --all")
    overrides = {}
    if refresh_file is not None:
        from crawler.middlewares.refresh import REFRESH_SETTING, RefreshUrlsError, read_refresh_urls

        if len(names) != 1:
            raise click.UsageError("--refresh re-reads pages of one site: give exactly one --site")
        try:
            read_refresh_urls(refresh_file)
        except RefreshUrlsError as exc:
            raise click.ClickException(str(exc)) from None
        overrides[REFRESH_SETTING] = str(refresh_file.resolve())
    engine = engine_from_context()
    init_db(engine)
    reap_stale_runs(engine)
    expected = {name: run.pages for run, name in latest_runs(engine) if run.status == "finished"}
    console = Console(stderr=True)
    started = time.monotonic()
    kwargs = dict(
        db_url=db_url_from_context(),
        sites_dir=sites_dir,
        trigger=trigger,
        processes=processes,
        log_dir=log_dir,
        overrides=overrides,
    )
    if quiet or not console.is_terminal:
        results = crawl_sites(list(names), **kwargs)
    else:
        holder: dict = {}
        with Live(console=console, refresh_per_second=4) as live:

            def refresh(_result=None) -> None:
                if "results" in holder:
                    live.update(progress_table(holder["results"], expected, started))

            from crawler.runner import SiteResult

            holder["results"] = {name: SiteResult(site=name) for name in names}

            def on_progress(result) -> None:
                holder["results"][result.site] = result
                refresh()

            results = crawl_sites(list(names), on_progress=on_progress, **kwargs)
            holder["results"] = results
            refresh()
    from rich.table import Table

    summary = Table("site", "run", "status", "health", "pages", "items", "errors", "seconds")
    bad = False
    for result in results.values():
        bad |= result.status != "finished" or result.health == "broken"
        summary.add_row(
            result.site,
            str(result.run_id or "-"),
            f"{result.status or result.state} ({result.reason or '-'})",
            result.health or "-",
            str(result.pages),
            str(result.items),
            str(result.errors),
            f"{result.elapsed:.1f}",
        )
    _console().print(summary)
    logs = sorted({r.extra.get("log") for r in results.values() if r.extra.get("log")})
    click.echo(f"logs: {', '.join(logs)}", err=True)
    if bad:
        click.echo("some crawls failed or are broken: see `pricewatch runs`", err=True)
        sys.exit(1)


@click.command()
@click.option("--site", default=None, metavar="NAME", help="Only this site's runs.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@db_option
def runs(site, limit) -> None:
    """Crawl history, newest first: counters, finish reason and health with its reasons.

    A broken run's prices are never used by pricing. Runs left 'running' by a process that
    died are marked interrupted first.
    """
    from rich.table import Table

    from pricing.store.runs import list_runs, reap_stale_runs

    engine = engine_from_context()
    reap_stale_runs(engine)
    table = Table(
        "run", "site", "started", "secs", "status", "pages", "items", "304", "4xx/5xx",
        "parse fail", "bans", "health", "reasons",
    )  # fmt: skip
    for run, name in list_runs(engine, site=site, limit=limit):
        seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else None
        table.add_row(
            str(run.id),
            name,
            f"{run.started_at:%Y-%m-%d %H:%M:%S}",
            f"{seconds:.1f}" if seconds is not None else "-",
            f"{run.status} ({run.finish_reason or '-'})"
            + (f" {run.kind}" if run.kind and run.kind != "full" else ""),
            str(run.pages),
            str(run.items),
            str(run.not_modified),
            f"{run.http_4xx}/{run.http_5xx}",
            str(run.parse_failures),
            str(run.ban_pages),
            run.health or "-",
            "\n".join(run.health_reasons or []),
        )
    _console().print(table)
