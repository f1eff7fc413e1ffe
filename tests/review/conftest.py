"""Review app fixtures: a small store, the real app under uvicorn on port 0, logged-in clients."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import httpx
import pytest

from pricing.review.app import create_app
from pricing.review.serving import serve_in_thread
from tests.review.data import PASSWORD, Store, build_store

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Debian's Chromium: Playwright's own browser download does not work here."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def store(db_engine) -> Store:
    """The hand-made store on SQLite and on PostgreSQL."""
    return build_store(db_engine)


@pytest.fixture
def sqlite_store(sqlite_engine) -> Store:
    return build_store(sqlite_engine)


def _serve(store: Store) -> Iterator[str]:
    with serve_in_thread(create_app(store.engine, secret_key="test-secret")) as base_url:
        yield base_url


@pytest.fixture
def server(sqlite_store: Store) -> Iterator[str]:
    """Base URL of the real app (uvicorn, 127.0.0.1, ephemeral port) over an SQLite store."""
    yield from _serve(sqlite_store)


@pytest.fixture
def any_server(store: Store) -> Iterator[str]:
    """Like ``server``, once over SQLite and once over PostgreSQL."""
    yield from _serve(store)


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


class Client(httpx.Client):
    """An httpx client logged in as someone, carrying its CSRF token."""

    csrf: str = ""

    def post_csrf(self, url: str, **kwargs) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf, **kwargs.pop("headers", {})}
        return self.post(url, headers=headers, **kwargs)


def login(base_url: str, name: str, password: str = PASSWORD) -> Client:
    client = Client(base_url=base_url, timeout=20)
    token = csrf_from(client.get("/login").text)
    response = client.post("/login", data={"name": name, "password": password, "csrf_token": token})
    assert response.status_code == 303, response.text
    client.csrf = client.get("/api/csrf").json()["csrf_token"]
    return client


@pytest.fixture
def login_as(server: str) -> Iterator[Callable[[str], Client]]:
    clients: list[Client] = []

    def _login(name: str) -> Client:
        clients.append(login(server, name))
        return clients[-1]

    yield _login
    for c in clients:
        c.close()
