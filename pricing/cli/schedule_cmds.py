"""``pricewatch schedule``: run the crawl schedule, and see it."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import click

from pricing.cli.common import db_option, db_url_from_context, engine_from_context


@click.group()
def schedule() -> None:
    """Crawl every site at its cadence, then match, suggest and alert."""


@schedule.command()
@db_option
@click.option(
    "--sites-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Site configs (default: PRICEWATCH_SITES_DIR, else the shipped crawler/sites).",
)
@click.option(
    "--site", "sites", multiple=True, metavar="NAME", help="Schedule only this site (repeatable)."
)
@click.option(
    "--fast-clock",
    is_flag=True,
    help="Compress time for tests and demos: an hour of cadence passes in a second "
    "(see --clock-scale). Cron cadences run at their typical interval; active hours are ignored.",
)
@click.option(
    "--clock-scale",
    type=click.FloatRange(min=1),
    default=3600.0,
    show_default=True,
    help="With --fast-clock: how many seconds of cadence pass per real second.",
)
@click.option(
    "--max-parallel",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Crawls running at once (each is a process using about one core).",
)
@click.option(
    "--alerts",
    "alerts_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Alert channels YAML (apprise URLs, kinds, thresholds). Without it no alerts are sent.",
)
@click.option(
    "--strategy",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Strategies file for suggestions (default: the shipped one).",
)
@click.option(
    "--log-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write each site's crawl output to DIR/crawl-SITE.log (default: keep only the tail).",
)
@click.option(
    "--set",
    "crawl_settings",
    multiple=True,
    metavar="SETTING=JSON",
    help="A Scrapy/Pricewatch setting for every crawl, e.g. --set LOG_LEVEL='\"INFO\"' (repeatable).",
)
@click.option(
    "--broker",
    envvar="PRICEWATCH_BROKER_URL",
    metavar="URL",
    help="Celery broker (PRICEWATCH_BROKER_URL): crawls go to `pricewatch worker`s instead of "
    "running on this machine.",
)
@click.option(
    "--queue",
    envvar="PRICEWATCH_QUEUE",
    default="pricewatch",
    show_default=True,
    help="With --broker: the queue workers take crawls from (PRICEWATCH_QUEUE).",
)
@click.option("--no-post", is_flag=True, help="Only crawl: skip matching and suggestions.")
def run(
    sites_dir: Path | None,
    sites: tuple[str, ...],
    fast_clock: bool,
    clock_scale: float,
    max_parallel: int,
    alerts_file: Path | None,
    strategy: Path | None,
    log_dir: Path | None,
    crawl_settings: tuple[str, ...],
    broker: str | None,
    queue: str,
    no_post: bool,
) -> None:
    """Run the scheduler until SIGTERM or Ctrl-C.

    Each enabled site is crawled at the cadence in its config (every/cron, jitter, active
    hours), each crawl in its own process, never two of one site at once; missed runs
    coalesce into one. Jobs are kept in the store, so a restart continues the schedule. Only
    one scheduler runs per store: a second one refuses and names the process holding the lock.
    SIGTERM stops cleanly: running crawls are recorded as interrupted.
    """
    from tzlocal import get_localzone

    from crawler.siteconfig import SiteConfigError
    from pricing.schedule import Scheduler, SchedulerLocked, ScheduleSettings

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The daemon reports skipped and missed runs itself, in one line each.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    overrides = {}
    for item in crawl_settings:
        key, sep, value = item.partition("=")
        try:
            overrides[key] = json.loads(value)
        except ValueError:
            sep = ""
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not SETTING=JSON", param_hint="--set")
    alerts = None
    if alerts_file is not None:
        from pricing.alerts import AlertsConfigError, load_alerts_config

        try:
            alerts = load_alerts_config(alerts_file)
        except AlertsConfigError as exc:
            raise click.ClickException(str(exc)) from None
    settings = ScheduleSettings(
        db_url=db_url_from_context(),
        sites_dir=sites_dir,
        scale=clock_scale if fast_clock else 1.0,
        max_parallel=max_parallel,
        timezone=get_localzone(),
        strategies=strategy,
        alerts=alerts,
        log_dir=log_dir,
        post_steps=not no_post,
        crawl_settings=overrides,
        broker_url=broker,
        queue=queue,
        sites=list(sites),
    )
    from pricing.store.schema import init_db

    engine = engine_from_context()
    init_db(engine)
    scheduler = Scheduler(engine, settings)
    try:
        scheduler.start()
    except SchedulerLocked as exc:
        raise click.ClickException(f"{exc}; stop it first") from None
    except (SiteConfigError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"scheduler running (pid {scheduler.lock.pid}): {len(scheduler.jobs())} site job(s)"
        + (f", fast clock x{settings.scale:g}" if fast_clock else "")
        + "; Ctrl-C or SIGTERM stops it",
        err=True,
    )
    scheduler.wait()


@schedule.command("list")
@db_option
def list_(**_) -> None:
    """Show the scheduled jobs, their next run times and each site's last crawl outcome."""
    from pricing.schedule import current_holder
    from pricing.schedule.listing import list_jobs
    from pricing.store.schema import init_db

    engine = engine_from_context()
    init_db(engine)
    holder = current_holder(engine)
    click.echo(f"scheduler: running, {holder.describe()}" if holder else "scheduler: not running")
    rows = list_jobs(engine)
    if not rows:
        click.echo("no jobs: `pricewatch schedule run` creates one per site")
        return
    now = datetime.now(UTC)
    header = f"{'site':<20} {'cadence':<36} {'next run':<20} last crawl"
    click.echo(header)
    for row in rows:
        nxt = row.next_run.astimezone().strftime("%Y-%m-%d %H:%M:%S") if row.next_run else "-"
        if row.last_status:
            ago = now - (
                row.last_finished
                if row.last_finished.tzinfo
                else row.last_finished.replace(tzinfo=UTC)
            )
            last = (
                f"{row.last_status} {row.last_health or ''} {row.last_items} items, "
                f"{int(ago.total_seconds() // 60)} min ago"
            ).replace("  ", " ")
        else:
            last = "never"
        click.echo(f"{row.site:<20} {row.cadence:<36} {nxt:<20} {last}")
        if row.refresh:
            nxt = (
                row.next_refresh.astimezone().strftime("%Y-%m-%d %H:%M:%S")
                if row.next_refresh
                else "-"
            )
            click.echo(f"{'':<20} {row.refresh:<36} {nxt:<20}")


