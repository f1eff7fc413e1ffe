"""`pricewatch demo` as a new user runs it: a fresh directory, no configuration, one command."""

from __future__ import annotations

import os
import re
import signal

import httpx
import pytest

from tests.schedule.procs import Proc

pytestmark = pytest.mark.slow


def test_demo_serves_the_review_app_with_suggestions(tmp_path):
    # A fresh install: none of Pricewatch's environment variables, an empty directory.
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PRICEWATCH_")}
    demo = Proc(
        "demo", "--port", "0", "--sites", "3", "--products", "900", cwd=tmp_path, base_env=environ
    )
    try:
        url = demo.wait_for(r"Review app: (http://127\.0\.0\.1:\d+/)", timeout=170)[1]
        password = demo.wait_for(r"Login: demo / (\S+)")[1]
        with httpx.Client(base_url=url, timeout=30) as client:
            assert client.get("/api/suggestions").status_code == 401  # the app wants a login
            form = client.get("/login").text
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]
            reply = client.post(
                "/login", data={"name": "demo", "password": password, "csrf_token": csrf}
            )
            assert reply.status_code == 303, reply.text[:500]
            page = client.get("/api/suggestions").json()
            assert page["total"] > 0 and page["items"], page
            first = page["items"][0]
            assert client.get("/suggestions").status_code == 200
            assert first["sku"] in client.get("/suggestions").text
    finally:
        code = demo.stop(signal.SIGINT)
    assert code == 0, demo.output[-3000:]
    assert "demo stopped" in demo.output
    assert (tmp_path / "pricewatch-demo" / "pricewatch-demo.db").exists()
