"""The HTTP server: one process, one event loop, each shop on its own loopback address.

A bare ``asyncio.Protocol`` speaking HTTP/1.1 with keep-alive: ``pricewatch bench simulator``
measured it 1.5x aiohttp's server on the same pages (~11,000 vs ~7,500 product pages per CPU
second), and the simulator must never be what limits a crawl benchmark.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

from shopsim.handler import REASONS, Reply, ShopHandler
from shopsim.market import Market

MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024
_date_cache: tuple[int, str] = (0, "")


def _date() -> str:
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


def encode_reply(reply: Reply, keep_alive: bool) -> bytes:
    head = [
        f"HTTP/1.1 {reply.status} {REASONS.get(reply.status, 'Unknown')}",
        f"Date: {_date()}",
        "Server: shopsim",
    ]
    head += [f"{k}: {v}" for k, v in reply.headers]
    if reply.status != 304:
        length = len(reply.body) if reply.length is None else reply.length
        head.append(f"Content-Length: {length}")
    if not keep_alive:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body


class HttpProtocol(asyncio.Protocol):
    """HTTP/1.1 for one connection: requests answered in order, one at a time."""

    def __init__(self, handler: ShopHandler, open_set: set | None = None):
        self.handler = handler
        self.open_set = open_set if open_set is not None else set()
        self.buffer = b""
        self.busy = False
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport):
        self.transport = transport
        self.open_set.add(self)

    def connection_lost(self, exc):
        self.transport = None
        self.open_set.discard(self)
        if self.timer:
            self.timer.cancel()

    def data_received(self, data: bytes):
        self.buffer += data
        if len(self.buffer) > MAX_HEAD + MAX_BODY:
            self._close()
            return
        self._process()

    def _process(self):
        while not self.busy and self.transport is not None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEAD:
                    self._send(Reply(400, b"request head too large"), keep_alive=False)
                return
            lines = self.buffer[:end].decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            if len(self.buffer) < end + 4 + length:
                return  # wait for the body (only control POSTs have one; it is ignored)
            self.buffer = self.buffer[end + 4 + length :]
            parts = lines[0].split(" ")
            if len(parts) != 3:
                self._send(Reply(400, b"bad request line"), keep_alive=False)
                return
            method, target, version = parts
            conn = headers.get("connection", "").lower()
            keep_alive = conn != "close" and (version == "HTTP/1.1" or conn == "keep-alive")
            try:
                reply = self.handler.handle(method, target, headers)
            except Exception as exc:  # a bug in a page must not kill the shop
                reply = Reply(500, f"simulator error: {exc!r}".encode())
            if reply.hang:
                self.busy = True
                self.timer = asyncio.get_running_loop().call_later(reply.delay, self._close)
                return
            if reply.delay:
                self.busy = True
                self.timer = asyncio.get_running_loop().call_later(
                    reply.delay, self._delayed, reply, keep_alive
                )
                return
            self._send(reply, keep_alive)

    def _delayed(self, reply: Reply, keep_alive: bool):
        self.busy = False
        self.timer = None
        self._send(reply, keep_alive)
        self._process()

    def _send(self, reply: Reply, keep_alive: bool):
        if self.transport is None:
            return
        self.transport.write(encode_reply(reply, keep_alive))
        if not keep_alive:
            self._close()

    def _close(self):
        if self.transport is not None:
            self.transport.close()
            self.transport = None


class ShopServer:
    """Serves every shop of a market from the running event loop."""

    def __init__(self, market: Market):
        self.market = market
        self.handlers: dict[str, ShopHandler] = {}
        self._servers: list[asyncio.AbstractServer] = []
        self._urls: dict[str, str] = {}
        self._open: set[HttpProtocol] = set()  # live connections, closed on stop

    async def start(self, port: int = 0) -> None:
        loop = asyncio.get_running_loop()
        for site in self.market.sites:
            holder: list[ShopHandler] = []
            server = await loop.create_server(
                lambda holder=holder: HttpProtocol(holder[0], self._open),
                site.host,
                port,
                backlog=1024,
            )
            real_port = server.sockets[0].getsockname()[1]
            url = f"http://{site.host}:{real_port}"
            holder.append(ShopHandler(self.market, site.name, url))
            self.handlers[site.name] = holder[0]
            self._urls[site.name] = url
            self._servers.append(server)
        self.market.base_urls.update(self._urls)

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for protocol in list(self._open):  # hanging "timeout" connections too
            protocol._close()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    def base_url(self, site_name: str) -> str:
        try:
            return self._urls[site_name]
        except KeyError:
            raise KeyError(f"no shop named {site_name!r} is served") from None

    @property
    def urls(self) -> dict[str, str]:
        return dict(self._urls)

    def write_site_configs(self, directory: str | Path) -> list[Path]:
        from shopsim.configs import write_site_configs

        return write_site_configs(self.market, self._urls, directory)

    def fault_log(self, site_name: str):
        """Every fault this shop served so far, as a DataFrame (seq, path, kind, status, attempt)."""
        return self.handlers[site_name].fault_frame()

    def stats(self, site_name: str) -> dict:
        h = self.handlers[site_name]
        return {
            "requests": h.seq,
            "counts": dict(h.counts),
            "disallowed_hits": list(h.disallowed_hits),
            "arrivals": list(h.arrivals),  # monotonic seconds, one per counted request
        }


class ThreadedServer(ShopServer):
    """A :class:`ShopServer` whose event loop runs in a background thread (for tests)."""

    def __init__(self, market: Market):
        super().__init__(market)
        self.loop = asyncio.new_event_loop()
        self.thread: threading.Thread | None = None

    def start_in_thread(self, port: int = 0) -> None:
        ready = threading.Event()
        error: list[BaseException] = []

        def run():
            asyncio.set_event_loop(self.loop)
            try:
                self.loop.run_until_complete(self.start(port))
            except BaseException as exc:  # report bind errors to the caller
                error.append(exc)
                ready.set()
                return
            ready.set()
            self.loop.run_forever()
            self.loop.run_until_complete(self.stop())
            self.loop.close()

        self.thread = threading.Thread(target=run, name="shopsim", daemon=True)
        self.thread.start()
        ready.wait()
        if error:
            raise error[0]

    def shutdown(self) -> None:
        if self.thread is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)


@contextlib.contextmanager
def serve_in_thread(market: Market, port: int = 0) -> Iterator[ThreadedServer]:
    """Serve ``market`` from a background thread for the duration of the ``with`` block."""
    server = ThreadedServer(market)
    server.start_in_thread(port)
    try:
        yield server
    finally:
        server.shutdown()
