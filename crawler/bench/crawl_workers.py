"""``pricewatch bench crawl-workers``: one full crawl cycle with 1 worker, then with N.

The simulator's market is served from this process; each measurement gets a fresh store (a
scratch PostgreSQL database with ``--pg``, else an SQLite file) and crawls every shop once, as
batches (crawler/batches.py) run by ``pricewatch worker`` processes (``--broker``: real Celery
workers, one crawl at a time each) or, without a broker, by local child processes. The time is
one cycle's wall time from enqueueing to the last batch's end (workers already started);
``speedup`` is the 1-worker time over the N-worker time, measured in the same run.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import click
import yaml

from pricing.bench.report import emit, json_option


def _configs(server, directory: Path) -> list[str]:
    """The simulator's own configs, delay 0 (the shops are ours; robots.txt still obeyed) and
    a 60 s timeout: the simulator shares the cores with the crawlers, and a page that times
    out on a loaded machine is a lost offer, which would measure the load, not the crawl."""
    paths = server.write_site_configs(directory)
    for path in paths:
        data = yaml.safe_load(path.read_text())
        data["politeness"] = {**data["politeness"], "delay": 0, "timeout": 60}
        path.write_text(yaml.safe_dump(data))
    return sorted(p.stem for p in paths)


@contextlib.contextmanager
def _store(pg_url: str | None, tmp: Path, label: str) -> Iterator[str]:
    from pricing.store.db import scratch_database
    from pricing.store.schema import init_db

    if pg_url:
        with scratch_database(pg_url, prefix="pricewatch_bench") as engine:
            init_db(engine)
            yield engine.url.render_as_string(hide_password=False)
        return
    from pricing.store.db import make_engine

    url = f"sqlite:///{tmp / f'{label}.db'}"
    engine = make_engine(url)
    init_db(engine)
    engine.dispose()
    yield url


def _start_workers(count: int, broker: str, queue: str, env: dict, log_dir: Path):
    exe = str(Path(sys.executable).parent / "pricewatch")
    procs = []
    for i in range(count):
        log = open(log_dir / f"worker-{i}.log", "w")  # noqa: SIM115 - closed with the process
        procs.append(
            (
                subprocess.Popen(
                    [exe, "worker", "--broker", broker, "--queue", queue, "--concurrency", "1"],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, **env},
                    start_new_session=True,
                ),
                log,
                log_dir / f"worker-{i}.log",
            )
        )
    deadline = time.monotonic() + 120
    for proc, _log, path in procs:
        while "ready." not in path.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise click.ClickException(f"worker did not start; see {path}")
            time.sleep(0.2)
    return procs


def _stop_workers(procs) -> None:
    import signal

    for proc, _log, _path in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    for proc, log, _path in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _forget(broker: str, prefix: str) -> None:
    """Delete this measurement's keys (queue, results) and nothing else."""
    import redis

    client = redis.Redis.from_url(broker)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def _cycle(workers: int, args: dict, tmp: Path) -> dict:
    """One full cycle with ``workers`` workers; returns seconds, batches and offers stored."""
    from sqlalchemy import func, select

    from crawler.distributed.executor import (
        CeleryBatchExecutor,
        LocalBatchExecutor,
        plan_cycle,
    )
    from pricing.store.db import make_engine
    from pricing.store.models import Offer

    with _store(args["pg"], tmp, f"w{workers}") as db_url:
        engine = make_engine(db_url)
        procs = []
        try:
            if args["broker"]:
                queue = f"pricewatch-bench-{uuid.uuid4().hex[:8]}"
                env = {"PRICEWATCH_BROKER_PREFIX": f"pwbench-{uuid.uuid4().hex[:8]}:"}
                os.environ.update(env)
                procs = _start_workers(workers, args["broker"], queue, env, tmp)
                executor = CeleryBatchExecutor(
                    db_url, args["sites_dir"], broker_url=args["broker"], queue=queue
                )
            else:
                executor = LocalBatchExecutor(db_url, args["sites_dir"], parallel=workers)
            started = time.perf_counter()
            batches = plan_cycle(
                engine, args["names"], args["sites_dir"], default_batches=args["batches"]
            )
            outcomes = executor.run_batches(batches)
            seconds = time.perf_counter() - started
        finally:
            _stop_workers(procs)
            if args["broker"]:
                _forget(args["broker"], os.environ.pop("PRICEWATCH_BROKER_PREFIX"))
        with engine.connect() as conn:
            offers = conn.execute(select(func.count(Offer.id))).scalar_one()
        engine.dispose()
    failed = sum(o.state != "done" for o in outcomes)
    return {"seconds": seconds, "batches": len(batches), "failed": failed, "offers": offers}


@click.command("crawl-workers")
@click.option("--workers", type=click.IntRange(min=2), default=2, show_default=True)
@click.option("--sites", type=click.IntRange(min=1), default=12, show_default=True)
@click.option("--products", type=click.IntRange(min=10), default=30_000, show_default=True)
@click.option(
    "--batches",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Batches per site (the first cycle's split; later cycles size them from the store).",
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--broker",
    envvar="PRICEWATCH_BROKER_URL",
    default=None,
    help="Redis URL: run real `pricewatch worker`s; without it, local child processes.",
)
@click.option(
    "--pg",
    envvar="PRICEWATCH_BENCH_PG_URL",
    default=None,
    help="PostgreSQL server URL for scratch stores (PRICEWATCH_BENCH_PG_URL); else SQLite.",
)
@json_option
def bench_crawl_workers(workers, sites, products, batches, seed, broker, pg, as_json) -> None:
    """One full crawl cycle of the simulated market with 1 worker and with --workers N."""
    from shopsim import Market, serve_in_thread

    market = Market.generate(sites=sites, products=products, seed=seed)
    listed = sum(len(market.truth(s.name)) for s in market.sites)
    with tempfile.TemporaryDirectory(prefix="pricewatch-bench-") as tmp_name:
        tmp = Path(tmp_name)
        with serve_in_thread(market) as server:
            names = _configs(server, tmp / "sites")
            args = {
                "names": names,
                "sites_dir": tmp / "sites",
                "broker": broker,
                "pg": pg,
                "batches": batches,
            }
            one = _cycle(1, args, tmp)
            many = _cycle(workers, args, tmp)
    emit(
        "crawl-workers",
        {
            "executor": "celery" if broker else "local",
            "store": "postgresql" if pg else "sqlite",
            "sites": sites,
            "offers": listed,
            "batches": many["batches"],
            "workers": workers,
            "cycle_1_worker_s": round(one["seconds"], 2),
            f"cycle_{workers}_workers_s": round(many["seconds"], 2),
            "speedup": round(one["seconds"] / many["seconds"], 2),
            "offers_per_s": round(many["offers"] / many["seconds"], 1),
            "coverage_1": round(one["offers"] / listed, 4),
            f"coverage_{workers}": round(many["offers"] / listed, 4),
            "failed_batches": one["failed"] + many["failed"],
        },
        as_json,
    )
