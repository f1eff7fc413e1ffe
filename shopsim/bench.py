"""``pricewatch bench simulator``: product pages per second on one core, startup time, memory.

The server runs in a child process pinned to one core; a plain asyncio client (raw HTTP/1.1
keep-alive, no library) in this process fetches product pages from every shop. The baseline is
the same pages served by aiohttp's web server in the same kind of child, so the ratio says
what the bare asyncio.Protocol server buys.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import time
from pathlib import Path

import click

from pricing.bench.report import emit, json_option

TARGET_PAGES_PER_S = 2000


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _serve(conn, sites: int, products: int, seed: int, engine: str) -> None:
    """Child process: build the market, serve it, report startup, serve until told to stop."""
    os.sched_setaffinity(0, {0})
    started = time.perf_counter()
    from shopsim.market import Market

    market = Market.generate(sites, products, seed)

    async def main():
        if engine == "raw":
            from shopsim.server import ShopServer

            server = ShopServer(market)
            await server.start(0)
            urls = server.urls
        else:
            urls = await _start_aiohttp(market)
        state = market.state()
        ready = time.perf_counter() - started  # serving from here on
        paths = []
        for site in market.sites:
            a, b = market.offers.start[site.index], market.offers.end[site.index]
            listed = [i for i in range(a, b) if state.listed[i]][:300]
            paths.append((urls[site.name], [market.path(site, i, state) for i in listed]))
        conn.send((ready, paths))
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)

    asyncio.run(main())


async def _start_aiohttp(market) -> dict[str, str]:
    from aiohttp import web

    from shopsim.handler import ShopHandler

    urls = {}
    for site in market.sites:
        holder: list[ShopHandler] = []

        async def handle(request, holder=holder):
            reply = holder[0].handle(
                request.method, request.path_qs, {k.lower(): v for k, v in request.headers.items()}
            )
            headers = [(k, v) for k, v in reply.headers if k != "Content-Type"]
            ctype = dict(reply.headers).get("Content-Type", "text/plain").split(";")[0]
            return web.Response(
                status=reply.status, body=reply.body, headers=headers, content_type=ctype
            )

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        tcp = web.TCPSite(runner, site.host, 0)
        await tcp.start()
        port = tcp._server.sockets[0].getsockname()[1]
        urls[site.name] = f"http://{site.host}:{port}"
        holder.append(ShopHandler(market, site.name, urls[site.name]))
    return urls


async def _client(
    base: str, paths: list[str], deadline: float, counter: list[int], gzip: bool
) -> None:
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    accept = "Accept-Encoding: gzip\r\n" if gzip else ""
    k = 0
    while time.perf_counter() < deadline:
        path = paths[k % len(paths)]
        k += 1
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{accept}\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        if head.startswith(b"HTTP/1.1 200"):
            counter[0] += 1
    writer.close()


def measure(
    engine: str, sites: int, products: int, seed: int, seconds: float, connections: int, gzip: bool
) -> dict:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child, sites, products, seed, engine), daemon=True)
    proc.start()
    startup_s, shops = parent.recv()
    rss_after_start = _peak_rss_mb(proc.pid)

    async def load() -> int:
        counter = [0]
        deadline = time.perf_counter() + seconds
        jobs = [
            _client(base, paths[c % 4 :: 4] or paths, deadline, counter, gzip)
            for c in range(connections)
            for base, paths in [shops[c % len(shops)]]
        ]
        await asyncio.gather(*jobs)
        return counter[0]

    cpu0, t0 = _cpu_seconds(proc.pid), time.perf_counter()
    pages = asyncio.run(load())
    wall, cpu = time.perf_counter() - t0, _cpu_seconds(proc.pid) - cpu0
    rss = _peak_rss_mb(proc.pid)
    parent.send("stop")
    proc.join(timeout=10)
    if proc.is_alive():
        proc.terminate()
    return {
        "pages_per_s": pages / wall,
        "pages_per_cpu_s": pages / cpu if cpu else 0.0,
        "startup_s": startup_s,
        "rss_mb": max(rss, rss_after_start),
    }


@click.command()
@click.option("--sites", default=72, show_default=True, help="Shops.")
@click.option("--products", default=170_000, show_default=True, help="Offers across all shops.")
@click.option("--seed", default=1, show_default=True)
@click.option("--seconds", default=5.0, show_default=True, help="Load duration per server.")
@click.option("--connections", default=32, show_default=True, help="Keep-alive client connections.")
@click.option("--gzip/--no-gzip", default=False, show_default=True, help="Ask for gzip.")
@click.option(
    "--baseline/--no-baseline",
    default=True,
    show_default=True,
    help="Also measure aiohttp's server.",
)
@json_option
def bench_simulator(sites, products, seed, seconds, connections, gzip, baseline, as_json) -> None:
    """Product pages/s the simulator serves on one core, its startup time and memory."""
    os.sched_setaffinity(0, {1 % os.cpu_count()})  # the client on another core than the server
    raw = measure("raw", sites, products, seed, seconds, connections, gzip)
    figures = {
        "pages_per_s": round(raw["pages_per_s"]),
        "pages_per_cpu_s": round(raw["pages_per_cpu_s"]),
        "target_pages_per_s": TARGET_PAGES_PER_S,
        "target_ratio": round(raw["pages_per_s"] / TARGET_PAGES_PER_S, 2),
        "startup_s": round(raw["startup_s"], 2),
        "rss_mb": round(raw["rss_mb"]),
        "sites": sites,
        "offers": products,
        "gzip": gzip,
    }
    if baseline:
        base = measure("aiohttp", sites, products, seed, seconds, connections, gzip)
        # The client may be the limit of both wall-clock figures; server CPU time is not.
        figures["baseline_aiohttp_pages_per_s"] = round(base["pages_per_s"])
        figures["baseline_aiohttp_pages_per_cpu_s"] = round(base["pages_per_cpu_s"])
        figures["ratio"] = round(raw["pages_per_cpu_s"] / base["pages_per_cpu_s"], 2)
    emit("simulator", figures, as_json)
