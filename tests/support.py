"""Helpers shared by the tests (not fixtures: those are in conftest.py). Importable from any test."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

from hopsworks_ui_plugin import devstack
from hopsworks_ui_plugin.fake_hopsworks import load_seed

ARTIFACTS = Path(os.environ.get("HW_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts"))

TEST_SEED = load_seed("test")


def seed_key(username: str, seed: dict[str, Any] = TEST_SEED) -> str:
    """The first API key of a seed user with scopes JOB and PROJECT."""
    for key in seed["api_keys"]:
        if key["username"] == username and {"JOB", "PROJECT"} <= set(key.get("scopes", [])):
            return str(key["key"])
    raise KeyError(username)


class ScaledClock:
    """Real time, sped up: a 4 s fake job takes 4/speed s, so waiting tests stay fast."""

    def __init__(self, speed: float = 10.0) -> None:
        self.speed = speed
        self._t0 = time.time()

    def now(self) -> float:
        return self._t0 + (time.time() - self._t0) * self.speed


def connection_json(url: str, key: str, **extra: Any) -> str:
    return devstack.hopsworks_connection_json(url, key, **{"timeout": 5, "retries": 2, "retry_backoff": 0.05, **extra})


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', html
    )
    assert match, "no csrf_token in page"
    return match.group(1)


CHROMIUM = os.environ.get("HW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
    "--disable-dev-shm-usage",
]


def browser_page_logged_in(browser: Any, server_url: str, username: str, password: str | None = None) -> Any:
    """A new browser context logged in through Airflow's login form: ``(context, page)``."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{server_url}/auth/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password or username)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url(lambda url: "/auth/login" not in url)
    assert any(c["name"] == "_token" for c in context.cookies()), f"browser login of {username} failed"
    return context, page


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as a test artifact (test-artifacts/screenshots/NAME.png)."""
    target = ARTIFACTS / "screenshots" / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
    return target
