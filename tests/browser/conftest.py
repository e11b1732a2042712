"""Browser tests of the authorization page, in Debian's headless Chromium driven by Playwright
(both installed by scripts/test; Playwright never downloads a browser here).

Servers run on 127.0.0.1 with a free port each: billing-local with a fresh data folder (the
simulated bank), and the `stripe_page` example (the production page, with Stripe.js faked by
Playwright). Build both first: `cargo build -p billing-local --example stripe_page` and
`cargo build -p billing-local`.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
CHROMIUM = "/usr/bin/chromium"
# Headless, and nothing that reaches out: this machine's network is closed, and Chromium's
# background requests would otherwise fail at every start.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The local secrets billing-local is started with (README "Configuration").
JWT_SECRET = "browser-jwt-secret"
LINK_SECRET = "browser-link-secret"


@dataclass
class Server:
    """A server started for the tests: its base URL and every line its banner printed."""

    base: str
    banner: list[str]
    process: subprocess.Popen

    def line(self, prefix: str) -> str:
        """The rest of the banner line that starts with `prefix`."""
        for line in self.banner:
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
        raise AssertionError(f"no banner line starts with {prefix!r}: {self.banner}")


def start(command: list[str], ready: str, env: dict[str, str], log: Path) -> Server:
    """Starts `command`, waits until its output has a line `<ready> http://127.0.0.1:PORT`, and
    keeps reading the banner until the output goes quiet."""
    if not Path(command[0]).is_file():
        pytest.fail(f"{command[0]} is missing: run `cargo build -p billing-local --example stripe_page` first")
    out = open(log, "w+")
    process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    pattern = re.compile(rf"^{re.escape(ready)} (http://127\.0\.0\.1:\d+)$", re.M)
    while time.monotonic() < deadline:
        text = log.read_text()
        found = pattern.search(text)
        if found:
            time.sleep(0.2)  # the rest of the banner is printed in the same write
            return Server(found.group(1), log.read_text().splitlines(), process)
        if process.poll() is not None:
            pytest.fail(f"{command[0]} exited:\n{log.read_text()}")
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"{command[0]} did not start:\n{log.read_text()}")


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


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
