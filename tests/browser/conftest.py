"""Browser tests of the authorization page, in Debian's headless Chromium driven by Playwright
(both installed by scripts/test; Playwright never downloads a browser here).

Servers run on 127.0.0.1 with a free port each: billing-local with a fresh data folder (the
simulated bank), and the `stripe_page` example (the production page, with Stripe.js faked by
Playwright). Build both first: `cargo build -p billing-local --example stripe_page` and
`cargo build -p billing-local`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright
from support import CHROMIUM, CHROMIUM_FLAGS, JWT_SECRET, LINK_SECRET, TARGET, Server, start, stop


@pytest.fixture(scope="module")
def local() -> Iterator[Server]:
    """A fresh billing-local: its own port, its own data folder, known local secrets."""
    with tempfile.TemporaryDirectory(prefix="billing-browser-") as scratch:
        env = {
            **os.environ,
            "BILLING_LOCAL_JWT_SECRET": JWT_SECRET,
            "BILLING_LOCAL_LINK_SECRET": LINK_SECRET,
            "RUST_LOG": "warn",
        }
        server = start(
            [str(TARGET / "debug" / "billing-local"), "--port", "0", "--data-dir", f"{scratch}/data"],
            "billing-local listening on",
            env,
            Path(scratch) / "server.log",
        )
        yield server
        stop(server)


@pytest.fixture
def stripe_page() -> Iterator[Server]:
    """The production page (Stripe.js mode) over a stand-in flow with one waiting purchase, new
    for each test (the purchase settles once)."""
    with tempfile.TemporaryDirectory(prefix="billing-stripe-page-") as scratch:
        server = start(
            [str(TARGET / "debug" / "examples" / "stripe_page"), "--port", "0"],
            "stripe page listening on",
            {**os.environ, "RUST_LOG": "warn"},
            Path(scratch) / "server.log",
        )
        yield server
        stop(server)


@pytest.fixture(scope="session")
def browser() -> Iterator[BrowserContext]:
    """Debian's Chromium with a fresh, empty profile."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium")
    with tempfile.TemporaryDirectory(prefix="billing-chromium-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        yield context
        context.close()


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    page = browser.new_page()
    # Loopback pages answer in milliseconds: a wait this long means it will never happen.
    page.set_default_timeout(10_000)
    yield page
    page.close()