@schedule.command()
@db_option
@click.option("--site", required=True, metavar="NAME", help="The site to plan for.")
@click.option(
    "--budget",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Product pages this cycle may fetch (the site's politeness budget per cycle).",
)
@click.option(
    "--cycles-per-day",
    type=click.FloatRange(min=0.01),
    default=4.0,
    show_default=True,
    help="How many cycles a day the budget is spent in (4 for a 6h cadence).",
)
@click.option("--show", type=click.IntRange(min=0), default=20, show_default=True)
def plan(site: str, budget: int, cycles_per_day: float, show: int) -> None:
    """Show which product pages of a site a freshness-aware cycle would re-read first.

    Pages whose competitors change price often, that sell well (click data) or that a manager
    marked key (products.key_item) come first; see `pricewatch bench freshness` for the effect.
    """
    from pricing.freshness import plan_refresh

    engine = engine_from_context()
    result = plan_refresh(
        engine, site, budget=budget, cycles_per_day=cycles_per_day, now=datetime.now(UTC)
    )
    if not result.offers:
        raise click.ClickException(f"no offers of a site named {site!r} in the store")
    click.echo(f"{site}: {len(result.urls)} of {result.offers} pages due this cycle")
    for url in result.urls[:show]:
        click.echo(f"  {url}")
    if len(result.urls) > show:
        click.echo(f"  ... and {len(result.urls) - show} more")


@click.command()
@click.option(
    "--broker",
    envvar="PRICEWATCH_BROKER_URL",
    required=True,
    metavar="URL",
    help="Celery broker (Redis), default PRICEWATCH_BROKER_URL.",
)
@click.option(
    "--queue",
    envvar="PRICEWATCH_QUEUE",
    default="pricewatch",
    show_default=True,
    help="Queue to take crawls from (PRICEWATCH_QUEUE).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Crawls at once on this machine (each is a process using about one core).",
)
@click.option("--loglevel", default="INFO", show_default=True)
def worker(broker: str, queue: str, concurrency: int, loglevel: str) -> None:
    """Run crawls that a scheduler enqueued (Celery worker; the store comes with each task).

    Start `pricewatch schedule run` with PRICEWATCH_BROKER_URL set and it enqueues each due
    site's crawl instead of running it itself; any number of workers on any machines take them.
    A worker that dies mid-crawl has its task delivered again (acknowledged late).
    """
    from pricing.schedule.celery_executor import make_celery, worker_argv

    make_celery(broker).worker_main(worker_argv(concurrency, queue, loglevel))
